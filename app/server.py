"""How the gateway is served: uvicorn, with a deadline on request headers.

uvicorn bounds idle keep-alive connections (``timeout_keep_alive``), but a connection that
opens and then sends its headers slowly, or never, is held forever: one client can hold
thousands of sockets that way. :class:`HeaderDeadlineProtocol` closes a connection whose
request headers are not complete within ``IMAGEGATE_HEADER_TIMEOUT_S`` of the connection
opening (or of the previous response on a kept-alive connection), or whose request line and
headers pass ``MAX_HEAD_BYTES`` (httptools bounds neither). Request *bodies* have their
own deadline in the request guard (:mod:`app.middleware`).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_HEADER_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5  # idle kept-alive connections are closed after this
MAX_HEAD_BYTES = 64 * 1024  # a request line and headers larger than this: 431, closed
HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose headers never complete.

    The deadline is ``IMAGEGATE_HEADER_TIMEOUT_S`` (read once per process), unless a subclass
    sets ``header_timeout_s`` (tests). The class is named by import path, so worker processes
    can load it too.
    """

    header_timeout_s: float | None = None

    _deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0  # bytes received while this request's headers are incomplete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = CorkedTransport(transport, self.loop)  # type: ignore[assignment]
        if self.header_timeout_s is None:
            self.header_timeout_s = _configured_timeout()
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._deadline is None or self.transport.is_closing():
            return  # headers complete (or closed): the body has its own bounds
        self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:  # httptools itself sets no bound: 431, close
            self._disarm()
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._head_bytes = 0
        timeout = self.header_timeout_s or DEFAULT_HEADER_TIMEOUT_S
        self._deadline = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if isinstance(self.transport, CorkedTransport):
            self.transport.hold_next()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class CorkedTransport:
    """A connection's transport that sends a response's head together with its body.

    uvicorn writes a response's head and its body in two calls: two syscalls and two TCP
    segments for every small answer (a loopback send is among the most expensive things the
    gateway does per request). Here the first write of each response (its head, armed by
    :meth:`hold_next`) is held and goes out with the next write as one ``writelines`` (one
    ``writev``, nothing joined); a head with no body after it leaves on the loop's next turn.
    Closing sends what is held first; anything else is the real transport's.
    """

    __slots__ = ("_held", "_hold", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._hold = True

    def hold_next(self) -> None:
        self._hold = True

    def write(self, data: bytes) -> None:
        if self._hold:
            self._hold = False
            self._held = data
            self._loop.call_soon(self.flush)
        elif self._held is not None:
            held, self._held = self._held, None
            self._transport.writelines((held, data))
        else:
            self._transport.write(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def get_write_buffer_size(self) -> int:
        held = len(self._held) if self._held is not None else 0
        return self._transport.get_write_buffer_size() + held

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, abort, ...
        return getattr(self._transport, name)


@functools.cache
def _configured_timeout() -> float:
    from app.config import get_settings

    return get_settings().header_timeout_s


def server_options(header_timeout_s: float | None = None) -> dict[str, Any]:
    """uvicorn options the gateway runs with (``imagegate serve`` and the tests).

    Without ``header_timeout_s`` the protocol is named by import path and reads the configured
    deadline itself (what worker processes need); with it, a subclass bound to that value (a
    class uvicorn cannot hand to other processes: in-process servers only).
    """
    http: Any = "app.server:HeaderDeadlineProtocol"
    if header_timeout_s is not None:
        bound = {"header_timeout_s": header_timeout_s}
        http = type("HeaderDeadline", (HeaderDeadlineProtocol,), bound)
    return {
        "http": http,
        "timeout_keep_alive": KEEP_ALIVE_S,
        "h11_max_incomplete_event_size": 64 * 1024,
    }
