"""The OpenAI simulator as the benchmark's upstream: fixed payload, several workers, emit log.

Run by ``bench/run.py`` as ``uvicorn simserver:app --factory --app-dir bench --workers K``.
Environment: ``BENCH_FIXED_IMAGE`` (``tiny``, ``noise`` or a path; see the simulator's
``fixed_image`` knob) and, optionally, ``BENCH_EMIT_LOG``: a file to which every partial-image
event is appended as ``<prompt>\\t<partial index>\\t<CLOCK_MONOTONIC ns>`` at the moment the
simulator hands it to the server. CLOCK_MONOTONIC is one clock for every process on the
machine, so the load generator's receive times can be compared with these.

Paced streams: the simulator answers at once, so a stream's two partial images and its final
image (12 MB at 4 MB each) leave together and the relay time of each partial measures how fast
three processes move 12 MB on the machine's cores. Real partial images arrive seconds apart.
A request whose prompt starts with ``bench paced`` (the load generator's ``--id-prefix
paced…``) has each of its image events held ``BENCH_PACE_S`` (default 0.05 s) before it is
handed over, and timed as it is handed over, so each partial is relayed on its own.
"""

from __future__ import annotations

import asyncio
import os
import re
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.knobs import Knobs
from simulator.openai import create_app
from simulator.render import fixed_image

_INDEX = re.compile(rb'"partial_image_index":(\d+)')
PACED = "bench paced"


class EmitLog:
    """Notes when each partial-image frame leaves the simulator (body read for its prompt)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            prompt = str(orjson.loads(body).get("prompt", ""))
        except (orjson.JSONDecodeError, AttributeError):
            prompt = ""
        sent = False
        pace = float(os.environ.get("BENCH_PACE_S", "0.05")) if prompt.startswith(PACED) else 0.0

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if pace and (b"partial_image" in chunk[:64] or b".completed" in chunk[:64]):
                    await asyncio.sleep(pace)
                if b"partial_image" in chunk[:64]:
                    match = _INDEX.search(chunk, max(0, len(chunk) - 2048))
                    index = match.group(1).decode() if match else "?"
                    line = f"{prompt}\t{index}\t{time.monotonic_ns()}\n"
                    os.write(self.fd, line.encode())
            await send(message)

        await self.app(scope, replay, timed)


def app() -> ASGIApp:
    knobs = Knobs(fixed_image=os.environ.get("BENCH_FIXED_IMAGE", "tiny"))
    fixed_image(knobs.fixed_image)  # encode before the first request
    sim: ASGIApp = create_app(knobs)
    log = os.environ.get("BENCH_EMIT_LOG")
    return EmitLog(sim, log) if log else sim
