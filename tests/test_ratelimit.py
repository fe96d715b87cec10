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


async def _entries(client: Redis, key: str) -> list[tuple[bytes, float]]:
    return await client.zrange(f"ig:rate:{key}", 0, -1, withscores=True)  # type: ignore[no-any-return]


async def test_counted_ahead_two_processes_still_admit_exactly_the_limit(
    redis_url: str,
) -> None:
    client = Redis.from_url(REDIS_URL)
    one, two = RedisLimiter(client), RedisLimiter(Redis.from_url(REDIS_URL))
    key = f"t{secrets.token_hex(4)}"
    try:
        allowed = 0
        for _ in range(60):  # one after the other: each process's next request counted ahead
            for limiter in (one, two):
                allowed += (await limiter.hit(key, 40, window_s=30)).allowed
                await asyncio.sleep(0.001)
        assert allowed == 40
        assert len(await _entries(client, key)) == 40  # nothing left counted ahead
        # all at once, from both: never more than the limit, and at most one ahead each
        other = f"t{secrets.token_hex(4)}"
        results = await asyncio.gather(
            *(limiter.hit(other, 40, window_s=30) for _ in range(50) for limiter in (one, two))
        )
        counted = len(await _entries(client, other))
        assert sum(r.allowed for r in results) <= counted <= 40
        assert sum(r.allowed for r in results) >= 38
    finally:
        await one.close()
        await two.close()
        await client.aclose()


async def test_a_request_admitted_ahead_is_stamped_with_the_time_it_was_used(
    redis_url: str,
) -> None:
    client = Redis.from_url(REDIS_URL)
    limiter = RedisLimiter(client)
    key = f"t{secrets.token_hex(4)}"
    try:
        assert (await limiter.hit(key, 1000)).allowed  # counts the next one ahead
        await asyncio.sleep(0.3)
        assert (await limiter.hit(key, 1000)).allowed  # admitted on the one counted ahead
        await asyncio.sleep(0.05)  # its stamp travels with the next count ahead
        scores = sorted(score for _, score in await _entries(client, key))
        assert len(scores) == 3  # the first, the one used (stamped), the next counted ahead
        assert scores[1] - scores[0] >= 250  # ms: stamped when used, not when counted
    finally:
        await limiter.close()
        await client.aclose()


async def test_a_request_counted_ahead_and_not_used_is_given_back(redis_url: str) -> None:
    client = Redis.from_url(REDIS_URL)
    limiter = RedisLimiter(client)
    key, near = f"t{secrets.token_hex(4)}", f"t{secrets.token_hex(4)}"
    try:
        assert (await limiter.hit(key, 1000)).allowed
        await asyncio.sleep(0.05)
        assert len(await _entries(client, key)) == 2  # the request and the next, ahead
        await asyncio.sleep(1.1)  # past SPARE_S: too old to admit anyone
        assert (await limiter.hit(key, 1000)).allowed
        await asyncio.sleep(0.05)
        assert len(await _entries(client, key)) == 3  # old one given back, a new one ahead
        assert (await limiter.hit(near, 8)).allowed  # 7 left: too near its limit to count ahead
        await asyncio.sleep(0.05)
        assert len(await _entries(client, near)) == 1
    finally:
        await limiter.close()
        await client.aclose()
