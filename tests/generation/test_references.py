"""``input_references`` resolution against a real HTTP server on a loopback port."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from app.errors import BadRequest
from app.generation.netguard import (
    IPAddress,
    embedded_ipv4,
    is_allowed_address,
    is_public_address,
)
from app.generation.references import (
    FetchPolicy,
    _build_request,
    decode_data_url,
    resolve_references,
    sniff_media_type,
    stills,
    system_resolver,
)
from providers.spec import InputImage


def _encode(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, format=fmt)
    return out.getvalue()


PNG = _encode("PNG")
JPEG = _encode("JPEG")
GIF = _encode("GIF")
WEBP = _encode("WEBP")
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
ALLOW_LOOPBACK = FetchPolicy(allow_networks=LOOPBACK, timeout_s=2)
MIB = 1024 * 1024
HUGE_CHUNKS = 64

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# --------------------------------------------------------------------------------------------
# The loopback server
# --------------------------------------------------------------------------------------------


class _Raw:
    """A route endpoint written as a bare ASGI app, to control exactly when bytes leave."""

    def __init__(self, handler: Callable[[Receive, Send], Awaitable[None]]) -> None:
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handler(receive, send)


async def _until_disconnect(receive: Receive, limit: float = 5.0) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while (await receive())["type"] != "http.disconnect":
                pass


def _start(content_type: str, length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-type", content_type.encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"type": "http.response.start", "status": 200, "headers": headers}


def _build_app(state: dict[str, Any]) -> Starlette:
    async def png(request: Request) -> Response:
        state["png_hits"] += 1
        state["png_headers"] = dict(request.headers)
        return Response(PNG, media_type="image/png")

    async def typed(request: Request) -> Response:
        kind = request.path_params["kind"]
        body, media_type = {
            "html": (b"<html>hello</html>", "text/html; charset=utf-8"),
            "fake-png": (b"definitely not an image, just text", "image/png"),
            "mislabelled": (PNG, "image/jpeg"),
            "octet": (PNG, "application/octet-stream"),
            "svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
            "gif-bytes": (GIF, "image/gif"),
        }[kind]
        return Response(body, media_type=media_type)

    async def huge(_: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield PNG[:16]
            for _ in range(HUGE_CHUNKS):
                state["huge_chunks"] += 1
                yield b"\0" * MIB
                await asyncio.sleep(0)  # a point where a disconnect can cancel the stream

        return StreamingResponse(body(), media_type="image/png")

    async def huge_declared(receive: Receive, send: Send) -> None:
        # Announces a gigabyte, sends 16 bytes, then stalls: only an up-front check is quick.
        await send(_start("image/png", length=10**9))
        await send({"type": "http.response.body", "body": PNG[:16], "more_body": True})
        await _until_disconnect(receive)

    async def slow(receive: Receive, _: Send) -> None:
        await _until_disconnect(receive)  # never answers

    async def trickle(receive: Receive, send: Send) -> None:
        await send(_start("image/png"))
        await send({"type": "http.response.body", "body": PNG[:16], "more_body": True})
        gone = asyncio.create_task(_until_disconnect(receive))
        while not gone.done():
            await asyncio.sleep(0.02)
            await send({"type": "http.response.body", "body": b"\0", "more_body": True})

    async def redirect(request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def chain(request: Request) -> Response:
        left = int(request.path_params["n"])
        return RedirectResponse("/png" if left <= 1 else f"/chain/{left - 1}", status_code=301)

    async def no_location(_: Request) -> Response:
        return Response(status_code=302)

    async def status(request: Request) -> Response:
        return Response(b"nope", status_code=int(request.path_params["code"]))

    async def gate(_: Request) -> Response:
        state["inflight"] += 1
        state["max_inflight"] = max(state["max_inflight"], state["inflight"])
        await asyncio.sleep(0.05)
        state["inflight"] -= 1
        return Response(PNG, media_type="image/png")

    return Starlette(
        routes=[
            Route("/png", png),
            Route("/typed/{kind}", typed),
            Route("/huge", huge),
            Route("/huge-declared", _Raw(huge_declared)),
            Route("/slow", _Raw(slow)),
            Route("/trickle", _Raw(trickle)),
            Route("/redirect", redirect),
            Route("/chain/{n:int}", chain),
            Route("/no-location", no_location),
            Route("/status/{code:int}", status),
            Route("/gate", gate),
        ]
    )


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        _build_app(state), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve(sockets=[sock]))
    async with asyncio.timeout(5):
        while not instance.started:
            if task.done():
                task.result()  # surface a failed start
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", state
    instance.should_exit = True
    await task
    sock.close()


@pytest.fixture
async def base(server: tuple[str, dict[str, Any]]) -> str:
    url, state = server
    state.update(png_hits=0, png_headers={}, huge_chunks=0, inflight=0, max_inflight=0)
    return url


@pytest.fixture
def state(server: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return server[1]


@pytest.fixture(scope="module")
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


async def _rejected(
    urls: Sequence[str],
    client: httpx.AsyncClient,
    policy: FetchPolicy = ALLOW_LOOPBACK,
    **kwargs: Any,
) -> BadRequest:
    with pytest.raises(BadRequest) as info:
        await resolve_references(urls, client=client, policy=policy, **kwargs)
    assert info.value.status == 400
    return info.value


def _param(error: BadRequest) -> str:
    assert error.metadata is not None
    return str(error.metadata["param"])


def _data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert not is_public_address(ip)
    assert not is_allowed_address(ip)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_allow_networks_opens_only_what_it_names() -> None:
    assert is_allowed_address(ipaddress.ip_address("127.0.0.1"), LOOPBACK)
    assert is_allowed_address(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK)
    assert not is_allowed_address(ipaddress.ip_address("::1"), LOOPBACK)
    assert not is_allowed_address(ipaddress.ip_address("10.0.0.1"), LOOPBACK)
    assert not is_allowed_address(ipaddress.ip_address("169.254.169.254"), LOOPBACK)


def test_embedded_ipv4() -> None:
    v6 = ipaddress.IPv6Address
    assert embedded_ipv4(v6("::ffff:10.1.2.3")) == ipaddress.IPv4Address("10.1.2.3")
    assert embedded_ipv4(v6("64:ff9b::a01:203")) == ipaddress.IPv4Address("10.1.2.3")
    assert embedded_ipv4(v6("2002:a01:203::")) == ipaddress.IPv4Address("10.1.2.3")
    assert embedded_ipv4(v6("2606:4700::1")) is None


def test_sniff_media_type() -> None:
    assert sniff_media_type(PNG) == "image/png"
    assert sniff_media_type(JPEG) == "image/jpeg"
    assert sniff_media_type(GIF) == "image/gif"
    assert sniff_media_type(WEBP) == "image/webp"
    assert sniff_media_type(b"\0\0\0\x18ftypheic\0\0\0\0") == "image/heic"
    assert sniff_media_type(b"<html><body>") is None
    assert sniff_media_type(b"") is None


@pytest.mark.parametrize(
    ("url", "ip", "target", "host_header"),
    [
        (
            "https://img.example/a.png?x=1",
            "93.184.215.14",
            "https://93.184.215.14/a.png?x=1",
            "img.example",
        ),
        (
            "http://img.example:8080/a",
            "2606:4700::1",
            "http://[2606:4700::1]:8080/a",
            "img.example:8080",
        ),
    ],
)
def test_request_goes_to_the_ip_but_names_the_host(
    url: str, ip: str, target: str, host_header: str
) -> None:
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode()
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    request = _build_request(parsed, ipaddress.ip_address(ip), host, port, FetchPolicy())
    assert str(request.url) == target
    assert request.headers["host"] == host_header
    assert request.headers["connection"] == "close"
    assert set(request.headers) == {"host", "user-agent", "accept", "accept-encoding", "connection"}
    expected_sni = "img.example" if parsed.scheme == "https" else None
    assert request.extensions.get("sni_hostname") == expected_sni


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        FetchPolicy(max_bytes=0)
    with pytest.raises(ValueError):
        FetchPolicy(max_redirects=-1)


# --------------------------------------------------------------------------------------------
# data: URLs
# --------------------------------------------------------------------------------------------


async def test_data_urls_decode_in_order(client: httpx.AsyncClient) -> None:
    images = await resolve_references(
        [_data_url(PNG), _data_url(JPEG, "IMAGE/JPEG"), _data_url(JPEG, "image/jpg")],
        client=client,
        policy=FetchPolicy(),
    )
    assert [(i.data, i.media_type) for i in images] == [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (JPEG, "image/jpeg"),
    ]


async def test_empty_list_is_empty(client: httpx.AsyncClient) -> None:
    assert await resolve_references([], client=client, policy=FetchPolicy()) == ()


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("data:image/png;base64,iVBORw0K!!!", "not valid base64"),
        ("data:image/png;base64,iVBORw0KGgo", "not valid base64"),  # missing padding
        ("data:image/png;base64,iVBO Rw0KGgo=", "not valid base64"),
        ("data:image/png;base64,ÿÿÿÿ", "not valid base64"),
        (_data_url(JPEG, "image/png"), "declares image/png but contains image/jpeg"),
        (_data_url(b"hello, I am text", "image/png"), "not a recognized image"),
        (_data_url(PNG, "text/plain"), "media type 'text/plain' is not supported"),
        (_data_url(PNG, "image/svg+xml"), "not supported"),
        (_data_url(PNG, ""), "missing or invalid"),
        ("data:image/png," + base64.b64encode(PNG).decode(), "must be a base64 data URL"),
        ("data:image/png;base64", "must be a base64 data URL"),
    ],
)
async def test_bad_data_urls(client: httpx.AsyncClient, url: str, needle: str) -> None:
    error = await _rejected([_data_url(PNG), url], client, FetchPolicy())
    assert _param(error) == "input_references[1]"
    assert needle in error.message


async def test_oversized_data_url(client: httpx.AsyncClient) -> None:
    policy = FetchPolicy(max_bytes=len(PNG) - 1)
    error = await _rejected([_data_url(PNG)], client, policy)
    assert "larger than" in error.message
    ok = decode_data_url(_data_url(PNG), param="p", policy=FetchPolicy(max_bytes=len(PNG)))
    assert ok.data == PNG


async def test_data_url_errors_do_not_echo_payload(client: httpx.AsyncClient) -> None:
    payload = base64.b64encode(b"secret-looking-bytes-0123456789").decode()
    error = await _rejected([f"data:image/png;base64,{payload}"], client, FetchPolicy())
    assert payload not in error.message
    assert "secret" not in str(error.metadata)


# --------------------------------------------------------------------------------------------
# URL syntax and SSRF
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://127.0.0.1/x.png", "http(s) URL"),
        ("file:///etc/passwd", "http(s) URL"),
        ("gopher://127.0.0.1:6379/_", "http(s) URL"),
        ("/relative/path.png", "http(s) URL"),
        ("http://user:pw@127.0.0.1/x.png", "credentials"),
        ("http://127.0.0.1:99999/x.png", "invalid port"),
        ("http://[::1/x", "not a valid URL"),
    ],
)
async def test_bad_urls_never_reach_the_network(
    client: httpx.AsyncClient, url: str, needle: str
) -> None:
    async def no_dns(host: str, port: int) -> list[IPAddress]:
        raise AssertionError("resolver must not be called")

    error = await _rejected([url], client, resolver=no_dns)
    assert needle in error.message
    assert _param(error) == "input_references[0]"


@pytest.mark.parametrize(
    "url",
    [
        "{base}/png",
        "http://localhost:{port}/png",
        "http://[::1]:{port}/png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x.png",
        "http://0.0.0.0:{port}/png",
        "http://[::ffff:127.0.0.1]:{port}/png",
        "http://2130706433:{port}/png",
        "http://0x7f.1:{port}/png",
        "http://017700000001:{port}/png",
        "http://100.64.0.1/x.png",
        "http://[fd00:ec2::254]/latest",
        "http://[64:ff9b::a00:1]/x.png",
        "https://127.0.0.1:{port}/png",
    ],
)
async def test_default_policy_blocks_internal_addresses(
    client: httpx.AsyncClient, base: str, state: dict[str, Any], url: str
) -> None:
    port = base.rsplit(":", 1)[1]
    error = await _rejected([url.format(base=base, port=port)], client, FetchPolicy(timeout_s=2))
    assert "not allowed" in error.message
    assert _param(error) == "input_references[0]"
    assert state["png_hits"] == 0


async def test_any_bad_address_among_several_blocks(client: httpx.AsyncClient) -> None:
    async def mixed(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.1")]

    error = await _rejected(["https://images.example/a.png"], client, FetchPolicy(), resolver=mixed)
    assert "not allowed" in error.message


async def test_unresolvable_host(client: httpx.AsyncClient) -> None:
    async def nxdomain(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    error = await _rejected(["https://nowhere.example/a.png"], client, resolver=nxdomain)
    assert error.message == "Could not resolve the host of input_references[0]"


async def test_system_resolver_reads_numeric_forms() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    assert await system_resolver("2130706433", 80) == [loopback]
    assert await system_resolver("127.0.0.1", 80) == [loopback]


# --------------------------------------------------------------------------------------------
# Fetching from the loopback server (allowed explicitly)
# --------------------------------------------------------------------------------------------


async def test_fetches_png_when_loopback_is_allowed(
    client: httpx.AsyncClient, base: str, state: dict[str, Any]
) -> None:
    (image,) = await resolve_references([f"{base}/png"], client=client, policy=ALLOW_LOOPBACK)
    assert image.data == PNG
    assert image.media_type == "image/png"
    assert state["png_hits"] == 1


async def test_sends_none_of_the_clients_headers_cookies_or_auth(
    base: str, state: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(
        headers={"Authorization": "Bearer sk-ours", "X-Caller": "leak"},
        cookies={"session": "ours"},
        auth=("user", "pass"),
    ) as leaky:
        await resolve_references([f"{base}/png"], client=leaky, policy=ALLOW_LOOPBACK)
    seen = state["png_headers"]
    assert "authorization" not in seen
    assert "cookie" not in seen
    assert "x-caller" not in seen
    assert seen["host"] == base.removeprefix("http://")


async def test_connects_to_the_vetted_ip_not_a_second_lookup(
    client: httpx.AsyncClient, base: str, state: dict[str, Any]
) -> None:
    # Our resolver is the only place "images.example" exists; a second lookup (by httpx) fails.
    calls: list[str] = []

    async def once(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    port = base.rsplit(":", 1)[1]
    (image,) = await resolve_references(
        [f"http://images.example:{port}/png"], client=client, policy=ALLOW_LOOPBACK, resolver=once
    )
    assert image.data == PNG
    assert calls == ["images.example"]
    assert state["png_headers"]["host"] == f"images.example:{port}"


async def test_mixed_references_keep_their_order(client: httpx.AsyncClient, base: str) -> None:
    images = await resolve_references(
        [_data_url(JPEG, "image/jpeg"), f"{base}/png", f"{base}/typed/gif-bytes"],
        client=client,
        policy=ALLOW_LOOPBACK,
    )
    assert [i.media_type for i in images] == ["image/jpeg", "image/png", "image/gif"]
    assert images[1].data == PNG


async def test_concurrency_is_bounded(
    client: httpx.AsyncClient, base: str, state: dict[str, Any]
) -> None:
    policy = FetchPolicy(allow_networks=LOOPBACK, max_concurrency=2)
    images = await resolve_references([f"{base}/gate"] * 6, client=client, policy=policy)
    assert len(images) == 6
    assert state["max_inflight"] == 2


@pytest.mark.parametrize(
    ("path", "media_type"), [("/typed/mislabelled", "image/png"), ("/typed/octet", "image/png")]
)
async def test_magic_bytes_decide_the_media_type(
    client: httpx.AsyncClient, base: str, path: str, media_type: str
) -> None:
    (image,) = await resolve_references([base + path], client=client, policy=ALLOW_LOOPBACK)
    assert (image.data, image.media_type) == (PNG, media_type)


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("/typed/html", "did not return an image (got text/html)"),
        ("/typed/fake-png", "not a recognized image"),
        ("/typed/svg", "image/svg+xml is not supported"),
        ("/status/404", "failed with HTTP 404"),
        ("/status/500", "failed with HTTP 500"),
        ("/no-location", "without a Location"),
    ],
)
async def test_remote_answers_that_are_not_images(
    client: httpx.AsyncClient, base: str, path: str, needle: str
) -> None:
    error = await _rejected([_data_url(PNG), base + path], client)
    assert needle in error.message
    assert _param(error) == "input_references[1]"


async def test_gif_can_be_disallowed(client: httpx.AsyncClient, base: str) -> None:
    policy = FetchPolicy(allow_networks=LOOPBACK, allowed_media_types=frozenset({"image/png"}))
    error = await _rejected([f"{base}/typed/gif-bytes"], client, policy)
    assert "image/gif is not supported" in error.message
    assert error.metadata is not None and error.metadata["allowed"] == ["image/png"]


async def test_connection_refused_is_a_400(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before we connect
    error = await _rejected([f"http://127.0.0.1:{port}/x.png"], client)
    assert error.message == "Could not connect to the host of input_references[0]"


# --------------------------------------------------------------------------------------------
# Redirects
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/x.png", "http://[::1]/"]
)
async def test_redirect_to_a_blocked_address_is_refused(
    client: httpx.AsyncClient, base: str, target: str
) -> None:
    url = str(httpx.URL(f"{base}/redirect", params={"to": target}))
    error = await _rejected([url], client)
    assert "not allowed" in error.message


async def test_absolute_redirect_to_an_allowed_address(
    client: httpx.AsyncClient, base: str
) -> None:
    url = str(httpx.URL(f"{base}/redirect", params={"to": f"{base}/png"}))
    (image,) = await resolve_references([url], client=client, policy=ALLOW_LOOPBACK)
    assert image.data == PNG


async def test_redirect_to_another_scheme_is_refused(client: httpx.AsyncClient, base: str) -> None:
    url = str(httpx.URL(f"{base}/redirect", params={"to": "file:///etc/passwd"}))
    error = await _rejected([url], client)
    assert "http(s) URL" in error.message


async def test_redirects_are_followed_up_to_the_limit(
    client: httpx.AsyncClient, base: str, state: dict[str, Any]
) -> None:
    (image,) = await resolve_references([f"{base}/chain/3"], client=client, policy=ALLOW_LOOPBACK)
    assert image.data == PNG
    error = await _rejected([f"{base}/chain/4"], client)
    assert "redirected more than 3 times" in error.message
    assert state["png_hits"] == 1


async def test_zero_redirects_allowed(client: httpx.AsyncClient, base: str) -> None:
    policy = FetchPolicy(allow_networks=LOOPBACK, max_redirects=0)
    error = await _rejected([f"{base}/chain/1"], client, policy)
    assert "redirected more than 0 times" in error.message


# --------------------------------------------------------------------------------------------
# Size and time bounds
# --------------------------------------------------------------------------------------------


async def test_oversized_stream_stops_reading_early(
    client: httpx.AsyncClient, base: str, state: dict[str, Any]
) -> None:
    policy = FetchPolicy(allow_networks=LOOPBACK, max_bytes=MIB)
    error = await _rejected([f"{base}/huge"], client, policy)
    assert error.message == f"input_references[0] is larger than the {MIB} byte limit"
    await asyncio.sleep(0.05)  # let the server notice the disconnect
    assert state["huge_chunks"] < HUGE_CHUNKS // 4


async def test_oversized_content_length_is_refused_before_reading(
    client: httpx.AsyncClient, base: str
) -> None:
    # The body stalls after 16 bytes: reading it would end in a timeout, not "larger than".
    policy = FetchPolicy(allow_networks=LOOPBACK, max_bytes=MIB, timeout_s=1)
    started = time.monotonic()
    error = await _rejected([f"{base}/huge-declared"], client, policy)
    assert "larger than" in error.message
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("path", ["/slow", "/trickle"])
async def test_fetch_time_is_bounded_in_total(
    client: httpx.AsyncClient, base: str, path: str
) -> None:
    policy = FetchPolicy(allow_networks=LOOPBACK, timeout_s=0.3)
    started = time.monotonic()
    error = await _rejected([base + path], client, policy)
    elapsed = time.monotonic() - started
    assert error.message == "Timed out fetching input_references[0] (limit 0.3 s)"
    assert 0.25 < elapsed < 1.0


async def test_first_failure_cancels_the_others(client: httpx.AsyncClient, base: str) -> None:
    policy = FetchPolicy(allow_networks=LOOPBACK, timeout_s=3)
    started = time.monotonic()
    error = await _rejected([f"{base}/slow", f"{base}/typed/html"], client, policy)
    assert _param(error) == "input_references[1]"
    assert time.monotonic() - started < 1.0


def _gif(frames: Sequence[Image.Image], **params: Any) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=list(frames[1:]), **params)
    return buf.getvalue()


def test_a_gif_becomes_a_png_of_its_first_frame_and_the_rest_stay_as_they_are() -> None:
    gif = _gif([Image.new("RGB", (40, 30), c) for c in ("red", "blue", "green")], duration=50)
    png, jpeg = InputImage(PNG, "image/png"), InputImage(JPEG, "image/jpeg")
    out = stills([png, InputImage(gif, "image/gif"), jpeg])
    assert out[0] is png and out[2] is jpeg
    assert out[1].media_type == "image/png"
    still = Image.open(io.BytesIO(out[1].data))
    assert still.format == "PNG" and still.size == (40, 30)
    assert still.convert("RGB").getpixel((20, 15)) == (255, 0, 0)


def test_a_transparent_gif_keeps_its_transparency() -> None:
    frame = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    frame.paste((0, 128, 255, 255), (0, 0, 8, 16))
    (out,) = stills([InputImage(_gif([frame]), "image/gif")])
    still = Image.open(io.BytesIO(out.data))
    assert still.mode == "RGBA"
    assert still.getpixel((12, 8))[3] == 0 and still.getpixel((4, 8))[3] == 255


def test_a_gif_declaring_a_huge_canvas_is_refused_before_it_is_decoded() -> None:
    gif = bytearray(_gif([Image.new("RGB", (8, 8), "red")]))
    gif[6:10] = (8000).to_bytes(2, "little") * 2  # logical screen 8000x8000, 8x8 frame
    with pytest.raises(BadRequest) as caught:
        stills([InputImage(PNG, "image/png"), InputImage(bytes(gif), "image/gif")])
    assert caught.value.metadata == {"param": "input_references[1]"}
    assert "8000x8000" in caught.value.message
    gif[6:10] = (30000).to_bytes(2, "little") * 2  # past Pillow's own bomb limit
    with pytest.raises(BadRequest, match="too large") as caught:
        stills([InputImage(bytes(gif), "image/gif")])
    assert caught.value.metadata == {"param": "input_references[0]"}


def test_an_unreadable_gif_is_the_callers_400() -> None:
    with pytest.raises(BadRequest) as caught:
        stills([InputImage(b"GIF89a" + b"\x00" * 40, "image/gif")])
    assert caught.value.metadata == {"param": "input_references[0]"}
