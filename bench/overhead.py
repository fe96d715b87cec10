"""Gateway overhead: the same requests straight to the OpenAI simulator, then through imagegate.

Run: .venv/bin/python bench/overhead.py [--requests 200] [--concurrency 16] [--db URL]
The simulator and the gateway run as separate processes on loopback (`imagegate simulate`,
`imagegate serve`), so neither shares a GIL with the load generator; the request loop is bounded
and stops by itself. Prints latency percentiles for each path and their difference (the
gateway's cost).
Default database: a throwaway SQLite file; pass --db postgresql+asyncpg://… for Postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


KEY = "bench-master-key"


async def _run(
    url: str, headers: dict[str, str], body: dict[str, object], n: int, conc: int
) -> list[float]:
    sem = asyncio.Semaphore(conc)
    times: list[float] = []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=conc)) as client:

        async def one() -> None:
            async with sem:
                start = time.perf_counter()
                resp = await client.post(url, json=body, headers=headers)
                resp.raise_for_status()
                times.append(time.perf_counter() - start)

        await asyncio.gather(*(one() for _ in range(n)))
    return times


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _summary(name: str, times: list[float]) -> dict[str, float]:
    q = statistics.quantiles(times, n=100)
    stats = {
        "p50": q[49] * 1000,
        "p90": q[89] * 1000,
        "p99": q[98] * 1000,
        "mean": statistics.mean(times) * 1000,
    }
    print(f"{name:10} " + "  ".join(f"{k}={v:7.1f}ms" for k, v in stats.items()))
    return stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--db")
    args = parser.parse_args()
    sim_port, gw_port = free_port(), free_port()
    sim_url, gw_url = f"http://127.0.0.1:{sim_port}/openai", f"http://127.0.0.1:{gw_port}"
    env = {
        **os.environ,
        "IMAGEGATE_DATABASE_URL": args.db or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db",
        "IMAGEGATE_MASTER_KEY": KEY,
        "IMAGEGATE_RATE_LIMIT_RPM": str(10**9),
        "IMAGEGATE_LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": "bench",
        "IMAGEGATE_OPENAI_BASE_URL": f"{sim_url}/v1",
    }
    cli = [sys.executable, "-m", "app.cli"]
    procs = [
        subprocess.Popen(
            [*cli, "simulate", "--port", str(sim_port)],
            env=env,
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*cli, "serve", "--port", str(gw_port)], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
        ),
    ]
    _wait(f"http://127.0.0.1:{sim_port}/")
    _wait(f"{gw_url}/health")
    try:
        prompt = {"prompt": "benchmark", "quality": "low", "size": "1024x1024"}
        direct = asyncio.run(
            _run(
                f"{sim_url}/v1/images/generations",
                {"authorization": "Bearer bench"},
                {"model": "gpt-image-1.5", **prompt},
                args.requests,
                args.concurrency,
            )
        )
        routed = asyncio.run(
            _run(
                f"{gw_url}/api/v1/images",
                {"authorization": f"Bearer {KEY}"},
                {"model": "openai/gpt-image-1.5", **prompt},
                args.requests,
                args.concurrency,
            )
        )
        a, b = _summary("direct", direct), _summary("gateway", routed)
        print("overhead   " + "  ".join(f"{k}={b[k] - a[k]:7.1f}ms" for k in a))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
