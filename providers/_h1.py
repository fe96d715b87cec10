"""The gateway's upstream transport: pooled HTTP/1.1 on asyncio protocols, parsed by httptools.

An ``httpx.AsyncBaseTransport``: the adapters keep httpx's API and exceptions, and every call
to a provider goes through this module. It exists because the client library's own work was
the largest single item of the gateway's CPU per request (py-spy, tiny images, one worker):
aiohttp's request machinery under httpx's API was ~20% of the gateway's samples, httpcore
more before it (bench/RESULTS.md has the measurements of each). This transport does what a
gateway needs and nothing else: write the request's bytes, parse the answer with httptools
(llhttp, the C parser uvicorn uses), hand the body over in the buffers that arrived, and keep
the connection for the next call.

What it does:

* a pool per (scheme, host, port), newest idle connection first, idle ones dropped after
  ``keepalive_s``; at most ``limit`` connections in all (waiting for one is bounded by the
  ``pool`` timeout: ``httpx.PoolTimeout``);
* TLS with the given context (httpx's trust store by default), SNI from the URL's host;
* ``connect``, ``read`` (each wait for more of the answer), ``write`` (each wait for the
  socket to take more of a streamed body) and ``pool`` timeouts from the request, as httpx
  spells them;
* bodies with ``Content-Length``, chunked and read-until-close answers, ``1xx`` answers
  skipped; a request body given as a stream is written part by part (chunked when httpx
  chose chunked);
* reading from the provider pauses while more than ``_HIGH_WATER`` bytes wait for the
  consumer (a slow client downstream never makes the gateway buffer a whole stream);
* failures raised as the httpx exceptions httpcore raises for the same event: a connection
  closed before the answer or mid-body is ``RemoteProtocolError``, a reset ``ReadError``
  (while writing too: the transport learns of it when the socket is gone), a malformed
  answer ``RemoteProtocolError``, so fallback and error messages do not depend on the
  transport.

What it leaves to httpx's own transport: ``HEAD`` and ``CONNECT`` (their answers have no body
whatever the headers say), and any scheme but http and https. Proxies are httpx's proxy
transports, mounted on the client (``providers._lean.environment_proxies``). HTTP/2 is not
spoken.

A connection is reused only when its answer arrived to the end (what the consumer left
unread is dropped), the provider did not ask to close it, nothing arrived after the answer
and the request body was all sent; a request is never retried on another connection (the
calls are POSTs: a retry could bill twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator
from itertools import chain
from typing import Any

import httptools
import httpx

_HIGH_WATER = 1 << 20  # pause reading from a provider with this much waiting for the consumer
_LOW_WATER = 1 << 18  # and resume under this
_LARGE_BODY = 1 << 16  # a request body this large is written apart from its head (no copy)
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_FRAMING = (b"content-length", b"transfer-encoding")

Key = tuple[bytes, str, int]


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self, pool: _Pool, key: Key) -> None:
        self.pool = pool
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost: BaseException | None = None  # the socket error that ended the connection
        self.counted = True  # holds one of the pool's ``limit`` slots
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        self.parser: httptools.HttpResponseParser | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.framed = False  # Content-Length or Transfer-Encoding seen
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.until_close = False
        self.extra = False  # bytes after the answer: the connection cannot be trusted again
        self.error: Exception | None = None  # a malformed answer
        self.chunks: deque[bytes] = deque()
        self.buffered = 0

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # nothing was asked on this connection
            self.extra = True
            self._close_transport()
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.complete:
                self.error = httpx.RemoteProtocolError(f"malformed HTTP answer: {exc}")
            self.extra = True
            self._close_transport()
        self._wake()

    def eof_received(self) -> bool | None:
        return None  # close our side too: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        if exc is None and self.until_close and self.headers_done:
            self.complete = True  # a body without length ends with the connection
        self.pool.forget(self)
        self._wake()
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    # httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True

    def on_status(self, status: bytes) -> None:
        if not self.complete:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.complete:
            self.headers.append((name, value))
            if len(name) in (14, 17) and name.lower() in _FRAMING:
                self.framed = True

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        assert self.parser is not None
        self.status = self.parser.get_status_code()
        if self.status < 200:  # an interim answer (100 Continue, 103 Early Hints): skipped
            return
        self.keep_alive = self.parser.should_keep_alive()
        if not self.framed and self.status not in (204, 304):  # the body ends with the connection
            self.until_close = True
            self.keep_alive = False
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.status < 200:
            self.status, self.reason, self.headers, self.framed = 0, b"", [], False
            return
        self.complete = True

    # used by the transport ----------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _close_transport(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def wait(self, limit_s: float | None, request: httpx.Request) -> None:
        """Until more of the answer arrives or the connection ends; ``httpx.ReadTimeout``
        after ``limit_s``."""
        self._waiter = self.loop.create_future()
        try:
            await self._within(self._waiter, limit_s)
        except TimeoutError:
            raise httpx.ReadTimeout("the provider sent nothing in time", request=request) from None
        finally:
            self._waiter = None

    async def drain(self, limit_s: float | None, request: httpx.Request) -> None:
        """Until the socket takes more of the request or the connection ends;
        ``httpx.WriteTimeout`` after ``limit_s``."""
        if not self._write_paused or self.closed:
            return
        self._drain = self.loop.create_future()
        try:
            await self._within(self._drain, limit_s)
        except TimeoutError:
            message = "the provider did not take the request body in time"
            raise httpx.WriteTimeout(message, request=request) from None
        finally:
            self._drain = None

    async def _within(self, waiter: asyncio.Future[None], limit_s: float | None) -> None:
        """``await waiter``, TimeoutError after ``limit_s`` (a timer handle rather than
        ``asyncio.timeout``: no task bookkeeping on the hot path)."""
        timer = None if limit_s is None else self.loop.call_later(limit_s, _expire, waiter)
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()

    def take(self) -> bytes:
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self._read_paused and self.buffered <= _LOW_WATER and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        return chunk

    def drop_unread(self) -> None:
        """Forget what the consumer left unread of a complete answer (it would stay in
        memory while the connection waits in the pool)."""
        self.chunks.clear()
        self.buffered = 0
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()

    def begin(self) -> None:
        """A new request on this connection."""
        self._reset()
        self.parser = httptools.HttpResponseParser(self)

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.extra and not self.closed


class _Pool:
    def __init__(self, limit: int, keepalive_s: float, ssl_context: ssl.SSLContext) -> None:
        self.limit = limit
        self.keepalive_s = keepalive_s
        self.ssl_context = ssl_context
        self.idle: dict[Key, list[_Connection]] = {}
        self.count = 0  # connections open or opening
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    async def acquire(
        self, key: Key, connect_timeout: float | None, pool_timeout: float | None
    ) -> _Connection:
        while True:
            conn = self._idle_connection(key)
            if conn is not None:
                return conn
            if not self.limit or self.count < self.limit or self._close_oldest_idle():
                break
            await self._wait_for_slot(pool_timeout)
        self.count += 1
        try:
            return await self._connect(key, connect_timeout)
        except BaseException:
            self.count -= 1
            self._wake_one()
            raise

    def _idle_connection(self, key: Key) -> _Connection | None:
        idle = self.idle.get(key)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if now - conn.idle_since <= self.keepalive_s and not conn.closed:
                return conn
            self.close(conn)
        return None

    def _close_oldest_idle(self) -> bool:
        oldest: _Connection | None = None
        for conns in self.idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        self.close(oldest)
        return True

    async def _wait_for_slot(self, limit_s: float | None) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            async with asyncio.timeout(limit_s):
                await waiter
        except TimeoutError:
            raise httpx.PoolTimeout("no connection to the provider was free in time") from None
        finally:
            with contextlib.suppress(ValueError):
                self._slot_waiters.remove(waiter)

    def _wake_one(self) -> None:
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _connect(self, key: Key, limit_s: float | None) -> _Connection:
        scheme, host, port = key
        tls = self.ssl_context if scheme == b"https" else None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(limit_s):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, key),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake (ssl.SSLError)
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return conn

    def release(self, conn: _Connection) -> None:
        if not conn.reusable:
            self.close(conn)
            return
        conn.parser = None
        conn.drop_unread()
        conn.idle_since = time.monotonic()
        self.idle.setdefault(conn.key, []).append(conn)
        if self._sweep is None:
            self._sweep = conn.loop.call_later(self.keepalive_s + 0.5, self._close_expired)
        self._wake_one()

    def _close_expired(self) -> None:
        """Idle connections past their keep-alive are closed even when no call comes (the
        socket and its buffers go); the sweep runs while any connection is idle."""
        self._sweep = None
        now = time.monotonic()
        for conns in list(self.idle.values()):
            for conn in [c for c in conns if now - c.idle_since > self.keepalive_s]:
                self.close(conn)
        if any(self.idle.values()):
            loop = asyncio.get_running_loop()
            self._sweep = loop.call_later(self.keepalive_s + 0.5, self._close_expired)

    def close(self, conn: _Connection) -> None:
        conn._close_transport()
        self.forget(conn)

    def forget(self, conn: _Connection) -> None:
        """The connection is gone (or going): out of the idle list, its slot free."""
        conn.closed = True
        idle = self.idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)
        if conn.counted:
            conn.counted = False
            self.count -= 1
            self._wake_one()

    def close_all(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conns in list(self.idle.values()):
            for conn in list(conns):
                self.close(conn)
        self.idle.clear()


class _Body(httpx.AsyncByteStream):
    """The answer's body, in the buffers that arrived; the connection goes back to the pool
    (or is closed) when the response is closed."""

    def __init__(
        self, pool: _Pool, conn: _Connection, request: httpx.Request, timeout: float | None
    ) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            raise httpx.StreamClosed()
        while True:
            if conn.chunks:
                yield conn.take()
                continue
            if conn.complete:
                return
            if conn.closed or conn.error is not None:
                raise _ended(conn, self._request, mid_body=True)
            await conn.wait(self._timeout, self._request)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.release(conn)


def _ended(conn: _Connection, request: httpx.Request, *, mid_body: bool) -> httpx.HTTPError:
    """The exception httpcore raises when a connection ends where this one did."""
    if conn.error is not None:
        return httpx.RemoteProtocolError(str(conn.error), request=request)
    if conn.lost is not None:
        return httpx.ReadError(str(conn.lost) or type(conn.lost).__name__, request=request)
    if mid_body:
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=request
        )
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a response.", request=request
    )


def prebuilt_headers(
    entries: list[tuple[bytes, bytes, bytes]], encoding: str | None
) -> httpx.Headers:
    """An ``httpx.Headers`` holding ``entries`` (raw name, lower-cased name, value), already
    normalized as ``httpx.Headers`` normalizes them: what its constructor would build, without
    normalizing each name and value again. Held to httpx's own construction by the tests."""
    built = httpx.Headers.__new__(httpx.Headers)
    built._list = entries
    built._encoding = encoding
    return built


