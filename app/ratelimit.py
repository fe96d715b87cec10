"""Load limits shared by every gateway process: request rates and concurrency slots.

* **Rates** are a sliding window log: a request is allowed when fewer than ``limit`` requests
  were allowed in the last ``window_s`` seconds, at any moment (no fixed-window burst at minute
  boundaries). A refusal says when the oldest counted request leaves the window
  (``Retry-After``).
* **Concurrency slots** are leases: a holder takes one of ``limit`` slots until it releases it
  or the lease expires (so a crashed process cannot keep a slot forever).

With Redis both live in sorted sets updated by Lua scripts (atomic across processes, with the
server's clock). Without Redis, :class:`MemoryLimiter` keeps the same semantics in this
process. :class:`ResilientLimiter` uses Redis and, while Redis is unreachable, the in-process
limiter (logged once as degraded), returning to Redis by itself as soon as it answers again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.redispipe import Arg, Pipe, Script

log = logging.getLogger("imagegate.limits")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until a refused caller may try again (0 when allowed)


class Limiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        """Count one request against ``limit`` per sliding ``window_s``."""
        ...

    async def begin_hit(self, key: str, limit: int, window_s: float = 60.0) -> Awaitable[Decision]:
        """:meth:`hit`, in two steps: the check is on its way to Redis when this returns, and
        the returned awaitable is its decision, so the caller can work meanwhile."""
        ...

    async def acquire(self, name: str, token: str, limit: int, lease_s: float) -> bool:
        """Take one of ``limit`` slots of ``name`` for ``token`` (False: all taken)."""
        ...

    async def release(self, name: str, token: str) -> None: ...


RateLimiter = Limiter  # the name the rest of the code base knew


# ARGV: limit, window (ms), a unique token, a counted entry to stamp with the time now ('' if
# none), a counted entry to give back ('' if none), and 'hit' (count one request) or 'stamp'.
# Returns {allowed, count, ms until a refused caller may retry, the new entry's member}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[1])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[1], 'XX', now, ARGV[4]) end
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[1], ARGV[5]) end
if ARGV[6] == 'stamp' then return {1, 0, 0, ''} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  local member = now .. '-' .. ARGV[3]
  redis.call('ZADD', KEYS[1], now, member)
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, count + 1, 0, member}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, count, tonumber(oldest[2]) + window - now, ''}
"""

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
  return 1
