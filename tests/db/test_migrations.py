"""The real Alembic migrations: reversible, and in step with the models, on both backends."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from app.db.engine import make_engine
from app.db.migrate import downgrade, upgrade
from app.db.models import Base
from tests.conftest import drop_database, fresh_database


def _inspect(url: str) -> tuple[set[str], list[object]]:
    async def run() -> tuple[set[str], list[object]]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:

                def work(sync: Connection) -> tuple[set[str], list[object]]:
                    tables = set(inspect(sync).get_table_names())
                    ctx = MigrationContext.configure(sync, opts={"compare_type": True})
                    return tables, compare_metadata(ctx, Base.metadata)

                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture(params=["postgres", "sqlite"])
def empty_db(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    if request.param == "postgres":
        name = f"imagegate_migrations_{os.getpid()}"
        yield fresh_database(name)
        drop_database(name)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path}/m.db"


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    upgrade(empty_db)
    tables, diff = _inspect(empty_db)
    assert {"api_keys", "generations", "alembic_version"} <= tables
    assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(empty_db, "base")
    tables, _ = _inspect(empty_db)
    assert tables <= {"alembic_version"}
    upgrade(empty_db)
    tables, _ = _inspect(empty_db)
    assert "generations" in tables
