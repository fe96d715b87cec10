"""The gateway's upstream transport (providers/_h1.py) against scripted HTTP/1.1 servers.

Each server answers the requests it reads with scripted bytes and actions (close, reset,
hang), so framing, reuse and every failure the transport maps are exercised on real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers import _h1
from providers._h1 import H1Transport

Action = bytes | str  # bytes are written; "close", "reset", "hang" and "ack" are actions

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Seq: %d\r\n\r\nok"


@dataclass
class Script:
    """Answers the n-th request with ``answers[n]`` (the last one repeats)."""

    answers: list[list[Action]]
    tls: ssl.SSLContext | None = None
    connections: int = 0
    ended: int = 0  # connections the client closed (or the script ended)
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)  # (head, body)
    server: asyncio.Server | None = None
    handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://localhost:{port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                answer = self.answers[min(len(self.requests) + 1, len(self.answers)) - 1]
                early = answer[:1] == ["early"]  # answer before reading the body
                body = b"" if early else await _read_body(reader, head)
                self.requests.append((head, body))
                for action in answer:
                    if isinstance(action, bytes):
                        writer.write(action.replace(b"%d", str(len(self.requests)).encode()))
                        await writer.drain()
                    elif action == "close":
                        writer.close()
                        return
                    elif action == "reset":
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                        writer.transport.abort()
                        return
                    elif action == "early":
                        continue
                    elif action == "hang":
                        await asyncio.sleep(3600)
        except asyncio.CancelledError:  # the test is over
            return
        finally:
            self.ended += 1
            writer.close()


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    lines = head.decode("latin-1").lower().split("\r\n")
    length = next((int(x.split(":")[1]) for x in lines if x.startswith("content-length:")), 0)
    if any(x.startswith("transfer-encoding:") and "chunked" in x for x in lines):
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return body
            body += chunk[:-2]
    return await reader.readexactly(length)


@contextlib.asynccontextmanager
async def serving(
    *answers: list[Action], tls: ssl.SSLContext | None = None
) -> AsyncIterator[Script]:
    script = Script(list(answers), tls)
    script.server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=tls)
    try:
        yield script
    finally:
        script.server.close()
        for task in script.handlers:
            task.cancel()
        await asyncio.gather(*script.handlers, return_exceptions=True)


async def _raw_get(transport: H1Transport, url: str) -> tuple[_h1._Body, _h1._Connection]:
    """A GET straight through the transport: the answer's body and its connection."""
    response = await transport.handle_async_request(httpx.Request("GET", url))
    body = response.stream
    assert isinstance(body, _h1._Body)
    conn = body._conn
    assert conn is not None
    return body, conn


def _client(**kwargs: Any) -> httpx.AsyncClient:
    timeout = kwargs.pop("timeout", httpx.Timeout(5.0))
    return httpx.AsyncClient(transport=H1Transport(**kwargs), timeout=timeout)


async def test_a_connection_is_reused_and_the_request_goes_out_as_httpx_built_it() -> None:
    async with serving([OK]) as server, _client() as client:
        for n in (1, 2, 3):
            answer = await client.post(f"{server.url}/v1/x?a=1", json={"k": "ü"})
            assert (answer.status_code, answer.headers["x-seq"], answer.text) == (200, str(n), "ok")
            assert answer.http_version == "HTTP/1.1"
            assert answer.reason_phrase == "OK"
    assert server.connections == 1
    head, body = server.requests[0]
    assert head.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\nHost: localhost:")
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert body == '{"k":"ü"}'.encode()


@pytest.mark.parametrize(
    ("value", "encoding"),
    [(b"plain", "ascii"), ("\u00fc".encode(), "utf-8"), (b"\xfc", "iso-8859-1")],
)
async def test_headers_read_as_httpx_reads_them(value: bytes, encoding: str) -> None:
    answer = b"HTTP/1.1 200 OK\r\nX-Note: " + value + b"\r\nContent-Length: 2\r\n\r\nok"
    async with serving([answer]) as server, _client() as client:
        response = await client.get(server.url)
    assert response.headers.encoding == encoding
    assert response.headers["x-note"] == httpx.Headers([(b"x-note", value)])["x-note"]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok + bytes nobody asked for",
    ],
    ids=["connection-close", "http-1.0", "extra-bytes"],
)
async def test_a_connection_the_answer_spoils_is_not_reused(answer: bytes) -> None:
    async with serving([answer]) as server, _client() as client:
        for _ in range(2):
            response = await client.get(server.url)
            assert response.text == "ok"
    assert server.connections == 2


async def test_an_answer_left_unread_is_dropped_and_its_connection_reused() -> None:
    size = _h1._HIGH_WATER // 2  # arrives whole without pausing
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    transport = H1Transport()
    async with serving([answer]) as server:
        body, conn = await _raw_get(transport, server.url)
        async for _ in body:
            break  # the consumer stops after one buffer
        for _ in range(500):  # until the whole answer is in
            if conn.complete:
                break
            await asyncio.sleep(0.01)
        assert conn.complete and conn.chunks  # in, and partly unread
        await body.aclose()
        assert (conn.buffered, len(conn.chunks)) == (0, 0)
        again = await transport.handle_async_request(httpx.Request("GET", server.url))
        assert len(await again.aread()) == size
        await transport.aclose()
    assert server.connections == 1


async def test_chunked_until_close_and_interim_answers_are_read_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    until_close = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx"
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    answers = ([chunked], [until_close, "close"], [interim], [no_content])
    async with serving(*answers) as server, _client() as client:
        assert (await client.get(server.url)).text == "abcde"
        assert (await client.get(server.url)).text == "until the end"
        created = await client.get(server.url)
        assert (created.status_code, created.text) == (201, "x")
        assert (await client.get(server.url)).status_code == 204
        assert (await client.get(server.url)).status_code == 204  # reused after a 204
    # the chunked answer's connection was reused, the read-until-close one could not be
    assert server.connections == 2


