"""Run ASGI apps on real loopback ports (uvicorn in a thread) for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Protocol, TypeVar

import uvicorn


class _Resettable(Protocol):
    def reset(self) -> None: ...


StateT = TypeVar("StateT", bound=_Resettable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerThread:
    """A uvicorn server in a daemon thread; ``url`` is its base URL once started."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from app.server import server_options

        # the gateway's own protocol (header deadline, head and body sent together), as
        # `imagegate serve` runs it; the deadline bound here so no settings are read
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan=lifespan,
            **server_options(30.0),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("server thread died during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in 20 s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def served_simulator(app: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """For a module fixture: (URL + ``path``, the simulator's state) while a provider
    simulator app is served over real HTTP."""
    with ServerThread(app, lifespan="off") as server:
        yield f"{server.url}{path}", app.state.sim


def fresh(state: StateT) -> StateT:
    """A simulator's state with its knobs, log and counters reset for the next test."""
    state.reset()
    return state
