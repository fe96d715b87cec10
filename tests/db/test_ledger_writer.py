"""The ledger writer: rows queued off the response path land in batched transactions, with the
same money result as row-by-row settlement, on both backends."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.billing.ledger import GenerationRecord, LedgerWriter, write
from app.db import credit
from app.db import keys as key_repo
from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade
from app.db.models import ApiKey, CreditHold, Generation


@pytest.fixture(params=["postgres", "sqlite"])
async def sessions(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "postgres":
        url = database_url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/ledger.db"
        await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _key(sessions: async_sessionmaker[AsyncSession], limit: str | None = None) -> str:
    async with sessions() as session, session.begin():
        row, _ = await key_repo.create_key(
            session, name="ledger", limit_usd=Decimal(limit) if limit else None
        )
        return row.id


def _record(key_id: str, cost: str, hold_id: str | None = None) -> GenerationRecord:
    now = datetime.now(UTC)
    return GenerationRecord(
        id=f"gen-test-{secrets.token_hex(8)}",
        api_key_id=key_id,
        model="openai/gpt-image-1.5",
        provider="openai",
        status="succeeded",
        created_at=now,
        completed_at=now,
        request_params={"size": "1024x1024"},
        images=1,
        cost_usd=Decimal(cost),
        hold_id=hold_id,
    )


async def _rows(sessions: async_sessionmaker[AsyncSession], key_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Generation).where(Generation.api_key_id == key_id)
        return int((await session.execute(stmt)).scalar_one())


async def test_a_burst_of_rows_lands_in_few_transactions_with_exact_totals(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = await _key(sessions), await _key(sessions)
    writer = LedgerWriter(sessions, asyncio.Lock())
    for i in range(60):
        writer.submit(_record(a if i % 3 else b, "0.0123"))
    await writer.flush()
    assert writer.rows == 60
    assert writer.batches < 10  # coalesced, not one transaction per row
    assert await _rows(sessions, a) == 40 and await _rows(sessions, b) == 20
    async with sessions() as session:
        usage = {k.id: k.usage_usd for k in (await session.execute(select(ApiKey))).scalars()}
    assert usage[a] == Decimal("0.0123") * 40
    assert usage[b] == Decimal("0.0123") * 20


async def test_a_row_that_settles_a_hold_is_written_without_lingering(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions, limit="1")
    hold_id = f"gen-test-{secrets.token_hex(8)}"
    lock = asyncio.Lock()
    async with sessions() as session:
        taken, _ = await credit.hold_in_transaction(
            session, key_id, hold_id, Decimal("0.5"), ttl=timedelta(minutes=5), lock=lock
        )
    assert taken
    writer = LedgerWriter(sessions, lock)
    writer.submit(_record(key_id, "0.2", hold_id))
    # the linger is 50 ms; a hold cuts it short, so the row is in well before a second passes
    for _ in range(100):
        if await _rows(sessions, key_id) == 1:
            break
        await asyncio.sleep(0.01)
    assert await _rows(sessions, key_id) == 1
    async with sessions() as session:
        held = select(func.count()).select_from(CreditHold).where(CreditHold.id == hold_id)
        holds = (await session.execute(held)).scalar_one()
        key = await session.get(ApiKey, key_id)
    assert holds == 0
    assert key is not None and key.usage_usd == Decimal("0.2")


async def test_a_row_asked_for_is_waited_for_without_its_linger(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a linger far longer than the wait: only asking for the row can get it written in time
    monkeypatch.setattr("app.billing.ledger.LINGER_S", 30.0)
    key_id = await _key(sessions)
    writer = LedgerWriter(sessions, asyncio.Lock())
    record = _record(key_id, "0.01")
    writer.submit(record)
    await writer.settled("gen-test-someone-elses")  # not held here: returns at once
    assert await _rows(sessions, key_id) == 0
    await asyncio.wait_for(writer.settled(record.id, wait_s=5.0), 5.0)
    assert await _rows(sessions, key_id) == 1
    await writer.settled(record.id)  # written: nothing to wait for
    await writer.close()


async def test_one_bad_row_does_not_lose_the_batch(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions)
    writer = LedgerWriter(sessions, asyncio.Lock())
    good = [_record(key_id, "0.01") for _ in range(5)]
    duplicate = good[0]  # the same primary key twice: that row alone fails
    for record in [*good, duplicate]:
        writer.submit(record)
    await writer.flush(wait_s=30)
    assert await _rows(sessions, key_id) == 5


async def test_a_row_whose_key_was_deleted_while_it_ran_is_kept_without_its_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # DELETE /api/v1/keys/{hash} while one of the key's generations is in flight: the row
    # (what was generated, what it cost) was refused by the foreign key and dead-lettered
    kept, gone = await _key(sessions), await _key(sessions)
    async with sessions() as session, session.begin():
        taken, _ = await credit.hold(
            session, gone, "gen-hold-gone", Decimal("0.04"), ttl=timedelta(minutes=5)
        )
    assert taken
    async with sessions() as session, session.begin():
        assert await key_repo.delete_key(session, gone)
    orphan = _record(gone, "0.0375", hold_id="gen-hold-gone")
    other = _record(kept, "0.01")
    writer = LedgerWriter(sessions, asyncio.Lock())
    writer.submit(orphan)
    writer.submit(other)
    await writer.flush(wait_s=30)
    async with sessions() as session:
        row = await session.get(Generation, orphan.id)
        assert row is not None, "the row of a deleted key was lost"
        assert row.api_key_id is None and row.cost_usd == Decimal("0.0375")
        key = await session.get(ApiKey, kept)
    assert await _rows(sessions, kept) == 1  # the rest of its batch landed as usual
    assert key is not None and key.usage_usd == Decimal("0.01")


async def test_a_row_written_again_in_a_later_batch_is_not_billed_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_id = await _key(sessions)
    first, second, third = (_record(key_id, cost) for cost in ("0.25", "0.5", "0.125"))
    await write(sessions, [first], asyncio.Lock())
    # a spool replay may carry rows that already landed: only the new ones count
    await write(sessions, [second, first, third], asyncio.Lock())
    await write(sessions, [third], asyncio.Lock())
    assert await _rows(sessions, key_id) == 3
    async with sessions() as session:
        key = await session.get(ApiKey, key_id)
    assert key is not None and key.usage_usd == Decimal("0.875")


async def test_every_column_of_a_batch_reads_back_as_written(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Postgres batches go out as one array per column: every column, null or not, of rows
    that differ in each, reads back exactly (money to the last digit, aware timestamps, JSON)."""
    key_id = await _key(sessions)
    created = datetime(2026, 12, 2, 10, 0, 0, 123456, tzinfo=UTC)
    full = GenerationRecord(
        id=f"gen-test-{secrets.token_hex(8)}",
        api_key_id=key_id,
        model="openai/gpt-image-1.5",
        provider="openai",
        status="failed",
        created_at=created,
        completed_at=created + timedelta(seconds=3),
        request_params={"size": "1024x1024", "n": 2, "nested": {"a": [1, "é", None]}},
        error_code=429,
        error_message="quota ' \" \\ exceeded",
        streamed=True,
        images=2,
        pixels=2 * 1024 * 1024 * 1024,  # past 32 bits
        resolution="1K",
        input_text_tokens=11,
        input_image_tokens=12,
        output_image_tokens=13,
        output_text_tokens=14,
        cost_usd=Decimal("0.0000000001"),
        upstream_id="resp_1",
        latency_ms=3001,
        attempts=2,
        user_agent="OpenRouter/Python",
        route="openai.generations",
    )
    sparse = GenerationRecord(
        id=f"gen-test-{secrets.token_hex(8)}",
        api_key_id=None,
        model="google/gemini-2.5-flash-image",
        provider=None,
        status="cancelled",
        created_at=created,
        completed_at=created,
        cost_usd=Decimal("12345.6789012345"),
    )
    await write(sessions, [full, sparse, full])  # the repeat is not inserted twice
    async with sessions() as session:
        stmt = select(Generation).where(Generation.id.in_([full.id, sparse.id]))
        rows = {g.id: g for g in (await session.execute(stmt)).scalars()}
    assert len(rows) == 2
    for record in (full, sparse):
        row = rows[record.id]
        assert {name: getattr(row, name) for name in record.row()} == record.row()


async def test_a_batch_is_stored_as_sqlalchemy_stores_a_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The batch statements store each value in the very form SQLAlchemy's own INSERT does
    (timestamps' text on SQLite, money, booleans, JSON), compared column by column raw."""
    key_id = await _key(sessions)
    base = _record(key_id, "0.0123456789")
    base = replace(
        base, error_code=500, streamed=True, latency_ms=12, user_agent="ua", pixels=5 * 2**32
    )
    by_orm = replace(base, id=f"gen-test-{secrets.token_hex(8)}")
    async with sessions() as session, session.begin():
        session.add(Generation(**by_orm.row()))
    await write(sessions, [base])
    async with sessions() as session:
        raw = (
            await session.execute(
                text("SELECT * FROM generations WHERE id IN (:a, :b)"),
                {"a": base.id, "b": by_orm.id},
            )
        ).mappings()
        rows = {r["id"]: dict(r) for r in raw}
    mine, theirs = rows.pop(base.id), rows.pop(by_orm.id)
    mine.pop("id"), theirs.pop("id")
    assert mine == theirs
