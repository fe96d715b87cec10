"""app/server.py CorkedTransport: a response's head leaves with its body, in one call."""

from __future__ import annotations

import asyncio
from typing import Any

from app.server import CorkedTransport


class Recorder:
    """A transport that records what it was asked to send, call by call."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, ...]] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append((data,))

    def writelines(self, lines: Any) -> None:
        self.calls.append(tuple(lines))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_head_and_body_leave_together_and_later_writes_pass_straight() -> None:
    real = Recorder()
    corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert real.calls == [] and corked.get_write_buffer_size() == 19
    corked.write(b"body")
    assert real.calls == [(b"HTTP/1.1 200 OK\r\n\r\n", b"body")]
    corked.write(b"more")  # a streamed response's next chunk is not held
    assert real.calls[-1] == (b"more",)
    corked.hold_next()  # the next response
    corked.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    await asyncio.sleep(0)  # a head alone leaves on the loop's next turn
    await asyncio.sleep(0)
    assert real.calls[-1] == (b"HTTP/1.1 204 No Content\r\n\r\n",)
    assert corked.get_extra_info("peername") == "info:peername"


async def test_close_sends_what_is_held_first() -> None:
    real = Recorder()
    corked = CorkedTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    corked.write(b"head")
    corked.close()
    assert real.calls == [(b"head",)] and real.closed
    await asyncio.sleep(0)
    assert real.calls == [(b"head",)]  # the scheduled flush finds nothing more to send
