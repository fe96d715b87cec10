"""Which database errors are an outage (spool the row, answer 503, retry later) and which are a
refusal of the data (dead-letter it): a row must never be dead-lettered for a transient
condition of the server, such as a failover that leaves the old address read-only."""

from __future__ import annotations

import asyncpg
import asyncpg.exceptions as pg
import pytest
from sqlalchemy import text

from app.db.engine import make_engine
from app.db.outage import is_outage


@pytest.mark.parametrize(
    "error",
    [
        pg.ReadOnlySQLTransactionError,  # 25006: a failed-over primary, reached at its old address
        pg.DeadlockDetectedError,  # 40P01
        pg.SerializationError,  # 40001
        pg.DiskFullError,  # 53100
        pg.OutOfMemoryError,  # 53200
        pg.TooManyConnectionsError,  # 53300
        pg.QueryCanceledError,  # 57014: statement_timeout on the server
        pg.LockNotAvailableError,  # 55P03
        pg.AdminShutdownError,  # 57P01
        pg.CannotConnectNowError,  # 57P03
    ],
)
def test_transient_server_conditions_are_outages(error: type[asyncpg.PostgresError]) -> None:
    assert is_outage(error("transient"))


@pytest.mark.parametrize(
    "error",
    [
        pg.UniqueViolationError,  # 23505
        pg.NotNullViolationError,  # 23502
        pg.StringDataRightTruncationError,  # 22001
        pg.UndefinedColumnError,  # 42703: a schema the code does not match
    ],
)
def test_refusals_of_the_data_are_not_outages(error: type[asyncpg.PostgresError]) -> None:
    assert not is_outage(error("refused"))


async def test_a_write_on_a_read_only_server_is_an_outage_as_sqlalchemy_raises_it(
    database_url: str,
) -> None:
    """The real error, through SQLAlchemy, as the ledger writer meets it after a failover."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION READ ONLY"))
            with pytest.raises(Exception) as caught:
                await conn.execute(text("CREATE TABLE read_only_probe (x int)"))
        assert "read-only" in str(caught.value)
        assert is_outage(caught.value)
    finally:
        await engine.dispose()
