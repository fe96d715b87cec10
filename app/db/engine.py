"""Engine and session factories."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.db.urls import engine_options


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


# The serving engine's bounds on Postgres (see make_engine): a server that stops answering
# without closing its connections (paused, or cut off by the network) must not hold requests.
SERVING_CONNECT_TIMEOUT_S = 5.0
SERVING_COMMAND_TIMEOUT_S = 15.0
SERVING_POOL_TIMEOUT_S = 10.0


def make_engine(url: str, *, serving: bool = False) -> AsyncEngine:
    """Create the engine; for SQLite, make sure the file's directory exists.

    ``serving``: the gateway's own engine. On Postgres, opening a connection is bounded by
    ``SERVING_CONNECT_TIMEOUT_S`` (unless the URL's ``connect_timeout`` says otherwise) and
    every statement by ``SERVING_COMMAND_TIMEOUT_S``, and the wait for a pooled connection by
    ``SERVING_POOL_TIMEOUT_S``, so a database that hangs is an outage like one that is down
    (spooled ledger rows, keys from the cache, 503s), not requests held for as long as it
    hangs. Migrations and the CLI keep asyncpg's defaults (no statement bound).
    """
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    url, connect_args = engine_options(url)
    pool: dict[str, float] = {}
    if serving:
        connect_args.setdefault("timeout", SERVING_CONNECT_TIMEOUT_S)
        connect_args.setdefault("command_timeout", SERVING_COMMAND_TIMEOUT_S)
        pool["pool_timeout"] = SERVING_POOL_TIMEOUT_S
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args, **pool
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
