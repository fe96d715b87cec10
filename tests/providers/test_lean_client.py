"""The gateway's upstream client: its short path sends what httpx's own path sends."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from providers._h1 import H1Transport
from providers._lean import LeanClient
from tests.servers import ServerThread

Seen = list[dict[str, Any]]


def _echo(seen: Seen) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": scope["query_string"],
                "headers": sorted(scope["headers"]),
                "body": body,
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"x-request-id", b"req_9"), (b"set-cookie", b"a=b; Path=/")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"ok": true}'})

    return app


@pytest.fixture(scope="module")
def echo() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []
    server = ServerThread(_echo(seen), lifespan="off").start()
    try:
        yield server.url, seen
    finally:
        server.stop()


def _client(cls: type[httpx.AsyncClient]) -> httpx.AsyncClient:
    return cls(
        timeout=httpx.Timeout(5.0),
        transport=H1Transport(),
        follow_redirects=False,
        headers={"user-agent": "imagegate/test"},
    )


@pytest.mark.parametrize(
    "call",
    [
        {"json": {"model": "m", "prompt": "ünïcode ✓", "n": 2, "opts": [1.5, None, True]}},
        {"json": {"a": 1}, "headers": {"Content-Type": "application/vnd.x+json"}},
        {},  # no body
        {"data": {"k": "v"}},  # a form
        {"data": {"model": "m"}, "files": [("image[]", ("a.png", b"\x89PNG 1", "image/png"))]},
    ],
)
async def test_the_short_path_sends_the_same_request(
    echo: tuple[str, Seen], call: dict[str, Any]
) -> None:
    url, seen = echo
    headers = {"Authorization": "Bearer k", **call.pop("headers", {})}
    answers = []
    for cls in (httpx.AsyncClient, LeanClient):
        async with (
            _client(cls) as client,
            client.stream(
                "POST", f"{url}/v1/images", headers=headers, timeout=httpx.Timeout(3.0), **call
            ) as response,
        ):
            body = await response.aread()
            answers.append(
                (response.status_code, response.headers["x-request-id"], body, response.url)
            )
    plain, lean = (_same_boundary(x) for x in seen[-2:])
    assert lean == plain
    assert answers[0] == answers[1]
    assert answers[1][:3] == (201, "req_9", b'{"ok": true}')


async def test_no_cookie_is_kept_and_a_set_cookie_takes_httpx_path(
    echo: tuple[str, Seen],
) -> None:
    url, seen = echo
    async with _client(LeanClient) as client:
        async with client.stream("POST", f"{url}/x", json={}) as response:
            await response.aread()
        assert not client.cookies  # LeanClient does not extract cookies
        client.cookies.set("session", "s1")
        async with client.stream("POST", f"{url}/x", json={}) as response:
            await response.aread()
    assert (b"cookie", b"session=s1") in seen[-1]["headers"]


async def test_a_client_with_auth_or_hooks_takes_httpx_path(echo: tuple[str, Seen]) -> None:
    url, seen = echo
    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(str(request.url))

    async with _client(LeanClient) as client:
        client.auth = httpx.BasicAuth("u", "p")
        client.event_hooks = {"request": [hook], "response": []}
        async with client.stream("POST", f"{url}/hooked", json={}) as response:
            await response.aread()
    assert hooked == [f"{url}/hooked"]
    assert any(name == b"authorization" for name, _ in seen[-1]["headers"])


def _same_boundary(request: dict[str, Any]) -> dict[str, Any]:
    """A multipart request with its random boundary replaced by a fixed one."""
    for name, value in request["headers"]:
        if name == b"content-type" and b"boundary=" in value:
            boundary = value.split(b"boundary=")[1]
            request = {**request, "body": request["body"].replace(boundary, b"B")}
            request["headers"] = [(n, v.replace(boundary, b"B")) for n, v in request["headers"]]
    return request


async def test_an_upload_is_freed_when_its_call_ends(echo: tuple[str, Seen]) -> None:
    """No reference cycle keeps a call's request (and every uploaded image in it) alive
    until the garbage collector's next full pass."""
    url, _ = echo

    def calls() -> set[int]:
        return {id(o) for o in gc.get_objects() if isinstance(o, httpx.Request | httpx.Response)}

    gc.collect()
    gc.disable()
    try:
        before = calls()  # other tests' objects that are still alive stay out of it
        async with _client(LeanClient) as client:
            files = [("image[]", ("a.png", b"\x89PNG" + b"x" * 100_000, "image/png"))]
            async with client.stream("POST", f"{url}/edits", data={"m": "x"}, files=files) as r:
                await r.aread()
            del r  # the caller's own reference
            assert calls() - before == set()
    finally:
        gc.enable()


