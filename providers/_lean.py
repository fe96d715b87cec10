"""The gateway's shared upstream client: httpx's API with a short path for the adapters' call.

The transport under it is :mod:`providers._h1` (the gateway's own HTTP/1.1 pool).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from httpx._utils import get_environment_proxies

from providers._h1 import prebuilt_headers


class LeanClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` with a short path for the adapters' common call: ``stream`` with
    a JSON body or none, to a URL given as text.

    httpx's own ``stream`` re-parses the URL, merges cookies and runs its auth, redirect and
    hook machinery on every call: ~40% of the client's CPU per request on the gateway's
    profile, for features the gateway's shared client never uses (no cookies are kept, no
    auth, redirects are not followed, no hooks). This path builds the same request (the
    client's headers, then the call's; compact UTF-8 JSON; the call's timeout) from a cached
    parsed URL and hands it to the transport mounted for that URL, proxies included.
    Form fields and files (the edits endpoints' multipart uploads) take it too, encoded by
    ``httpx.Request`` as httpx's path encodes them. Anything else (params, cookies, auth, event
    hooks...) takes httpx's path.

    The short path also keeps large uploads out of a reference cycle: httpx's own path binds
    the response and its stream to each other, so a response (and the request it holds, with
    every uploaded image) lives until the garbage collector's next full pass, which an idle
    gateway may not run for minutes; here the last reference goes when the call ends.
    """

    _MAX_URLS = 512

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._urls: dict[str, httpx.URL] = {}
        self._merged: dict[tuple[Any, ...], Any] = {}
        self._compared_base: httpx.URL | None = None
        self._base_is_empty = False

    def _no_base_url(self) -> bool:
        """Whether the client has no base URL (``URL.__eq__`` builds a URL per comparison:
        compared once per base URL the client is given)."""
        base = self._base_url
        if base is not self._compared_base:
            self._compared_base, self._base_is_empty = base, base == _NO_BASE
        return self._base_is_empty

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= self._MAX_URLS:  # polling URLs are unique: stay bounded
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        json: Any,
        extensions: dict[str, Any],
    ) -> httpx.Request | None:
        """The request httpx's ``build_request(method, url, headers=..., json=...)`` builds
        (the body compact UTF-8 JSON, as httpx writes it), assembled from the call's merged
        headers as httpx normalized them the first time (cached): the same headers, in the
        same order, without normalizing every name and value again on every call (about a
        sixth of the gateway's Python calls per request).
        None when the merged headers name what httpx's own assembly decides (Host, the
        body's length): httpx builds that request."""
        key = (tuple(self.headers.raw), tuple(headers.items()) if headers else ())
        merged = self._merged.get(key, _MISSING)
        if merged is _MISSING:
            if len(self._merged) >= self._MAX_URLS:
                self._merged.clear()
            merged = self._merged[key] = self._merge(headers)
        if merged is None:
            return None
        entries, encoding, typed = merged
        parsed = self._url(url)
        method = method.upper()
        host = (b"Host", b"host", parsed.netloc)
        if json is not None:
            content = orjson.dumps(json)  # as httpx writes it: compact, UTF-8
            # httpx's JSON body headers, each added unless the call named it
            listed = [host, *entries, (b"Content-Length", b"content-length", b"%d" % len(content))]
            if not typed:
                listed.append(_JSON_TYPE)
        else:
            content = b""
            listed = [host, *entries]
            if method in ("POST", "PUT", "PATCH"):
                listed.insert(1, (b"Content-Length", b"content-length", b"0"))
        request = httpx.Request.__new__(httpx.Request)
        request.method = method
        request.url = parsed
        request.headers = prebuilt_headers(listed, encoding)
        request.extensions = extensions
        request.stream = httpx.ByteStream(content)
        request._content = content
        return request

    def _merge(
        self, headers: Mapping[str, str] | None
    ) -> tuple[list[tuple[bytes, bytes, bytes]], str, bool] | None:
        """The client's headers updated with the call's, as httpx merges them: the normalized
        (name, lower-cased name, value) entries, their encoding and whether they name a
        content type; None when they name Host, Content-Length or Transfer-Encoding."""
        merged = self.headers.copy()
        if headers:
            merged.update(headers)
        if any(name in merged for name in ("host", "content-length", "transfer-encoding")):
            return None
        entries = [(name, name.lower(), value) for name, value in merged.raw]
        return entries, merged.encoding, "content-type" in merged

    @asynccontextmanager
    async def stream(  # type: ignore[override]
        self,
        method: str,
        url: httpx.URL | str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | Any = httpx.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (httpx API)
        **kwargs: Any,
    ) -> AsyncIterator[httpx.Response]:
        lean = (
            isinstance(url, str)
            and isinstance(timeout, httpx.Timeout | httpx._client.UseClientDefault)
            and self._no_base_url()
            and not self.cookies
            and self.auth is None
            and not any(self.event_hooks.values())
            and not any(value is not None for value in kwargs.values())
            and (json is None or (data is None and files is None))
        )
        if not lean:
            async with super().stream(
                method,
                url,
                json=json,
                data=data,
                files=files,
                headers=headers,
                timeout=timeout,
                **kwargs,
            ) as response:
                yield response
            return
        assert isinstance(url, str)
        if not isinstance(timeout, httpx.Timeout):
            timeout = self.timeout
        extensions = {"timeout": timeout.as_dict()}
        request = None
        if data is None and files is None and (headers is None or type(headers) is dict):
            request = self._request(method, url, headers, json, extensions)
        if request is None:
            merged = self.headers.copy()
            if headers:
                merged.update(headers)
            content = None
            if json is not None:
                content = orjson.dumps(json)  # as httpx writes it: compact, UTF-8
                if "content-type" not in merged:
                    merged["Content-Type"] = "application/json"
            request = httpx.Request(
                method,
                self._url(url),
                headers=merged,
                content=content,
                data=data,
                files=files,
                extensions=extensions,
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
_MISSING = object()
_JSON_TYPE = (b"Content-Type", b"content-type", b"application/json")


def environment_proxies() -> dict[str, httpx.AsyncBaseTransport | None]:
    """``mounts`` for the proxies the environment names (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, ``NO_PROXY``), read as httpx reads them. httpx honours them by itself only
    when it builds its own transport; a client given a transport (the gateway's) needs them
    mounted. A ``NO_PROXY`` pattern maps to None: the client's own transport."""
    return {
        pattern: None if url is None else httpx.AsyncHTTPTransport(proxy=url)
        for pattern, url in get_environment_proxies().items()
    }