def _head(request: httpx.Request) -> bytes:
    url = request.url
    parts = [request.method.encode("ascii"), b" ", url.raw_path, b" HTTP/1.1\r\n"]
    for name, value in request.headers.raw:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class H1Transport(httpx.AsyncBaseTransport):
    """Pooled HTTP/1.1; ``limit`` connections in all (0: unlimited), idle ones kept
    ``keepalive_s`` (httpx's default, 5 s)."""

    def __init__(
        self,
        *,
        limit: int = 512,
        keepalive_s: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        context = ssl_context or httpx.create_ssl_context()  # httpx's trust store (certifi)
        self._pool = _Pool(limit, keepalive_s, context)
        self._ssl_context = context
        self._other: httpx.AsyncHTTPTransport | None = None

    def _fallback(self) -> httpx.AsyncHTTPTransport:
        if self._other is None:
            self._other = httpx.AsyncHTTPTransport(verify=self._ssl_context)
        return self._other

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        port = url.port or _DEFAULT_PORTS.get(scheme)
        if port is None or request.method in ("HEAD", "CONNECT"):
            return await self._fallback().handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        pool = self._pool
        try:
            conn = await pool.acquire(
                (scheme, url.host, port), timeouts.get("connect"), timeouts.get("pool")
            )
        except httpx.RequestError as exc:
            exc.request = request
            raise
        try:
            conn.begin()
            await self._send(conn, request, timeouts.get("write"))
            while not conn.headers_done:
                if conn.closed or conn.error is not None:
                    raise _ended(conn, request, mid_body=False)
                await conn.wait(read_timeout, request)
        except BaseException:
            pool.close(conn)
            raise
        response = httpx.Response(
            status_code=conn.status,
            headers=prebuilt_headers([(k, k.lower(), v) for k, v in conn.headers], None),
            stream=_Body(pool, conn, request, read_timeout),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": conn.reason},
        )
        if b"".join(chain.from_iterable(conn.headers)).isascii():
            # what httpx would find by decoding every header in Python on the first lookup
            response.headers.encoding = "ascii"
        return response

    async def _send(self, conn: _Connection, request: httpx.Request, limit_s: float | None) -> None:
        transport = conn.transport
        if transport is None or conn.closed or transport.is_closing():
            raise _ended(conn, request, mid_body=False)
        head = _head(request)
        stream = request.stream
        if isinstance(stream, httpx.ByteStream):  # JSON or form: one buffer already
            body = request.content
            if len(body) < _LARGE_BODY:
                transport.write(head + body)
            else:
                transport.writelines((head, body))
            return
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        transport.write(head)
        async for part in _parts(stream):
            if conn.closed or conn.headers_done:  # answered (or gone) before the body was sent
                conn.extra = True  # the rest of the body is not sent: never reuse it
                return
            if not part:
                continue
            if chunked:
                transport.writelines((b"%x\r\n" % len(part), part, b"\r\n"))
            else:
                transport.write(part)
            await conn.drain(limit_s, request)
        if chunked and not conn.closed:
            transport.write(b"0\r\n\r\n")

    async def aclose(self) -> None:
        self._pool.close_all()
        if self._other is not None:
            await self._other.aclose()
        await asyncio.sleep(0)  # let the loop run the closed transports' callbacks


async def _parts(stream: Any) -> AsyncIterator[bytes]:
    if isinstance(stream, AsyncIterable):
        async for part in stream:
            yield part
    else:
        for part in stream:
            yield part
