"""The request guard: authentication before the body, size and time limits, clean 4xx for
inputs that cannot be stored, and a flood of big uploads that costs no memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Message

from app.api.fast import DOORS
from app.generation.ids import GENERATION_PATHS
from app.main import create_app
from app.middleware import RequestGuard
from tests.conftest import MASTER_KEY, make_settings
from tests.servers import ServerThread, free_port

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


@pytest.fixture(scope="module")
def guarded(database_url: str, redis_url: str) -> Iterator[ServerThread]:
    settings = make_settings(
        database_url,
        redis_url,
        max_body_bytes=200_000,
        body_timeout_s=1.0,
    )
    with ServerThread(create_app(settings)) as server:
        yield server


def _raw(port: int, head: bytes, body: bytes = b"", wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_an_unauthenticated_upload_is_refused_before_its_body(guarded: ServerThread) -> None:
    # Headers promise 150 kB but only a few bytes follow: the 401 comes anyway (it could not
    # have waited for the body), and the connection is closed since the body stays unread.
    head = (
        b"POST /api/v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 150000\r\n\r\n"
    )
    answer = _raw(guarded.port, head, b'{"model": "x', wait=10)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"connection: close" in answer.lower()


def test_a_wrong_key_is_refused_before_its_body(guarded: ServerThread) -> None:
    head = (
        b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        b"Content-Type: application/json\r\nContent-Length: 150000\r\n\r\n"
    )
    answer = _raw(guarded.port, head, b"{", wait=3)
    assert answer.startswith(b"HTTP/1.1 401")
    assert b'"type":"invalid_request_error"' in answer  # the OpenAI route's error shape


def test_a_stalled_body_is_cut_off_with_408(guarded: ServerThread) -> None:
    head = (
        b"POST /api/v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {MASTER_KEY}\r\nContent-Length: 1000\r\n\r\n".encode()
    )
    answer = _raw(guarded.port, head, b'{"model":', wait=10)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_declared_body_above_the_limit_is_413_unread(guarded: ServerThread) -> None:
    head = (
        b"POST /api/v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {MASTER_KEY}\r\nContent-Length: 999999999\r\n\r\n".encode()
    )
    assert _raw(guarded.port, head, b"{", wait=3).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"model": "openai/gpt-image-1.5", "prompt": "\\ud800"}', "prompt"),
        (
            b'{"model": "m/x", "prompt": "p", "provider": {"options": {"openai": {"a": "\\udfff"}}}}',
            "surrogate",
        ),
        (b'{"model": "m/x", "prompt": "p", "seed": 99999999999999999999}', "seed"),
        (
            b'{"model": "m/x", "prompt": "p", "provider": {"options": {"o": {"a": 1e400}}}}',
            "finite",
        ),
        (b'{"model": "m/x", "prompt": "p", "provider": {"options": {"o": {"a": NaN}}}}', "finite"),
        (
            b'{"model": "m/x", "prompt": "p", "provider": {"options": {"o": {"a": 123456789012345678901234567890}}}}',
            "64-bit",
        ),
        (b'{"model": "m/x", "prompt": "p", "user": "' + b"u" * 300 + b'"}', "user"),
        (b'{"model": "m/x", "prompt": "p", "trace": {"t": "' + b"x" * 9000 + b'"}}', "trace"),
    ],
)
def test_values_that_cannot_be_stored_are_400s(
    guarded: ServerThread, body: bytes, needle: str
) -> None:
    resp = httpx.post(
        f"{guarded.url}/api/v1/images",
        content=body,
        headers={**AUTH, "content-type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    assert needle in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "path", ["/api/v1/images", "/v1/images/generations", "/api/v1/chat/completions"]
)
def test_answers_refused_before_a_generation_still_carry_a_generation_id(
    guarded: ServerThread, path: str
) -> None:
    """Every answer of a generation door names a generation (OpenRouter's ``X-Generation-Id``),
    the ones refused before any began too: no key (401), a body that does not validate
    (400), a body above the limit (413). Each is new; other routes carry none."""
    seen = set()
    answers = [
        httpx.post(f"{guarded.url}{path}", json={"model": "m/x", "prompt": "p"}),
        httpx.post(f"{guarded.url}{path}", json={"prompt": ["not", "text"]}, headers=AUTH),
        httpx.post(f"{guarded.url}{path}", content=b"x" * 200_001, headers=AUTH),
    ]
    assert [a.status_code for a in answers] == [401, 400, 413]
    for answer in answers:
        gid = answer.headers.get("x-generation-id", "")
        assert gid.startswith("gen-img-") and gid not in seen, answer.headers
        seen.add(gid)
    other = httpx.get(f"{guarded.url}/api/v1/keys")
    assert other.status_code == 401 and "x-generation-id" not in other.headers


def test_every_fast_json_door_is_a_generation_door() -> None:
    """The one list of generation doors covers the fast JSON path's doors (a door added there
    and not here would answer without an ``x-generation-id`` when refused early)."""
    assert set(DOORS) <= GENERATION_PATHS
    assert set(DOORS) == {p for p in GENERATION_PATHS if not p.endswith("/edits")}


@pytest.mark.parametrize(
    "path", ["/api/v1/images", "/v1/images/generations", "/api/v1/chat/completions"]
)
@pytest.mark.parametrize("nested", ["[" * 5000 + "]" * 5000, '{"a":' * 5000 + "1" + "}" * 5000])
def test_json_nested_deeper_than_the_parser_goes_is_a_400(
    guarded: ServerThread, path: str, nested: str
) -> None:
    """A few kilobytes of brackets exhaust the JSON parser's recursion: a 400, not a 500."""
    body = '{"model": "m/x", "prompt": "p", "x": ' + nested + "}"
    for content in (nested, body):
        resp = httpx.post(
            f"{guarded.url}{path}",
            content=content,
            headers={**AUTH, "content-type": "application/json"},
        )
        assert resp.status_code == 400, resp.text
        assert "error" in resp.json()


