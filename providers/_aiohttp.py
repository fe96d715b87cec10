"""An httpx transport on aiohttp's connection pool: the adapters keep httpx's API, the gateway
stops paying httpcore's per-request cost.

Measured on the benchmark machine against the fixed-payload simulator (bench/RESULTS.md), CPU
per request of the client alone: httpx 0.28 with its own transport 830 µs at concurrency 1 and
1,660 µs at 16 (httpcore polls every pooled connection on each request), httpx2 500-540 µs,
httpx over the ``httpx-aiohttp`` transport 280-380 µs, plain aiohttp 120-145 µs. This module
is the httpx-over-aiohttp route with two things ``httpx-aiohttp`` gets wrong for a gateway:
failures are mapped to the same httpx exceptions httpcore raises (a connection dropped
mid-body is a ``RemoteProtocolError``, not a ``ConnectTimeout``), so fallback and error
messages are unchanged; and the body is relayed in the buffers that arrived instead of 16 KB
slices (a 4 MB image is a few dozen iterations rather than 256, and never re-joined).

What is not carried over: httpx's ``write`` timeout (aiohttp has none; uploads are bounded by
the read timeout once sent). Proxies from the environment are still honoured, by the proxy
transports httpx mounts itself.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

_SKIP_AUTO_HEADERS = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


@contextmanager
def _mapped(request: httpx.Request, reading: bool) -> Iterator[None]:
    """aiohttp failures as the httpx exceptions httpcore would raise for the same event."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
    except aiohttp.SocketTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except aiohttp.ClientResponseError as exc:  # a malformed response line or header
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except aiohttp.ClientOSError as exc:  # reset, broken pipe
        error = httpx.ReadError if reading else httpx.WriteError
        raise error(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.NetworkError(str(exc), request=request) from exc
    except TimeoutError as exc:
        raise httpx.ReadTimeout("timed out", request=request) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped(self._request, reading=True):
            # iter_chunks hands over each buffer as it arrived; iter_any would join what is
            # buffered first (a copy of megabytes when the reader falls behind).
            async for chunk, _ in self._response.content.iter_chunks():
                if chunk:
                    yield chunk

    async def aclose(self) -> None:
        # Unread data left on the connection: close it rather than hand it back to the pool.
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


async def _parts(stream: httpx.AsyncByteStream | httpx.SyncByteStream) -> AsyncIterator[bytes]:
    if isinstance(stream, httpx.AsyncByteStream):
        async for part in stream:
            yield part
    else:
        for part in stream:
            yield part


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Pooled HTTP/1.1 over aiohttp; ``limit`` connections in all (0: unlimited), idle ones
    kept ``keepalive_s`` (httpx's default, 5 s)."""

    def __init__(self, *, limit: int = 512, keepalive_s: float = 5.0) -> None:
        self._limit = limit
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None
        self._ssl: ssl.SSLContext = httpx.create_ssl_context()  # httpx's trust store (certifi)
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created in the running loop, on first use
            connector = aiohttp.TCPConnector(
                limit=self._limit, keepalive_timeout=self._keepalive_s, ssl=self._ssl
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes, as with its own transport
                skip_auto_headers=_SKIP_AUTO_HEADERS,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        spec = request.extensions.get("timeout", {})
        key = (spec.get("connect"), spec.get("read"), spec.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            # aiohttp's ``connect`` covers waiting for a pooled connection and connecting.
            total_connect = (
                None if connect is None and pool is None else (connect or 0) + (pool or 0)
            )
            timeout = aiohttp.ClientTimeout(
                total=None, connect=total_connect, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body: bytes | AsyncIterator[bytes] | None
        if isinstance(request.stream, httpx.ByteStream):  # JSON or form: already one buffer
            body = await request.aread() or None
        else:  # multipart with reference images: sent part by part (Content-Length is set),
            body = _parts(request.stream)  # never joined into one copy of all the images
        with _mapped(request, reading=False):
            response = await self._client().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body,
                allow_redirects=False,
                compress=False,
                timeout=self._timeout(request),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            await asyncio.sleep(0)  # let aiohttp close its transports
