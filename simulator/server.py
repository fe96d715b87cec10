"""Serve the simulators on a loopback port inside the current event loop (demo mode)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn


class InProcessServer:
    """A uvicorn server running as a task of the current loop."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        self._server = server
        self._task = task

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task


async def start_in_process(host: str = "127.0.0.1") -> tuple[InProcessServer, str]:
    """Start every simulator under its prefix; return the server and its base URL."""
    from simulator import create_combined_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_combined_app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return InProcessServer(server, task), f"http://{host}:{port}"