def test_query_integers_beyond_64_bits_are_400s(guarded: ServerThread) -> None:
    for path in ("/api/v1/keys?offset=99999999999999999999999", "/api/v1/models?offset=-1"):
        resp = httpx.get(f"{guarded.url}{path}", headers=AUTH)
        assert resp.status_code == 400, (path, resp.text)


def test_keep_alive_survives_a_bad_request(guarded: ServerThread) -> None:
    with httpx.Client() as client:
        bad = client.post(
            f"{guarded.url}/api/v1/images",
            content=b'{"model": "m/x", "prompt": "\\ud800"}',
            headers={**AUTH, "content-type": "application/json"},
        )
        assert bad.status_code == 400
        assert bad.headers.get("connection") != "close"
        assert client.get(f"{guarded.url}/health").status_code == 200


# ------------------------------------------------------------------------------------------
# Memory: a separate gateway process, its RSS read from /proc
# ------------------------------------------------------------------------------------------


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def test_floods_of_big_bodies_and_references_stay_in_bounded_memory(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "IMAGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'mem.db'}",
        "IMAGEGATE_MASTER_KEY": MASTER_KEY,
        "IMAGEGATE_LOG_LEVEL": "WARNING",
        "IMAGEGATE_MAX_BODY_BYTES": str(64 * 1024 * 1024),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--simulate", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        baseline, _ = _rss_mb(proc.pid)
        big = b"x" * (60 * 1024 * 1024)
        # 30 unauthenticated 60 MB uploads: refused before their bodies are read
        for _ in range(30):
            # the server may close the connection while we are still sending
            with contextlib.suppress(httpx.TransportError):
                httpx.post(
                    f"{url}/api/v1/images",
                    content=big,
                    timeout=30,
                    headers={"content-type": "application/json"},
                )
        # a run of maximum-reference requests (16 inline references up to the per-request cap)
        ref = "data:image/png;base64," + _png_b64(2_300_000)
        refs = [{"type": "image_url", "image_url": {"url": ref}} for _ in range(16)]
        for _ in range(4):
            resp = httpx.post(
                f"{url}/api/v1/images",
                json={
                    "model": "openai/gpt-image-1.5",
                    "prompt": "refs",
                    "quality": "low",
                    "input_references": refs,
                },
                headers=AUTH,
                timeout=60,
            )
            assert resp.status_code in (200, 413), resp.text[:300]
        current, peak = _rss_mb(proc.pid)
        deadline = time.monotonic() + 10  # the idle trimmer runs every 2 s
        while current >= baseline + 100 and time.monotonic() < deadline:
            time.sleep(0.5)
            current, peak = _rss_mb(proc.pid)
        assert peak < 400, f"peak RSS {peak:.0f} MB (baseline {baseline:.0f} MB)"
        assert current < baseline + 100, f"RSS {current:.0f} MB after, baseline {baseline:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _png_b64(size: int) -> str:
    """A valid PNG of about ``size`` bytes (incompressible noise), base64-encoded."""
    import base64
    import io

    from PIL import Image

    side = int((size / 3) ** 0.5)
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=0)
    return base64.b64encode(buf.getvalue()).decode()


