"""Serve the simulators on a loopback port inside the current event loop (demo mode).

The gateway's own uvicorn server owns the process's logging and signals, so this second
server must touch neither: it is built with no logging configuration and no log level (either
would reset the ``uvicorn.*`` loggers the gateway's lines go through), it is started with
``startup``/``main_loop`` rather than ``serve`` (which would print "Started server process"
again and take over SIGINT/SIGTERM), and its connections write no access lines: the simulated
provider calls are the gateway's business, not the operator's.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn


class InProcessServer:
    """A uvicorn server running as a task of the current loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], sock: socket.socket):
        self._server = server
        self._task = task
        self._sock = sock

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task
        await self._server.shutdown(sockets=[self._sock])


def _quiet(protocol: type[Any]) -> type[Any]:
    """The HTTP protocol class, without access lines."""

    class Quiet(protocol):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.access_log = False

    return Quiet


async def start_in_process(host: str = "127.0.0.1") -> tuple[InProcessServer, str]:
    """Start every simulator under its prefix; return the server and its base URL."""
    from simulator import create_combined_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_combined_app(), log_config=None, log_level=None, lifespan="off", host=host
    )
    config.load()
    config.http_protocol_class = _quiet(config.http_protocol_class)
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    task = asyncio.create_task(server.main_loop())
    return InProcessServer(server, task, sock), f"http://{host}:{port}"
