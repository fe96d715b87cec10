"""Redis commands on one dedicated, pipelined connection: the rate-limit checks' path.

redis-py's client takes a connection from its pool for every command, wraps each send in a
timeout task of its own, and runs its retry and observability hooks around the round trip:
about 120 µs of CPU per rate-limit check, on every request. :class:`Pipe` sends each command
at once on one connection it keeps, and one reader task takes the replies in order and hands
each to its caller: commands from concurrent requests go out as they come and share the
connection (Redis answers in order), none waits for another's round trip, and a caller can
send first and wait later (:meth:`Pipe.send`). Connecting (AUTH, SELECT, TLS: whatever the URL
says), packing commands and parsing replies stay redis-py's (with hiredis).

Failures are redis-py's exceptions: a reply that is an error (``NOSCRIPT``, ``WRONGTYPE``)
fails that command alone; a broken or silent connection (no reply within ``timeout_s``) fails
every command waiting on it, and the next command opens a new connection (its handshake
bounded by ``timeout_s`` too). A caller that is cancelled leaves its reply to the reader, so the
replies of the others stay in step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Arg = str | int | bytes


class _Link:
    """One connection, its commands awaiting replies (in the order sent) and its reader."""

    def __init__(self, conn: AbstractConnection) -> None:
        self.conn = conn
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.broken: BaseException | None = None
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        conn = self.conn
        try:
            while True:
                try:
                    reply: Any = await conn.read_response(
                        timeout=math.inf, disconnect_on_error=False
                    )
                except ResponseError as exc:  # an error reply: that command's, the link is fine
                    reply = exc
                if not self.waiting:
                    raise RedisConnectionError("Redis sent a reply no command asked for")
                waiter = self.waiting.popleft()
                if waiter.done():  # its caller gave up (cancelled): the reply is dropped
                    continue
                if isinstance(reply, ResponseError):
                    waiter.set_exception(reply)
                else:
                    waiter.set_result(reply)
        except asyncio.CancelledError:  # closed, or failed by a caller (see fail)
            self.fail(RedisConnectionError("Redis connection closed"))
        except Exception as exc:
            self.fail(exc)
        with contextlib.suppress(Exception):
            await conn.disconnect(nowait=True)

    def fail(self, exc: BaseException) -> None:
        """The connection is unusable: every waiting command fails, the reader closes it."""
        if self.broken is None:
            self.broken = exc
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.broken)
        if not self.reader.done() and asyncio.current_task() is not self.reader:
            self.reader.cancel()

    async def close(self) -> None:
        self.fail(RedisConnectionError("Redis connection closed"))
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class Pipe:
    """Commands on one pipelined connection made like ``redis``'s own (same URL, options)."""

    def __init__(self, redis: Redis, timeout_s: float | None = None) -> None:
        pool = redis.connection_pool
        kwargs = dict(pool.connection_kwargs)
        self.timeout_s = timeout_s if timeout_s is not None else kwargs.get("socket_timeout")
        # The pipe's reads wait as long as the connection is idle, and its sends never block
        # (the reply's wait is bounded by ``timeout_s``); the reader notices a dead connection
        # at once, so no health-check PING either.
        kwargs.update(socket_timeout=None, health_check_interval=0)
        self._new: Any = lambda: pool.connection_class(**kwargs)
        self._link: _Link | None = None
        self._connecting: asyncio.Task[_Link] | None = None

    async def _connected(self) -> _Link:
        link = self._link
        if link is not None and link.broken is None:
            return link
        if self._connecting is None:  # one connect for all the callers who need it now
            self._connecting = asyncio.get_running_loop().create_task(self._connect())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self) -> _Link:
        old, self._link = self._link, None
        if old is not None:
            await old.close()
        conn = self._new()
        try:
            # the handshake (CLIENT SETINFO, AUTH, SELECT) waits for replies too, and this
            # connection has no socket timeout: a Redis that accepts and never answers (paused,
            # frozen) would hold every caller here
            async with asyncio.timeout(self.timeout_s):
                await conn.connect()
        except TimeoutError:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)
            raise RedisTimeoutError(f"no reply from Redis within {self.timeout_s} s") from None
        self._link = _Link(conn)
        return self._link

    async def send(self, *args: Arg) -> Awaitable[Any]:
        """Send one command now; the returned awaitable is its reply (or raises its error)."""
        link, waiter = await self._write(args)
        return self._reply(link, waiter)

    async def post(self, *args: Arg) -> asyncio.Future[Any]:
        """Send one command now and return its reply's future, for a caller that may never
        look at it: no timeout of its own (a silent connection is failed by the callers who
        wait), and an error nobody retrieves is not reported as unretrieved."""
        _, waiter = await self._write(args)
        waiter.add_done_callback(_retrieved)
        return waiter

    async def _write(self, args: Sequence[Arg]) -> tuple[_Link, asyncio.Future[Any]]:
        link = await self._connected()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        link.waiting.append(waiter)  # before the write: the reader may see the reply next
        try:
            # connected, no health check, no socket timeout: redis-py writes at once and
            # waits only if the socket's buffer is full
            await link.conn.send_packed_command(link.conn.pack_command(*args), check_health=False)
        except BaseException as exc:
            link.fail(exc if isinstance(exc, Exception) else RedisConnectionError(str(exc)))
            raise
        return link, waiter

    async def _reply(self, link: _Link, waiter: asyncio.Future[Any]) -> Any:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await waiter
        except TimeoutError:
            # Redis did not answer in time: the connection is not trusted again
            exc = RedisTimeoutError(f"no reply from Redis within {self.timeout_s} s")
            link.fail(exc)
            raise exc from None

    async def call(self, *args: Arg) -> Any:
        return await (await self.send(*args))

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(BaseException):
                await self._connecting
            self._connecting = None
        if self._link is not None:
            await self._link.close()
            self._link = None


class Script:
    """A Lua script run by its SHA1 (``EVALSHA``), loaded by ``EVAL`` when Redis lacks it."""

    def __init__(self, pipe: Pipe, source: str) -> None:
        self.pipe = pipe
        self.source = source
        # the name Redis gives the script (not a security use of SHA1)
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def send(self, keys: Sequence[Arg], args: Sequence[Arg]) -> Awaitable[Any]:
        """Send the script now; the returned awaitable is its result."""
        sent = await self.pipe.send("EVALSHA", self.sha, len(keys), *keys, *args)
        return self._result(sent, keys, args)

    async def _result(self, sent: Awaitable[Any], keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        try:
            return await sent
        except NoScriptError:  # a restarted or flushed Redis: EVAL loads it again
            return await self.pipe.call("EVAL", self.source, len(keys), *keys, *args)

    async def post(self, keys: Sequence[Arg], args: Sequence[Arg]) -> asyncio.Future[Any]:
        """:meth:`Pipe.post` for the script: sent with its source (``EVAL``), so a Redis that
        forgot it cannot fail a command nobody may look at."""
        return await self.pipe.post("EVAL", self.source, len(keys), *keys, *args)

    async def __call__(self, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        return await (await self.send(keys, args))


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


__all__ = ["Pipe", "Script"]
