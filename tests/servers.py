"""Run ASGI apps on real loopback ports (uvicorn in a thread) for tests."""

from __future__ import annotations

import itertools
import os
import random
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


# This test process's index: 0, or N for pytest-xdist's worker "gwN".
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)

# Ports are handed out below the kernel's ephemeral range (32768+), which it never picks for a
# connection or a bind to port 0: each test process takes its own share of 20000..31999, in
# turn from a random start, so two processes never get one port, and a port handed out for
# "nobody listens here" stays so.
_BLOCK = 12000 // max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
_FIRST = 20000 + WORKER * _BLOCK
_ports = itertools.islice(
    itertools.cycle(range(_FIRST, _FIRST + _BLOCK)), random.randrange(_BLOCK), None
)


def free_port() -> int:
    """A loopback port no one listens on, not handed out before by this process recently."""
    for port in itertools.islice(_ports, _BLOCK):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_FIRST}..{_FIRST + _BLOCK - 1}")


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
