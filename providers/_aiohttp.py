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
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import httpx
import orjson

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


class LeanClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` with a short path for the adapters' common call: ``stream`` with
    a JSON body or none, to a URL given as text.

    httpx's own ``stream`` re-parses the URL, merges cookies and runs its auth, redirect and
    hook machinery on every call: ~40% of the client's CPU per request on the gateway's
    profile, for features the gateway's shared client never uses (no cookies are kept, no
    auth, redirects are not followed, no hooks). This path builds the same request (the
    client's headers, then the call's; compact UTF-8 JSON; the call's timeout) from a cached
    parsed URL and hands it to the transport mounted for that URL, proxies included.
    Anything else (form data, files, params, cookies, auth, event hooks...) takes httpx's path.
    """

    _MAX_URLS = 512

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._urls: dict[str, httpx.URL] = {}

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= self._MAX_URLS:  # polling URLs are unique: stay bounded
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    @asynccontextmanager
    async def stream(  # type: ignore[override]
        self,
        method: str,
        url: httpx.URL | str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | Any = httpx.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (httpx API)
        **kwargs: Any,
    ) -> AsyncIterator[httpx.Response]:
        lean = (
            isinstance(url, str)
            and isinstance(timeout, httpx.Timeout | httpx._client.UseClientDefault)
            and self._base_url == _NO_BASE
            and not self.cookies
            and self.auth is None
            and not any(self.event_hooks.values())
            and not any(value is not None for value in kwargs.values())
        )
        if not lean:
            async with super().stream(
                method, url, json=json, headers=headers, timeout=timeout, **kwargs
            ) as response:
                yield response
            return
        assert isinstance(url, str)
        merged = self.headers.copy()
        if headers:
            merged.update(headers)
        content = None
        if json is not None:
            content = orjson.dumps(json)  # as httpx writes it: compact, UTF-8
            if "content-type" not in merged:
                merged["Content-Type"] = "application/json"
        if not isinstance(timeout, httpx.Timeout):
            timeout = self.timeout
        request = httpx.Request(
            method,
            self._url(url),
            headers=merged,
            content=content,
            extensions={"timeout": timeout.as_dict()},
        )
        transport = self._transport_for_url(request.url)
        response = await transport.handle_async_request(request)
        response.request = request
        response.default_encoding = self._default_encoding
        try:
            yield response
        finally:
            await response.aclose()


_NO_BASE = httpx.URL("")
