"""Shared fixtures: a fresh Postgres database migrated by Alembic, Redis, and live servers.

Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) are required: when they are absent these
fixtures fail with a message, they never skip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis

from app.config import ProviderSettings, Settings
from app.db.migrate import upgrade
from app.main import create_app
from tests.servers import ServerThread

PG_ADMIN_DSN = os.environ.get("IMAGEGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One database per test session, so concurrent runs on one machine never share one.
TEST_DB = os.environ.get("IMAGEGATE_TEST_DB", f"imagegate_test_{os.getpid()}")
REDIS_URL = os.environ.get("IMAGEGATE_TEST_REDIS", "redis://127.0.0.1:6379/15")
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
