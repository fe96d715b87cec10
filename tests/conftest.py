"""Shared fixtures: a fresh Postgres database migrated by Alembic, Redis, and live servers.

Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) are required: when they are absent these
fixtures fail with a message, they never skip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis

from app.config import ADAPTER_FIELDS, ProviderSettings, Settings
from app.db.migrate import upgrade
from app.main import create_app
from tests.servers import WORKER, ServerThread

PG_ADMIN_DSN = os.environ.get("IMAGEGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per test session, so concurrent runs on one machine never share one.
TEST_DB = os.environ.get("IMAGEGATE_TEST_DB", f"imagegate_test_{os.getpid()}")
# One Redis database per test process too (15, 14, ... for pytest-xdist's gw0, gw1, ...): each
# flushes its own at the start, and tests use fixed key and slot names.
REDIS_URL = os.environ.get("IMAGEGATE_TEST_REDIS", f"redis://127.0.0.1:6379/{15 - WORKER}")
MASTER_KEY = "test-master-key-0123456789"


def pg_url(db: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{db}"


async def _drop(db: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        await conn.close()


async def _recreate(db: str) -> None:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"Postgres is required for the tests and is not reachable at {PG_ADMIN_DSN}: {exc}"
        )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()


def drop_database(db: str) -> None:
    asyncio.run(_drop(db))


def fresh_database(db: str) -> str:
    """Drop and create ``db``; return its SQLAlchemy URL (not migrated)."""
    asyncio.run(_recreate(db))
    return pg_url(db)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh Postgres database migrated to head by the real Alembic migrations."""
    url = fresh_database(TEST_DB)
    upgrade(url)
    yield url
    drop_database(TEST_DB)


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is required for the tests and is not reachable at {REDIS_URL}: {exc}")
    client.flushdb()
    client.close()
    return REDIS_URL


def make_settings(database_url: str, redis_url: str | None, **overrides: object) -> Settings:
    providers = overrides.pop("providers", None) or ProviderSettings()
    values: dict[str, object] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "master_key": MASTER_KEY,
        "providers": providers,
        "keepalive_s": 3.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def base_gateway(database_url: str, redis_url: str) -> Iterator[ServerThread]:
    """A gateway with no provider credentials: auth, keys, discovery and errors."""
    app = create_app(make_settings(database_url, redis_url))
    with ServerThread(app) as server:
        yield server


@pytest.fixture
def tmp_sqlite(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'imagegate.db'}"


# --------------------------------------------------------------------------------------------
# Every provider simulator behind one loopback server, and a gateway wired to all of them
# --------------------------------------------------------------------------------------------


def sim_key(adapter: str) -> str:
    """The API key a test simulator of ``adapter`` expects (and the gateway sends)."""
    return f"sim-{adapter}-secret-0123456789"


def provider_settings_for(sim_url: str, adapters: Iterable[str]) -> ProviderSettings:
    """ProviderSettings pointing each adapter at its simulator under ``sim_url``, with its key."""
    from app.generation.adapters import simulator_base_url

    values: dict[str, str] = {}
    for adapter in adapters:
        key_field, url_field = ADAPTER_FIELDS[adapter]
        values[_alias(key_field)] = sim_key(adapter)
        values[_alias(url_field)] = simulator_base_url(sim_url, adapter)
    return ProviderSettings(**values)


def _alias(field_name: str) -> str:
    alias = ProviderSettings.model_fields[field_name].validation_alias
    assert isinstance(alias, str)
    return alias


class SimServer:
    """The combined simulator app on a real port; ``sim(name)`` is one simulator's state."""

    def __init__(self) -> None:
        from simulator import SIMULATORS, create_combined_app

        self.names = tuple(SIMULATORS)
        self.app = create_combined_app(api_keys={n: sim_key(n) for n in self.names})
        self.server = ServerThread(self.app, lifespan="off").start()
        self.url = self.server.url

    def sim(self, name: str) -> Any:
        """``SimState`` of one simulator: ``.knobs``, ``.log``, ``.reset()``."""
        return self.app.state.simulators[name].state.sim

    def reset(self) -> None:
        for name in self.names:
            self.sim(name).reset()


@pytest.fixture(scope="session")
def simulators() -> Iterator[SimServer]:
    server = SimServer()
    yield server
    server.server.stop()


@pytest.fixture(scope="session")
def sim_gateway(simulators: SimServer, database_url: str, redis_url: str) -> Iterator[ServerThread]:
    """A gateway with every provider configured, each pointed at its simulator over HTTP.

    The upstream timeout is 2 s so the timeout scenario is quick; tests that need a slow
    generation use their own gateway.
    """
    providers = provider_settings_for(simulators.url, simulators.names)
    settings = make_settings(
        database_url,
        redis_url,
        providers=providers,
        upstream_timeout_s=2.0,
        rate_limit_rpm=100_000,
        reference_allow_networks=["127.0.0.0/8"],
    )
    with ServerThread(create_app(settings)) as server:
        yield server
