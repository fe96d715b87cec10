"""Per-key request rate limits: a fixed one-minute window in Redis, or in process.

The in-process limiter serves the embedded default (one process, no Redis); with several
gateway processes, set ``IMAGEGATE_REDIS_URL`` so they share the counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window resets


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int) -> Decision: ...


def _window(now: float) -> tuple[int, int]:
    window = int(now // 60)
    return window, 60 - int(now % 60)


class RedisRateLimiter:
    """INCR + EXPIRE on ``ig:rl:<key>:<minute>``: atomic across processes."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock

    async def hit(self, key: str, limit: int) -> Decision:
        window, reset = _window(self._clock())
        name = f"ig:rl:{key}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expire(name, 120)
            count, _ = await pipe.execute()
        count = int(count)
        return Decision(count <= limit, limit, max(0, limit - count), reset)


@dataclass
class MemoryRateLimiter:
    """The same fixed window, in this process only."""

    clock: Callable[[], float] = time.time
    _counts: dict[str, tuple[int, int]] = field(default_factory=dict)

    async def hit(self, key: str, limit: int) -> Decision:
        window, reset = _window(self.clock())
        seen_window, count = self._counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[key] = (window, count)
        if len(self._counts) > 100_000:  # drop stale windows; bounded memory
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        return Decision(count <= limit, limit, max(0, limit - count), reset)