async def test_the_gateway_client_goes_through_the_environment_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx honours HTTP(S)_PROXY by itself only when it builds its own transport: the
    gateway's client, built on its own transport, mounts them."""
    from app.main import _http_client
    from tests.providers.test_h1 import OK, serving

    async with serving([OK]) as proxy, serving([OK]) as direct:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with _http_client() as client:
            async with client.stream("POST", "http://provider.example/v1/x", json={}) as r:
                assert await r.aread() == b"ok"
            direct_url = direct.url.replace("localhost", "127.0.0.1")
            async with client.stream("POST", f"{direct_url}/v1/y", json={}) as r:
                assert await r.aread() == b"ok"
    assert proxy.requests[0][0].startswith(b"POST http://provider.example/v1/x HTTP/1.1\r\n")
    assert direct.requests[0][0].startswith(b"POST /v1/y HTTP/1.1\r\n")
    assert len(proxy.requests) == 1


@pytest.mark.parametrize(
    ("method", "call"),
    [
        ("POST", {"json": {"model": "m", "prompt": "ünïcode ✓"}}),
        ("POST", {"json": {"a": 1}, "headers": {"content-type": "application/x+json"}}),
        ("POST", {"json": [], "headers": {"Accept": "application/json", "X-Key": "k2"}}),
        ("POST", {}),
        ("GET", {"headers": {"Authorization": "Bearer k"}}),
        ("PUT", {"headers": {"Accept": "text/event-stream"}}),
    ],
)
async def test_the_short_path_builds_the_request_httpx_builds(
    method: str, call: dict[str, Any]
) -> None:
    """The request assembled from cached, already-normalized headers is httpx's own, header
    for header in order, with the same encoding and body; twice, so the cached entry too."""
    url = "http://provider.example:8080/v1/images?x=1"
    kwargs = {"headers": {"user-agent": "imagegate/test", "Accept": "*/*"}}
    async with httpx.AsyncClient(**kwargs) as plain, LeanClient(**kwargs) as lean:
        expected = plain.build_request(method, url, **call)
        timeout = {"timeout": plain.timeout.as_dict()}
        for _ in range(2):
            built = lean._request(method, url, call.get("headers"), call.get("json"), timeout)
            assert built is not None
            assert (built.method, built.url) == (expected.method, expected.url)
            assert built.headers.raw == expected.headers.raw
            assert built.headers.encoding == expected.headers.encoding
            assert built.headers.multi_items() == expected.headers.multi_items()
            assert built.content == expected.content == built.read()
            assert type(built.stream) is type(expected.stream)
            assert built.extensions == timeout


@pytest.mark.parametrize("name", ["Host", "content-length", "Transfer-Encoding"])
async def test_headers_httpx_assembles_itself_take_its_path(name: str) -> None:
    async with LeanClient() as client:
        headers = {name: "chunked" if "ransfer" in name else "9"}
        assert client._request("POST", "http://x.example/", headers, {}, {}) is None


def test_prebuilt_headers_are_the_headers_httpx_builds() -> None:
    from providers._h1 import prebuilt_headers

    raw = [(b"Content-Type", b"application/json"), (b"X-Request-Id", b"r1"), (b"x-a", b"\xe9")]
    built = prebuilt_headers([(k, k.lower(), v) for k, v in raw], None)
    expected = httpx.Headers(raw)
    assert built == expected
    assert built.raw == expected.raw and built.encoding == expected.encoding
    assert built["content-type"] == "application/json" and built.get("X-A") == expected["x-a"]
    assert httpx.Response(200, headers=built).headers.raw == raw


async def test_a_base_url_set_later_takes_httpx_path(echo: tuple[str, Seen]) -> None:
    """The short path is for absolute URLs on a client without a base URL; one given to the
    client after its first call is honoured (httpx joins it to the call's URL)."""
    url, seen = echo
    async with _client(LeanClient) as client:
        async with client.stream("POST", f"{url}/first", json={}) as response:
            await response.aread()
        client.base_url = f"{url}/base/"
        async with client.stream("POST", "second", json={}) as response:
            await response.aread()
    assert [s["path"] for s in seen[-2:]] == ["/first", "/base/second"]
