"""A small, fast HTTP/1.1 load generator: its own process, keep-alive connections, httptools.

Run by ``bench/run.py``; prints one JSON object (latencies, errors, partial-image receive times).

Why not an asyncio+httpx client: httpx spends about as much CPU per request as the servers
under test, so at concurrency 16 on two cores it becomes the bottleneck and its own queueing
shows up as "latency" (see RESULTS.md, "load generator"). This client writes pre-built request
bytes on raw asyncio transports (uvloop when installed) and parses answers with httptools (the
C parser uvicorn uses): a few microseconds per request. ``wrk`` would be as fast but cannot
report when each SSE event arrived, which the streaming measurement needs.

Each request's body is the template with ``__ID__`` replaced by a unique id (so streamed
requests can be matched with the simulator's emit log). A response counts as an error unless
it is a 200 whose body contains ``b64_json``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httptools
import orjson

_PARTIAL_INDEX = b'"partial_image_index":'


@dataclass
class Result:
    status: int = 0
    size: int = 0
    ok_body: bool = False
    partials: list[tuple[int, int]] = field(default_factory=list)  # (index, monotonic ns)


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, stream: bool) -> None:
        self.stream = stream
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[Result] | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self.result.status = self.parser.get_status_code()

    def on_body(self, chunk: bytes) -> None:
        result = self.result
        result.size += len(chunk)
        if not result.ok_body:
            window = self.tail + chunk[:64] if self.tail else chunk
            result.ok_body = b"b64_json" in window or b"b64_json" in chunk
            self.tail = chunk[-16:]
        if self.stream:
            self._frames(chunk)

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.result)

    def _frames(self, chunk: bytes) -> None:
        """Note the arrival of each complete SSE frame that carries a partial image."""
        buf = self.buf
        buf += chunk
        start = 0
        while (end := buf.find(b"\n\n", self.scan)) != -1:
            frame_at = -1
            if b"partial_image" in buf[start : start + 128]:
                frame_at = buf.find(_PARTIAL_INDEX, start, min(end, start + 256))
                if frame_at == -1:
                    frame_at = buf.find(_PARTIAL_INDEX, max(start, end - 4096), end)
            if frame_at != -1:
                at = time.monotonic_ns()
                digits = bytes(buf[frame_at + len(_PARTIAL_INDEX) : end]).split(b",")[0]
                digits = digits.strip(b" }\r\n")
                self.result.partials.append((int(digits) if digits.isdigit() else -1, at))
            start = self.scan = end + 2
        del buf[:start]
        self.scan = max(0, len(buf) - 1)

    async def request(self, payload: bytes, limit_s: float) -> Result:
        self.result = Result()
        self.parser = httptools.HttpResponseParser(self)
        self.tail = b""
        self.buf = bytearray()
        self.scan = 0
        loop = asyncio.get_running_loop()
        done = self.done = loop.create_future()
        timer = loop.call_later(
            limit_s, lambda: done.done() or done.set_exception(TimeoutError("no answer"))
        )
        assert self.transport is not None
        self.transport.write(payload)
        try:
            return await done
        finally:
            timer.cancel()


def _request(host: str, port: int, path: str, headers: list[str], body: bytes) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _worker(
    args: argparse.Namespace, template: bytes, counter: list[int], limit: int, out: dict[str, Any]
) -> None:
    loop = asyncio.get_running_loop()
    conn: Connection | None = None
    while counter[0] < limit:
        n = counter[0]
        counter[0] += 1
        rid = f"{args.tag}-{n}"
        payload = _request(
            args.host, args.port, args.path, args.header, template.replace(b"__ID__", rid.encode())
        )
        if conn is None or conn.transport is None or conn.transport.is_closing():
            _, conn = await loop.create_connection(
                lambda: Connection(args.stream), args.host, args.port
            )
        start = time.perf_counter()
        try:
            result = await conn.request(payload, args.timeout)
        except (ConnectionError, TimeoutError, httptools.HttpParserError) as exc:
            out["errors"] += 1
            kind = type(exc).__name__
            out["error_kinds"][kind] = out["error_kinds"].get(kind, 0) + 1
            if conn.transport is not None:
                conn.transport.close()
            conn = None
            continue
        elapsed = time.perf_counter() - start
        if result.status != 200 or not result.ok_body:
            out["errors"] += 1
            kind = f"HTTP {result.status}" + ("" if result.ok_body else " without b64_json")
            out["error_kinds"][kind] = out["error_kinds"].get(kind, 0) + 1
        elif args.record:
            out["latencies_ms"].append(elapsed * 1000)
            out["bytes"] += result.size
            if result.partials:
                out["partials"][rid] = result.partials
    if conn is not None and conn.transport is not None:
        conn.transport.close()


async def _phase(
    args: argparse.Namespace, template: bytes, count: int, record: bool
) -> dict[str, Any]:
    args.record = record
    out: dict[str, Any] = {
        "latencies_ms": [],
        "errors": 0,
        "error_kinds": {},
        "bytes": 0,
        "partials": {},
    }
    counter = [0]
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(args, template, counter, count, out) for _ in range(args.concurrency))
    )
    out["wall_s"] = time.perf_counter() - started
    return out


async def _main(args: argparse.Namespace, template: bytes) -> dict[str, Any]:
    if args.warmup:
        args.tag = "warm"
        await _phase(args, template, args.warmup, record=False)
    args.tag = args.id_prefix
    return await _phase(args, template, args.requests, record=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body", required=True, help="file with the JSON body template")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--stream", action="store_true", help="note partial-image arrivals")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--id-prefix", default="bench")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio works, a little slower
        pass
    with open(args.body, "rb") as handle:
        template = handle.read()
    out = asyncio.run(_main(args, template))
    sys.stdout.buffer.write(orjson.dumps(out))


if __name__ == "__main__":
    main()