end
return 0
"""


@dataclass(slots=True)
class _Spare:
    """A request counted ahead for a key (see :class:`RedisLimiter`)."""

    reply: asyncio.Future[Any]
    made: float  # monotonic
    limit: int
    window_ms: int

    def admitted(self, limit: int, window_ms: int, now: float) -> tuple[str, int] | None:
        """(its entry, the count after it) when it can admit a request now, else None."""
        if (limit, window_ms) != (self.limit, self.window_ms) or now - self.made > SPARE_S:
            return None
        return self.counted()

    def counted(self) -> tuple[str, int] | None:
        """(its entry, the count after it) once Redis counted it, else None."""
        reply = self.reply
        if not reply.done() or reply.cancelled() or reply.exception() is not None:
            return None
        allowed, count, _, member = reply.result()
        return (_text(member), int(count)) if allowed else None


SPARE_S = 1.0  # a request counted ahead and not used within this is given back


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLimiter:
    """Sliding windows and leases in Redis sorted sets (``ig:rate:*``, ``ig:slots:*``).

    The checks run on the limiter's own pipelined connection (:mod:`app.redispipe`), made from
    ``redis``'s URL and options: a rate check costs about a third of redis-py's CPU that way.

    **Counted ahead.** A key far below its limit (at least an eighth of it, and 8, left) has
    its next request counted in Redis as soon as one is admitted: the next request is then
    admitted at once, with no round trip on its path, and the same script call that counts
    the following one stamps the used entry with the time it was used. Every admitted request
    is thus in the window from the moment it is admitted (counted earlier, never later), and
    ends up with its own time: the window holds exactly the admitted requests, plus, for at
    most a second, one counted ahead per key and process. One not used within ``SPARE_S`` is
    given back by the next check; near the limit nothing is counted ahead, so the last requests
    a window allows are counted one by one, as before.
    """

    def __init__(self, redis: Redis, timeout_s: float | None = None) -> None:
        self._pipe = Pipe(redis, timeout_s)
        self._hit = Script(self._pipe, _HIT)
        self._acquire = Script(self._pipe, _ACQUIRE)
        self._spares: dict[str, _Spare] = {}

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        return await (await self.begin_hit(key, limit, window_s))

    async def begin_hit(self, key: str, limit: int, window_s: float = 60.0) -> Awaitable[Decision]:
        window_ms = int(window_s * 1000)
        now = time.monotonic()
        drop = ""
        spare = self._spares.pop(key, None)
        if spare is not None:
            admitted = spare.admitted(limit, window_ms, now)
            if admitted is not None:
                member, count = admitted
                await self._ahead(key, limit, window_ms, count, stamp=member)
                return _ready(Decision(True, limit, max(0, limit - count), 0))
            if not spare.reply.done():  # still on its way: kept for a later request
                self._spares[key] = spare
            else:  # stale, or for another limit: given back by this check
                counted = spare.counted()
                drop = counted[0] if counted is not None else ""
        rate_key = f"ig:rate:{key}"
        sent = await self._hit.send(
            [rate_key], [limit, window_ms, secrets.token_hex(4), "", drop, "hit"]
        )
        return self._decision(sent, key, limit, window_ms)

    async def _decision(
        self, sent: Awaitable[Any], key: str, limit: int, window_ms: int
    ) -> Decision:
        allowed, count, wait_ms, _ = await sent
        if allowed and key not in self._spares:
            await self._ahead(key, limit, window_ms, int(count))
        reset = 0 if allowed else max(1, -(-int(wait_ms) // 1000))
        return Decision(bool(allowed), limit, max(0, limit - int(count)), reset)

    async def _ahead(
        self, key: str, limit: int, window_ms: int, count: int, stamp: str = ""
    ) -> None:
        """Count the key's next request ahead when it is far below its limit, stamping
        ``stamp`` (an entry counted ahead that was just used) with the time now either way."""
        far = limit - count >= max(8, limit // 8)
        if not far and not stamp:
            return
        args: list[Arg] = [
            limit,
            window_ms,
            secrets.token_hex(4),
            stamp,
            "",
            "hit" if far else "stamp",
        ]
        try:
            reply = await self._hit.post([f"ig:rate:{key}"], args)
        except (RedisError, OSError):  # the next check will meet the failure and report it
            return
        if far:
            self._spares[key] = _Spare(reply, time.monotonic(), limit, window_ms)

    async def acquire(self, name: str, token: str, limit: int, lease_s: float) -> bool:
        got = await self._acquire([f"ig:slots:{name}"], [limit, token, int(lease_s * 1000)])
        return bool(got)

    async def release(self, name: str, token: str) -> None:
        await self._pipe.call("ZREM", f"ig:slots:{name}", token)

    async def close(self) -> None:
        await self._pipe.close()


@dataclass
class MemoryLimiter:
    """The same semantics in this process only (the embedded default, or Redis down)."""

    clock: Callable[[], float] = time.monotonic
    _hits: dict[str, deque[float]] = field(default_factory=dict)
    _slots: dict[str, dict[str, float]] = field(default_factory=dict)

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        now = self.clock()
        times = self._hits.setdefault(key, deque())
        while times and times[0] <= now - window_s:
            times.popleft()
        if len(times) < limit:
            times.append(now)
            self._trim(now, window_s)
            return Decision(True, limit, limit - len(times), 0)
        wait = times[0] + window_s - now
        return Decision(False, limit, 0, max(1, int(-(-wait // 1))))

    async def begin_hit(self, key: str, limit: int, window_s: float = 60.0) -> Awaitable[Decision]:
        return _ready(await self.hit(key, limit, window_s))

    def _trim(self, now: float, window_s: float) -> None:
        if len(self._hits) > 100_000:  # bounded memory: forget keys idle for a window
            self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - window_s}

    async def acquire(self, name: str, token: str, limit: int, lease_s: float) -> bool:
        now = self.clock()
        slots = self._slots.setdefault(name, {})
        for held, expiry in list(slots.items()):
            if expiry <= now:
                del slots[held]
        if token in slots or len(slots) < limit:
            slots[token] = now + lease_s
            return True
        return False

    async def release(self, name: str, token: str) -> None:
        slots = self._slots.get(name)
        if slots is not None:
            slots.pop(token, None)
            if not slots:
                del self._slots[name]


class ResilientLimiter:
    """Redis first; the in-process limiter while Redis is unreachable.

    ``degraded`` is true from the first failure until Redis answers again; the switch is
    logged once each way. Redis is retried on every call after ``retry_s``, so the gateway
    is back on the shared limits within about a second of Redis returning.
    """

    def __init__(
        self, redis: RedisLimiter, fallback: MemoryLimiter | None = None, retry_s: float = 0.5
    ) -> None:
        self._redis = redis
        self._memory = fallback or MemoryLimiter()
        self._retry_s = retry_s
        self._down_since: float | None = None

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def _use_redis(self) -> bool:
        return self._down_since is None or time.monotonic() - self._down_since >= self._retry_s

    def _failed(self, exc: BaseException) -> None:
        if self._down_since is None:
            log.warning("Redis unreachable (%s): limits are kept in process until it is back", exc)
        self._down_since = time.monotonic()

    def _recovered(self) -> None:
        if self._down_since is not None:
            log.warning("Redis is back: limits are shared again")
        self._down_since = None

    async def hit(self, key: str, limit: int, window_s: float = 60.0) -> Decision:
        return await (await self.begin_hit(key, limit, window_s))

    async def begin_hit(self, key: str, limit: int, window_s: float = 60.0) -> Awaitable[Decision]:
        if self._use_redis():
            try:
                sent = await self._redis.begin_hit(key, limit, window_s)
            except (RedisError, OSError) as exc:
                self._failed(exc)
            else:
                return self._settle(sent, key, limit, window_s)
        return _ready(await self._memory.hit(key, limit, window_s))

    async def _settle(
        self, sent: Awaitable[Decision], key: str, limit: int, window_s: float
    ) -> Decision:
        try:
            decision = await sent
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._memory.hit(key, limit, window_s)
        self._recovered()
        return decision

    async def acquire(self, name: str, token: str, limit: int, lease_s: float) -> bool:
        if self._use_redis():
            try:
                got = await self._redis.acquire(name, token, limit, lease_s)
            except (RedisError, OSError) as exc:
                self._failed(exc)
            else:
                self._recovered()
                return got
        return await self._memory.acquire(name, token, limit, lease_s)

    async def release(self, name: str, token: str) -> None:
        await self._memory.release(name, token)
        try:
            await self._redis.release(name, token)
        except (RedisError, OSError) as exc:
            self._failed(exc)


async def _ready(decision: Decision) -> Decision:
    return decision


__all__ = [
    "Decision",
    "Limiter",
    "MemoryLimiter",
    "RateLimiter",
    "RedisLimiter",
    "ResilientLimiter",
]
