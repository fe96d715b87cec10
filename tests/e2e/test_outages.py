"""Faults under load: Postgres stopped, Redis killed. No lost ledger rows, no 500s, no resets.

Each test starts its own private Postgres or Redis (tests/private_services.py) and stops it
while a load of requests runs through a gateway wired to the provider simulators.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.db import engine
from app.db.migrate import upgrade
from app.main import create_app
from tests.conftest import MASTER_KEY, SimServer, make_settings, provider_settings_for
from tests.private_services import PrivatePostgres, PrivateRedis
from tests.servers import ServerThread

# The suite stops the database for 5 s; IMAGEGATE_TEST_OUTAGE_S=60 runs the full minute
# (the spool does not care how long: the short run keeps the suite fast).
OUTAGE_S = float(os.environ.get("IMAGEGATE_TEST_OUTAGE_S", "5"))

BODY = {"model": "openai/gpt-image-1.5", "prompt": "load", "quality": "low", "size": "1024x1024"}


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    with PrivatePostgres() as pg:
        upgrade(pg.url())
        yield pg


async def _load(
    url: str, key: str, seconds: float, concurrency: int = 6
) -> list[tuple[int, str | None]]:
    """Requests back to back for ``seconds``: (status or -1 for a transport error, gen id)."""
    results: list[tuple[int, str | None]] = []
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=60) as client:

        async def worker() -> None:
            while time.monotonic() < deadline:
                try:
                    resp = await client.post(
                        f"{url}/api/v1/images",
                        json=BODY,
                        headers={"authorization": f"Bearer {key}"},
                    )
                    results.append((resp.status_code, resp.headers.get("x-generation-id")))
                except httpx.TransportError:
                    results.append((-1, None))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def _rows(pg: PrivatePostgres) -> dict[str, str]:
    conn = await asyncpg.connect(pg.url().replace("+asyncpg", ""))
    try:
        return {
            r["id"]: r["status"] for r in await conn.fetch("SELECT id, status FROM generations")
        }
    finally:
        await conn.close()


def _spooling_settings(
    private_pg: PrivatePostgres, simulators: SimServer, redis_url: str, tmp_path: Path
) -> Settings:
    """The gateway on the private Postgres, spooling under ``tmp_path``, no rate limit."""
    return make_settings(
        private_pg.url(),
        redis_url,
        providers=provider_settings_for(simulators.url, simulators.names),
        spool_dir=tmp_path / "spool",
        rate_limit_rpm=1_000_000,
    )


def test_a_postgres_outage_under_load_loses_no_ledger_row(
    private_pg: PrivatePostgres,
    simulators: SimServer,
    redis_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="imagegate.ledger")
    simulators.reset()
    settings = _spooling_settings(private_pg, simulators, redis_url, tmp_path)
    with ServerThread(create_app(settings)) as gateway:
        created = httpx.post(
            f"{gateway.url}/api/v1/keys",
            json={"name": "load"},
            headers={"authorization": f"Bearer {MASTER_KEY}"},
        ).json()
        key = created["key"]

        async def scenario() -> list[tuple[int, str | None]]:
            load = asyncio.create_task(_load(gateway.url, key, seconds=OUTAGE_S + 4))
            await asyncio.sleep(2)
            await asyncio.to_thread(private_pg.stop)
            await asyncio.sleep(OUTAGE_S)  # the database is away while the load runs
            async with httpx.AsyncClient() as client:
                down = await client.get(f"{gateway.url}/ready", timeout=10)
            # the spool takes the ledger rows: the replica stays in the balancer, degraded
            assert down.status_code == 200, down.text
            assert "retry-after" not in down.headers
            body = down.json()
            assert body["status"] == "degraded"
            assert body["checks"]["database"].startswith("error: ")
            assert body["checks"]["spool"] == "ok"
            assert body["ledger_spooled"] > 0  # rows are waiting on disk for the database
            await asyncio.to_thread(private_pg.start)
            return await load

        results = asyncio.run(scenario())
        statuses = [s for s, _ in results]
        assert set(statuses) <= {200, 503}, statuses  # never a 500, never a reset
        assert statuses.count(200) > 10
        served = {gid for status, gid in results if status == 200}
        deadline = time.monotonic() + 20 + OUTAGE_S
        rows: dict[str, str] = {}
        while time.monotonic() < deadline:
            rows = asyncio.run(_rows(private_pg))
            if served <= set(rows):
                break
            time.sleep(0.5)
        assert served <= set(rows), f"{len(served - set(rows))} served generation(s) lost"
        assert all(rows[gid] == "succeeded" for gid in served)
        ready = httpx.get(f"{gateway.url}/ready").json()
        assert ready["ledger_spooled"] == 0
        assert ready["status"] == "ok" and "spool" not in ready["checks"]
        # the outage really sent rows to the spool, and they were replayed
        assert any("spooled for replay" in r.message for r in caplog.records)
        assert any(r.message.startswith("replayed") for r in caplog.records)
        me = httpx.get(f"{gateway.url}/api/v1/key", headers={"authorization": f"Bearer {key}"})
        usage = me.json()["data"]["usage"]
        costs = asyncio.run(_costs(private_pg, served))
        assert abs(usage - costs) < 1e-9  # every row settled once: no duplicates


async def _costs(pg: PrivatePostgres, ids: set[str]) -> float:
    conn = await asyncpg.connect(pg.url().replace("+asyncpg", ""))
    try:
        total = await conn.fetchval(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM generations WHERE id = ANY($1::text[])",
            list(ids),
        )
        return float(total)
    finally:
        await conn.close()


def test_a_postgres_that_hangs_holds_no_request(
    private_pg: PrivatePostgres,
    simulators: SimServer,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database that stops answering without closing its connections (``docker pause``, a
    network cut) is an outage like a stopped one: a key seen recently goes on being served
    without waiting for it, a request that needs the database is a 503 within the engine's
    bounds, and every served row is written once the database answers again."""
    monkeypatch.setattr(engine, "SERVING_CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.setattr(engine, "SERVING_COMMAND_TIMEOUT_S", 2.0)
    monkeypatch.setattr(engine, "SERVING_POOL_TIMEOUT_S", 2.0)
    simulators.reset()
    settings = _spooling_settings(private_pg, simulators, redis_url, tmp_path)
    with ServerThread(create_app(settings)) as gateway, httpx.Client(timeout=5) as client:
        admin = {"authorization": f"Bearer {MASTER_KEY}"}
        url = f"{gateway.url}/api/v1/keys"
        free = client.post(url, json={"name": "free"}, headers=admin).json()["key"]
        held = client.post(url, json={"name": "held", "limit": 100}, headers=admin).json()["key"]

        def post(key: str, timeout: float = 5) -> httpx.Response:
            return client.post(
                f"{gateway.url}/api/v1/images",
                json=BODY,
                headers={"authorization": f"Bearer {key}"},
                timeout=timeout,
            )

        assert post(held).status_code == 200  # both keys are in the cache now
        first = post(free)
        assert first.status_code == 200
        served = {first.headers["x-generation-id"]}
        private_pg.pause()
        try:
            paused = time.monotonic()
            while time.monotonic() - paused < 4:  # past the cache's 1 s freshness, repeatedly
                started = time.monotonic()
                resp = post(free)  # the old gateway waited here for as long as it hung
                assert resp.status_code == 200, resp.text
                assert time.monotonic() - started < 2
                served.add(resp.headers["x-generation-id"])
            # a key with a credit limit needs the database for its hold: a clean 503, bounded
            started = time.monotonic()
            refused = post(held, timeout=30)
            assert refused.status_code == 503, refused.text
            assert "retry-after" in refused.headers
            assert time.monotonic() - started < 10
        finally:
            private_pg.resume()
        deadline = time.monotonic() + 30
        rows: dict[str, str] = {}
        while time.monotonic() < deadline and not served <= set(rows):
            time.sleep(0.5)
            rows = asyncio.run(_rows(private_pg))
        assert served <= set(rows), f"{len(served - set(rows))} served generation(s) lost"


def test_redis_gone_keeps_serving_and_comes_back_by_itself(
    simulators: SimServer, database_url: str
) -> None:
    simulators.reset()
    with PrivateRedis() as private:
        settings = make_settings(
            database_url,
            private.url,
            providers=provider_settings_for(simulators.url, simulators.names),
            rate_limit_rpm=1_000_000,
        )
        with ServerThread(create_app(settings)) as gateway:

            def post() -> int:
                return httpx.post(
                    f"{gateway.url}/api/v1/images",
                    json=BODY,
                    headers={"authorization": f"Bearer {MASTER_KEY}"},
                    timeout=30,
                ).status_code

            def ready() -> dict[str, Any]:
                result: dict[str, Any] = httpx.get(f"{gateway.url}/ready", timeout=10).json()
                return result

            assert post() == 200 and ready()["status"] == "ok"
            private.stop()
            assert [post() for _ in range(5)] == [200] * 5  # served with in-process limits
            degraded = ready()
            assert degraded["status"] == "degraded"
            assert degraded["checks"]["limits"].startswith("in process")
            private.start()  # same port, empty server
            returned = time.monotonic()
            while ready()["checks"]["limits"] != "ok" or ready()["status"] != "ok":
                post()  # the limiter notices Redis again on its next call
                assert time.monotonic() - returned < 1, ready()
                time.sleep(0.1)
            assert post() == 200
