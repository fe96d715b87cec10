"""Credit holds and settlement on both backends: holds never exceed the limit, settlement
replaces the hold with the actual cost, limits reset per UTC period."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import credit
from app.db import keys as key_repo
from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade
from app.db.models import ApiKey

TTL = timedelta(minutes=5)


@pytest.fixture(params=["postgres", "sqlite"])
async def sessions(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "postgres":
        url = database_url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/credit.db"
        await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _key(
    sessions: async_sessionmaker[AsyncSession], limit: str, reset: str | None = None
) -> str:
    async with sessions() as session, session.begin():
        row, _ = await key_repo.create_key(session, name="c", limit_usd=Decimal(limit))
        row.limit_reset = reset
        return row.id


async def _row(sessions: async_sessionmaker[AsyncSession], key_id: str) -> ApiKey:
    async with sessions() as session:
        row = await key_repo.get_key(session, key_id)
        assert row is not None
        return row


async def test_concurrent_holds_never_exceed_the_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions, "1.00")
    lock = asyncio.Lock()

    async def hold(i: int) -> bool:
        async with sessions() as session:
            taken, _ = await credit.hold_in_transaction(
                session, key_id, f"h{i}", Decimal("0.30"), ttl=TTL, lock=lock
            )
            return taken

    results = await asyncio.gather(*(hold(i) for i in range(10)))
    assert sum(results) == 3  # 3 x 0.30 <= 1.00 < 4 x 0.30
    async with sessions() as session:
        balance = await credit.balance(session, await _row(sessions, key_id))
    assert balance.held == Decimal("0.90") and balance.remaining == Decimal("0.10")


async def test_settlement_replaces_the_hold_with_the_actual_cost(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions, "1.00")
    async with sessions() as session:
        await credit.hold_in_transaction(
            session, key_id, "g1", Decimal("0.50"), ttl=TTL, lock=asyncio.Lock()
        )
    async with sessions() as session, session.begin():
        await credit.settle(session, key_id, "g1", Decimal("0.1234567891"))
    row = await _row(sessions, key_id)
    assert row.usage_usd == Decimal("0.1234567891")
    async with sessions() as session:
        balance = await credit.balance(session, row)
    assert balance.held == 0 and balance.remaining == Decimal("0.8765432109")


async def test_a_fallback_requote_replaces_the_hold(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions, "1.00")
    lock = asyncio.Lock()
    async with sessions() as session:
        assert (
            await credit.hold_in_transaction(
                session, key_id, "g", Decimal("0.60"), ttl=TTL, lock=lock
            )
        )[0]
    async with sessions() as session:  # the same request, now quoting its fallback
        taken, before = await credit.hold_in_transaction(
            session, key_id, "g", Decimal("0.90"), ttl=TTL, lock=lock
        )
    assert taken and before.held == 0
    async with sessions() as session:
        assert (await credit.balance(session, await _row(sessions, key_id))).held == Decimal("0.9")


async def test_expired_holds_stop_counting(sessions: async_sessionmaker[AsyncSession]) -> None:
    key_id = await _key(sessions, "1.00")
    async with sessions() as session, session.begin():
        await credit.hold(session, key_id, "old", Decimal("1.00"), ttl=timedelta(seconds=-1))
    async with sessions() as session:
        balance = await credit.balance(session, await _row(sessions, key_id))
    assert balance.held == 0 and balance.remaining == Decimal("1.00")
    async with sessions() as session, session.begin():
        assert await credit.purge_expired(session) == 1


async def test_a_daily_limit_resets_at_utc_midnight(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions, "1.00", reset="daily")
    day1 = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    async with sessions() as session, session.begin():
        await credit.settle(session, key_id, None, Decimal("0.70"), now=day1)
    row = await _row(sessions, key_id)
    assert credit.spent_in_period(row, day1) == Decimal("0.70")
    day2 = datetime(2026, 12, 2, 0, 1, tzinfo=UTC)
    assert credit.spent_in_period(row, day2) == 0
    async with sessions() as session, session.begin():
        await credit.settle(session, key_id, None, Decimal("0.20"), now=day2)
    row = await _row(sessions, key_id)
    assert credit.spent_in_period(row, day2) == Decimal("0.20")
    assert row.usage_usd == Decimal("0.90")  # lifetime usage keeps counting


@pytest.mark.parametrize(
    ("reset", "now", "start"),
    [
        ("daily", datetime(2026, 12, 2, 15, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)),
        ("weekly", datetime(2026, 12, 2, 15, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)),
        ("monthly", datetime(2026, 12, 2, 15, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        (None, datetime(2026, 12, 2, 15, tzinfo=UTC), None),
    ],
)
def test_period_starts(reset: str | None, now: datetime, start: datetime | None) -> None:
    assert credit.period_start(reset, now) == start
