from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from app.db.migrate import upgrade
from app.main import create_app
from tests.conftest import make_settings
from tests.private_services import PrivatePostgres, PrivateRedis
from tests.servers import ServerThread


def test_health_and_ready(base_gateway: ServerThread) -> None:
    assert httpx.get(f"{base_gateway.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{base_gateway.url}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "limits": "ok"}


def test_ready_is_degraded_while_the_spool_takes_rows_and_503_once_it_cannot(
    redis_url: str, tmp_path: Path
) -> None:
    dead = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    settings = make_settings(dead, redis_url, spool_dir=tmp_path / "spool")
    with ServerThread(create_app(settings)) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        ready = httpx.get(f"{server.url}/ready", timeout=30)
        # rows are spooled and replayed: the replica keeps serving the keys it knows
        assert ready.status_code == 200, ready.text
        assert "retry-after" not in ready.headers
        body = ready.json()
        assert body["status"] == "degraded"
        assert body["checks"]["database"].startswith("error")
        assert body["checks"]["spool"] == "ok"
        # the spool directory gone and a file in its place: nothing could keep the rows now
        (spool,) = (tmp_path / "spool").iterdir()
        shutil.rmtree(spool)
        spool.write_text("")
        down = httpx.get(f"{server.url}/ready", timeout=30)
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert down.json()["status"] == "unavailable"
        assert down.json()["checks"]["database"].startswith("error")
        assert down.json()["checks"]["spool"].startswith("error: FileExistsError")
        spool.unlink()  # writable again: degraded, back in the balancer
        assert httpx.get(f"{server.url}/ready", timeout=30).json()["status"] == "degraded"


def test_ready_is_degraded_not_down_when_redis_is_down(database_url: str) -> None:
    with ServerThread(create_app(make_settings(database_url, "redis://127.0.0.1:1/0"))) as server:
        ready = httpx.get(f"{server.url}/ready", timeout=30)
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["redis"].startswith("degraded")


def _pause(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        os.kill(pid, sig)


def test_ready_answers_within_a_probe_timeout_while_database_and_redis_hang(
    tmp_path: Path,
) -> None:
    """Postgres and Redis both paused (every process stopped: they accept, never answer). The
    manifests' readiness probe waits 3 s; /ready checked them one after the other (2 s + 1 s),
    so every probe timed out and each replica left the balancer, though it answers "degraded"
    (known keys served, rows spooled)."""
    with PrivatePostgres() as pg, PrivateRedis() as redis:
        upgrade(pg.url())
        settings = make_settings(pg.url(), redis.url, spool_dir=tmp_path / "spool")
        with ServerThread(create_app(settings)) as server:
            assert httpx.get(f"{server.url}/ready").json()["status"] == "ok"
            postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
            children = subprocess.run(
                ["ps", "-o", "pid=", "--ppid", str(postmaster)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert redis.proc is not None
            paused = [postmaster, *map(int, children), redis.proc.pid]
            _pause(paused, signal.SIGSTOP)
            try:
                httpx.get(f"{server.url}/ready", timeout=30)  # the first also closes the pool's
                for _ in range(2):
                    started = time.monotonic()
                    ready = httpx.get(f"{server.url}/ready", timeout=30)
                    assert time.monotonic() - started < 2.8
                    assert ready.status_code == 200, ready.text
                    assert ready.json()["status"] == "degraded"
                    assert ready.json()["checks"]["redis"].startswith("degraded")
            finally:
                _pause(paused, signal.SIGCONT)
