"""Alembic environment: async engines for both Postgres (asyncpg) and SQLite (aiosqlite).

On Postgres the whole upgrade runs in one transaction that first takes an advisory lock, so
several processes migrating at once (replicas with IMAGEGATE_MIGRATE_ON_START, two migration
Jobs) run one after the other: the later ones find the schema at head and do nothing.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.db.engine import make_engine
from app.db.models import Base

config = context.config
target_metadata = Base.metadata
# pg_advisory_xact_lock key for migrations (any fixed bigint; "imagegate" in ASCII, truncated)
MIGRATION_LOCK = 0x696D61676567617465 >> 16


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # held until the transaction below commits; Alembic reads the version after it
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    # read under the lock: what this run found, for the caller to report
    config.attributes["revisions_before"] = tuple(context.get_context().get_current_heads())
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_async(config.get_main_option("sqlalchemy.url") or ""))