@pytest.mark.parametrize(
    ("actions", "error", "message"),
    [
        (["close"], httpx.RemoteProtocolError, "without sending a response"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", "close"],
         httpx.RemoteProtocolError, "without sending complete message body"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", "reset"], httpx.ReadError, None),
        ([b"HTTP/1.1 2OO nope\r\n\r\n"], httpx.RemoteProtocolError, "malformed HTTP answer"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
         httpx.RemoteProtocolError, "malformed HTTP answer"),
    ],
    ids=["closed-before-answer", "closed-mid-body", "reset-mid-body", "bad-status", "bad-chunk"],
)  # fmt: skip
async def test_failures_are_the_httpx_exceptions_httpcore_raises(
    actions: list[Action], error: type[Exception], message: str | None
) -> None:
    async with serving(actions, [OK]) as server, _client() as client:
        with pytest.raises(error, match=message) as caught:
            await client.post(server.url, content=b"x")
        assert caught.value.request.url == httpx.URL(server.url)
        # the broken connection was dropped: the next call opens a fresh one and succeeds
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_read_timeout_before_and_during_the_body() -> None:
    slow_body = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", "hang"]
    async with (
        serving(["hang"], slow_body) as server,
        _client(timeout=httpx.Timeout(5.0, read=0.2)) as client,
    ):
        with pytest.raises(httpx.ReadTimeout):
            await client.get(server.url)
        async with client.stream("GET", server.url) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.ReadTimeout):
                await response.aread()


async def test_connect_errors_and_the_pool_limit() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with _client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")
    async with (
        serving([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", "hang"], [OK]) as server,
        _client(limit=1, timeout=httpx.Timeout(5.0, pool=0.2)) as client,
    ):
        async with client.stream("GET", server.url) as held:
            assert held.status_code == 200
            with pytest.raises(httpx.PoolTimeout):
                await client.get(server.url)
        # closing the unfinished answer closed its connection and freed the slot
        assert (await client.get(server.url)).text == "ok"
        assert server.connections == 2


async def test_idle_connections_expire_and_a_closed_idle_one_is_not_used() -> None:
    async with serving([OK], [OK], [OK, "close"], [OK]) as server:
        async with _client(keepalive_s=0.0) as client:
            await client.get(server.url)
            await asyncio.sleep(0.01)
            await client.get(server.url)  # the idle one expired: a new connection
        assert server.connections == 2
        async with _client() as client:
            await client.get(server.url)  # answered, then closed by the server
            for _ in range(50):  # until the loop has seen the close
                await asyncio.sleep(0.01)
            assert (await client.get(server.url)).text == "ok"
        assert server.connections == 4
    async with serving([OK]) as server, _client(keepalive_s=0.05) as client:
        await client.get(server.url)
        for _ in range(100):  # the sweep closes it with no further call (within ~0.55 s)
            if server.ended:
                break
            await asyncio.sleep(0.05)
        assert server.ended == 1


async def test_reading_pauses_while_the_consumer_is_behind() -> None:
    size = 6 * _h1._HIGH_WATER
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size
    transport = H1Transport()
    async with serving([answer]) as server:
        body, conn = await _raw_get(transport, server.url)
        received = 0
        most_buffered = 0
        async for chunk in body:
            received += len(chunk)
            most_buffered = max(most_buffered, conn.buffered + len(chunk))
            await asyncio.sleep(0.002)  # a slow consumer
        await body.aclose()
        await transport.aclose()
    assert received == size
    # what waits for the consumer stays near the high-water mark: reading was paused
    assert most_buffered < _h1._HIGH_WATER + (1 << 20)


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_streamed_request_body_is_sent_part_by_part(chunked: bool) -> None:
    parts = [b"a" * 70_000, b"", b"b" * 10, b"c" * 300_000]

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    headers = {} if chunked else {"Content-Length": str(sum(map(len, parts)))}
    async with serving([OK]) as server, _client() as client:
        answer = await client.post(server.url, content=body(), headers=headers)
        assert answer.text == "ok"
    head, received = server.requests[0]
    assert received == b"".join(parts)
    assert (b"Transfer-Encoding: chunked" in head) is chunked


async def test_a_connection_answered_before_its_body_was_sent_is_not_reused() -> None:
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for n in range(400):
            sent.append(n)
            yield b"x" * 65536
            await asyncio.sleep(0)

    too_large = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig"
    async with serving(["early", too_large], [OK]) as server, _client() as client:
        headers = {"Content-Length": str(400 * 65536)}
        answer = await client.post(server.url, content=body(), headers=headers)
        assert (answer.status_code, answer.text) == (413, "big")
        assert len(sent) < 400  # the rest of the body was never sent
        assert (await client.get(server.url)).text == "ok"
    assert server.connections == 2


async def test_head_takes_httpx_transport_and_tls_works(tmp_path: Path) -> None:
    server_ctx, client_ctx = _tls_pair(tmp_path)
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    async with (
        serving([OK], [head_answer], tls=server_ctx) as server,
        _client(ssl_context=client_ctx) as client,
    ):
        assert (await client.get(server.url)).text == "ok"
        head = await client.head(server.url)  # no body, whatever Content-Length says
        assert (head.status_code, head.content) == (200, b"")
    async with serving([OK], tls=server_ctx) as server, _client() as client:
        with pytest.raises(httpx.ConnectError):  # not in the default trust store
            await client.get(server.url)


def _tls_pair(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for ``localhost`` (openssl), as server and client contexts."""
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client
