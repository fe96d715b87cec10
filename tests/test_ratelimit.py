"""Sliding-window rates and concurrency leases, in Redis and in process, with the same rules."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.ratelimit import Limiter, MemoryLimiter, RedisLimiter, ResilientLimiter
from tests.conftest import REDIS_URL


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_window_slides_without_a_boundary_burst() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    # 5 per 60 s: five at t=59 s of a "minute", none again at t=61 s (a fixed window would
    # allow five more), all again only once the first five are 60 s old
    clock.now = 1059.0
    assert all([(await limiter.hit("k", 5)).allowed for _ in range(5)])
    clock.now = 1061.0
    refused = await limiter.hit("k", 5)
    assert not refused.allowed and refused.reset_s == 58
    clock.now = 1119.5
    assert (await limiter.hit("k", 5)).allowed
    assert (await limiter.hit("other", 5)).allowed


async def test_memory_slots_are_leases() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    assert await limiter.acquire("s", "a", 2, lease_s=10)
    assert await limiter.acquire("s", "b", 2, lease_s=10)
    assert not await limiter.acquire("s", "c", 2, lease_s=10)
    await limiter.release("s", "a")
    assert await limiter.acquire("s", "c", 2, lease_s=10)
    clock.now += 11  # leases of a crashed holder expire
    assert await limiter.acquire("s", "d", 2, lease_s=10)
    assert await limiter.acquire("s", "e", 2, lease_s=10)


@pytest.fixture
async def redis_limiter(redis_url: str) -> AsyncIterator[tuple[RedisLimiter, str]]:
    client = Redis.from_url(REDIS_URL)
    yield RedisLimiter(client), f"t{secrets.token_hex(4)}"
    await client.aclose()


async def test_redis_window_is_exact_and_says_when_to_retry(
    redis_limiter: tuple[RedisLimiter, str],
) -> None:
    limiter, key = redis_limiter
    results = await asyncio.gather(*(limiter.hit(key, 5, window_s=2) for _ in range(8)))
    assert sum(r.allowed for r in results) == 5  # atomic under concurrency
    refused = next(r for r in results if not r.allowed)
    assert 1 <= refused.reset_s <= 2
    await asyncio.sleep(2.1)
    assert (await limiter.hit(key, 5, window_s=2)).allowed


async def test_redis_slots_are_shared_and_expire(redis_limiter: tuple[RedisLimiter, str]) -> None:
    limiter, key = redis_limiter
    other = RedisLimiter(Redis.from_url(REDIS_URL))  # another process's client
    assert await limiter.acquire(key, "a", 1, lease_s=0.5)
    assert not await other.acquire(key, "b", 1, lease_s=0.5)
    assert await limiter.acquire(key, "a", 1, lease_s=0.5)  # re-entrant for its holder
    await limiter.release(key, "a")
    assert await other.acquire(key, "b", 1, lease_s=0.3)
    await asyncio.sleep(0.4)
    assert await limiter.acquire(key, "c", 1, lease_s=0.5)  # b's lease expired


async def test_without_redis_the_resilient_limiter_degrades_then_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter: Limiter = ResilientLimiter(RedisLimiter(dead), retry_s=0.1)
    assert isinstance(limiter, ResilientLimiter)
    started = time.monotonic()
    assert (await limiter.hit("k", 2)).allowed
    assert (await limiter.hit("k", 2)).allowed
    assert not (await limiter.hit("k", 2)).allowed  # the same semantics, in process
    assert limiter.degraded and time.monotonic() - started < 2
    assert sum("Redis unreachable" in r.message for r in caplog.records) == 1  # logged once
    await dead.aclose()
