"""``imagegate serve --workers N``: N processes whose shared state (Postgres, Redis) stays exact,
and a clear refusal on the embedded default."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import MASTER_KEY, REDIS_URL
from tests.e2e.conftest import SIM_KEY, Sim
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}
BODY = {"model": "openai/gpt-image-1.5", "prompt": "x", "quality": "low", "size": "1024x1024"}


def _workers(pid: int) -> list[int]:
    """Child processes of ``pid`` running a uvicorn worker (not multiprocessing's tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"resource_tracker" not in cmdline:
                found.append(int(entry))
    return found


def test_workers_are_refused_on_the_embedded_default(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "IMAGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ig.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    message = done.stderr.decode()
    assert "--workers 2 needs Postgres" in message
    assert "one process owns the SQLite database" in message


@pytest.fixture(scope="module")
def two_workers(
    sims: tuple[Sim, Sim],
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path_factory.mktemp("home")),
        "IMAGEGATE_DATABASE_URL": database_url,
        "IMAGEGATE_REDIS_URL": REDIS_URL,
        "IMAGEGATE_MASTER_KEY": MASTER_KEY,
        "OPENAI_API_KEY": SIM_KEY,
        "IMAGEGATE_OPENAI_BASE_URL": f"{sims[0].url}/v1",
        "IMAGEGATE_LOG_LEVEL": "WARNING",
    }
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while len(_workers(proc.pid)) < 2 or not _up(url):
        assert proc.poll() is None, "the gateway exited during start-up"
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.2)
    yield url, proc.pid
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def _burst(url: str, key: str, count: int) -> list[tuple[int, float]]:
    """(status, usage.cost) of each request; a new connection each, so the kernel spreads
    them over both workers."""

    async def one() -> tuple[int, float]:
        async with httpx.AsyncClient(timeout=60) as client:
            resp = await client.post(
                f"{url}/api/v1/images", json=BODY, headers={"authorization": f"Bearer {key}"}
            )
            cost = resp.json()["usage"]["cost"] if resp.status_code == 200 else 0.0
            return resp.status_code, cost

    return list(await asyncio.gather(*(one() for _ in range(count))))


def test_two_workers_share_one_rate_limit_and_one_ledger(
    two_workers: tuple[str, int], sim_a: Sim
) -> None:
    url, pid = two_workers
    assert len(_workers(pid)) == 2  # the supervisor runs two worker processes
    created = httpx.post(
        f"{url}/api/v1/keys", json={"name": "workers", "rate_limit_rpm": 5}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    results = asyncio.run(_burst(url, key, 12))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 5 + [429] * 7  # one window, not one per process
    assert len(sim_a.requests) == 5
    billed = sum(cost for _, cost in results)
    assert billed > 0
    deadline = time.monotonic() + 10
    while True:  # the ledger rows land just after the responses, from either worker
        usage = httpx.get(f"{url}/api/v1/key", headers={"authorization": f"Bearer {key}"}).json()[
            "data"
        ]["usage"]
        if abs(usage - billed) < 1e-9 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert usage == pytest.approx(billed, abs=1e-9)


def _loaded(pid: int, library: str) -> bool:
    """Whether process ``pid`` has a shared object whose path contains ``library`` mapped."""
    return library in Path(f"/proc/{pid}/maps").read_text()


def test_the_supervisor_does_not_hold_the_gateway(two_workers: tuple[str, int]) -> None:
    """The process that ran the start-up checks became uvicorn's supervisor alone (same PID):
    the gateway's compiled modules are loaded in each worker and not in it."""
    _, pid = two_workers
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert b"app.supervise" in cmdline
    workers = _workers(pid)
    assert len(workers) == 2
    for library in ("asyncpg/protocol", "pydantic_core", "PIL/_imaging"):
        assert all(_loaded(worker, library) for worker in workers), library
        assert not _loaded(pid, library), library