def test_connections_that_never_finish_their_headers_are_closed(database_url: str) -> None:
    import threading

    import uvicorn

    from app.server import server_options

    app = create_app(make_settings(database_url, None))
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", **server_options(0.5)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        # one connection sends half its headers, another nothing at all: both are closed
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as slow,
            socket.create_connection(("127.0.0.1", port), timeout=10) as idle,
        ):
            slow.sendall(b"POST /api/v1/images HTTP/1.1\r\nHost: x\r\n")
            assert slow.recv(100) == b""  # closed by the server, not by our 10 s timeout
            assert idle.recv(100) == b""
        # a normal request on the same server is unaffected
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_chunked_body_takes_its_large_slot_before_reading_on() -> None:
    """A body without a Content-Length is of unknown size until it ends: once it grows past
    the large-body mark it waits for a slot before another byte is read (it used to be read
    whole first, so a burst of chunked uploads held every body at once: 12 chunked 40 MB
    requests took a gateway to 1.1 GB, against 430 MB with Content-Length)."""
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await release.wait()  # the first request keeps its slot until released
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guard = RequestGuard(app, max_bytes=10**6, large_bytes=1000, large_slots=1, wait_s=0.5)
    scope = {"type": "http", "method": "POST", "path": "/api/v1/images", "headers": []}

    def upload(chunks: int) -> tuple[Any, list[int]]:
        read = [0]

        async def receive() -> Message:
            read[0] += 1
            more = read[0] < chunks
            return {"type": "http.request", "body": b"x" * 600, "more_body": more}

        return receive, read

    async def scenario() -> tuple[list[int], list[Message]]:
        first_receive, _ = upload(3)
        first = asyncio.create_task(guard(dict(scope), first_receive, _discard))
        await asyncio.sleep(0.05)  # the first holds the only slot
        second_receive, read = upload(100)
        sent: list[Message] = []

        async def keep(message: Message) -> None:
            sent.append(message)

        await guard(dict(scope), second_receive, keep)
        release.set()
        await first
        return read, sent

    read, sent = asyncio.run(scenario())
    assert sent[0]["status"] == 429
    assert read[0] == 2  # 1,200 bytes: past the mark, then no more of the 60 kB was read


async def _discard(message: Any) -> None:
    return None


def test_headers_that_grow_past_the_bound_are_431_and_closed() -> None:
    """httptools bounds neither the request line nor the headers: a client trickling one
    endless header held it all in memory until the header deadline (ten unauthenticated
    60 MB headers took a gateway to 424 MB). Past 64 KiB the answer is a 431 and the
    connection is closed, while the headers are still arriving."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with ServerThread(app, lifespan="off") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
            answer = b""
            with contextlib.suppress(OSError):  # the server may close while we still send
                for _ in range(64):
                    sock.sendall(b"a" * 16384)
                    time.sleep(0.002)
            with contextlib.suppress(OSError):
                answer = sock.recv(200)
            assert answer.startswith(b"HTTP/1.1 431"), answer
        # an ordinary request with large-ish headers still passes
        resp = httpx.get(f"{server.url}/health", headers={"x-a": "a" * 30_000})
        assert resp.status_code == 200
