"""The activity repository on both backends: grouping by UTC day, scopes, and exact money.

SQLite keeps money as text; a plain ``SUM`` there would add binary floats (0.1 + 0.2 ≠ 0.3).
These amounts are chosen so that any float on the way shows up in the result.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import activity as repo
from app.db import keys as key_repo
from app.db.engine import make_engine, make_sessionmaker
from app.db.migrate import upgrade
from app.db.models import Generation

# A window in the past that no other test writes to (the Postgres database is shared).
DAY1 = datetime(2001, 3, 10, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
SINCE, UNTIL = DAY1, DAY1 + timedelta(days=2)


@pytest.fixture(params=["postgres", "sqlite"])
async def sessions(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    if request.param == "postgres":
        url = database_url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/activity.db"
        await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    maker = make_sessionmaker(engine)
    async with maker() as session, session.begin():
        # rows of earlier parametrizations (same shared Postgres database) must not count
        await session.execute(
            text("DELETE FROM generations WHERE created_at >= :a AND created_at < :b"),
            {"a": SINCE - timedelta(days=1), "b": UNTIL + timedelta(days=1)},
        )
    yield maker
    await engine.dispose()


def _gen(
    key_id: str | None,
    at: datetime,
    cost: str,
    *,
    model: str = "openai/gpt-image-1.5",
    provider: str | None = "openai",
    status: str = "succeeded",
    images: int = 1,
) -> Generation:
    return Generation(
        id=f"gen-test-{secrets.token_hex(8)}",
        api_key_id=key_id,
        model=model,
        provider=provider,
        status=status,
        images=images,
        input_text_tokens=10,
        input_image_tokens=5,
        output_image_tokens=100,
        output_text_tokens=1,
        cost_usd=Decimal(cost),
        request_params={},
        created_at=at,
        completed_at=at,
    )


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    async with sessions() as session, session.begin():
        a, _ = await key_repo.create_key(session, name="key a")
        b, _ = await key_repo.create_key(session, name="key b")
        noon1, noon2 = DAY1 + timedelta(hours=12), DAY2 + timedelta(hours=12)
        session.add_all(
            [
                _gen(a.id, noon1, "0.1000000001"),
                _gen(a.id, noon1, "0.2000000002"),
                # 0.1 + 0.2 in binary floating point is 0.30000000000000004
                _gen(a.id, noon1, "0.1", model="recraft/recraft-v3", provider="recraft"),
                _gen(a.id, noon1, "0.2", model="recraft/recraft-v3", provider="recraft"),
                # the last moment of day 1 and the first of day 2 fall on their own days
                _gen(a.id, DAY2 - timedelta(microseconds=1), "0.0000000001"),
                _gen(a.id, DAY2, "123456.7890123456", model="black-forest-labs/flux.2-pro",
                     provider="black-forest-labs", images=2),
                _gen(a.id, noon2, "0", status="failed", provider=None, images=0),
                _gen(a.id, noon2, "0.05", status="cancelled"),
                _gen(b.id, noon1, "0.3"),
                _gen(None, noon2, "0.7"),  # the master key
                # just outside the window on both sides
                _gen(a.id, SINCE - timedelta(microseconds=1), "9"),
                _gen(a.id, UNTIL, "9"),
            ]
        )  # fmt: skip
    return a.id, b.id


async def _usage(
    sessions: async_sessionmaker[AsyncSession], scope: repo.Scope, **kw: bool
) -> list[repo.UsageRow]:
    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # the day is the UTC day whatever the connection's time zone
            await session.execute(text("SET TIME ZONE 'Asia/Tokyo'"))
        return await repo.usage(session, scope, since=SINCE, until=UNTIL, **kw)


Group = tuple[date, str, str | None, str | None]


def _by(rows: list[repo.UsageRow]) -> dict[Group, repo.UsageRow]:
    return {(r.day, r.model, r.provider, r.api_key_id): r for r in rows}


async def test_one_key_grouped_by_day_and_model_with_exact_sums(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, _ = await _seed(sessions)
    rows = _by(await _usage(sessions, repo.Scope(key_id=a)))
    gpt, flux2 = "openai/gpt-image-1.5", "black-forest-labs/flux.2-pro"
    assert set(rows) == {
        (DAY1.date(), gpt, "openai", a),
        (DAY1.date(), "recraft/recraft-v3", "recraft", a),
        (DAY2.date(), gpt, "openai", a),
        (DAY2.date(), gpt, None, a),  # the failed request never reached a provider
        (DAY2.date(), flux2, "black-forest-labs", a),
    }
    assert rows[(DAY1.date(), "recraft/recraft-v3", "recraft", a)].cost == Decimal("0.3")
    day1 = rows[(DAY1.date(), gpt, "openai", a)]
    assert day1.cost == Decimal("0.3000000004")  # 0.1000000001 + 0.2000000002 + 0.0000000001
    assert (day1.requests, day1.failures, day1.images) == (3, 0, 3)
    assert (day1.prompt_tokens, day1.completion_tokens) == (45, 303)
    flux = rows[(DAY2.date(), flux2, "black-forest-labs", a)]
    assert flux.cost == Decimal("123456.7890123456") and flux.images == 2
    cancelled = rows[(DAY2.date(), gpt, "openai", a)]
    assert (cancelled.cost, cancelled.cancelled, cancelled.failures) == (Decimal("0.05"), 1, 0)
    failed = rows[(DAY2.date(), gpt, None, a)]
    assert (failed.cost, failed.failures, failed.images) == (Decimal(0), 1, 0)


async def test_failed_requests_count_as_failures_unless_billed_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, _ = await _seed(sessions)
    rows = await _usage(sessions, repo.Scope(key_id=a))
    assert sum(r.requests for r in rows) == 8
    assert sum(r.failures for r in rows) == 1
    billed = await _usage(sessions, repo.Scope(key_id=a), billed_only=True)
    assert sum(r.requests for r in billed) == 7
    assert sum(r.failures for r in billed) == 0
    assert sum((r.cost for r in billed), Decimal(0)) == Decimal("123457.4390123460")


async def test_everyone_and_the_master_key(sessions: async_sessionmaker[AsyncSession]) -> None:
    a, b = await _seed(sessions)
    everyone = await _usage(sessions, repo.Scope(key_id=None, everyone=True))
    assert {r.api_key_id for r in everyone} == {a, b, None}
    assert sum((r.cost for r in everyone), Decimal(0)) == Decimal("123458.4390123460")
    master = await _usage(sessions, repo.Scope(key_id=None))
    assert [(r.api_key_id, r.cost) for r in master] == [(None, Decimal("0.7"))]
    only_b = await _usage(sessions, repo.Scope(key_id=b))
    assert [(r.day, r.cost) for r in only_b] == [(DAY1.date(), Decimal("0.3"))]


async def test_without_keys_rows_merge_across_keys(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _seed(sessions)
    rows = await _usage(sessions, repo.Scope(key_id=None, everyone=True), by_key=False)
    day1 = [r for r in rows if r.day == DAY1.date() and r.model == "openai/gpt-image-1.5"]
    assert len(day1) == 1 and day1[0].api_key_id is None
    assert day1[0].cost == Decimal("0.6000000004") and day1[0].requests == 4


async def test_recent_is_newest_first_with_key_names(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = await _seed(sessions)
    async with sessions() as session:
        mine = await repo.recent(session, repo.Scope(key_id=a), limit=3)
        assert [i.row.created_at for i in mine] == sorted(
            (i.row.created_at for i in mine), reverse=True
        )
        assert {i.key_name for i in mine} == {"key a"}
        assert all(i.key_label and i.key_label.startswith("sk-ig-v1-") for i in mine)
        wanted = mine[1].row.id
        assert [i.row.id for i in await repo.recent(session, repo.Scope(a), ids=[wanted])] == [
            wanted
        ]
        # another key's generation is not found through this key's scope
        assert await repo.recent(session, repo.Scope(key_id=b), ids=[wanted]) == []
        names = await repo.key_names(session, [a, b, "missing"])
    assert {k: v[0] for k, v in names.items()} == {a: "key a", b: "key b"}


async def test_a_charged_failure_is_spend_even_when_billed_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A failure the provider charged for (a BFL task moderated after it was accepted) is in the
    key's usage, so it is in the activity too; a free failure is not."""
    async with sessions() as session, session.begin():
        key, _ = await key_repo.create_key(session, name="charged")
        noon = DAY1 + timedelta(hours=12)
        flux = "black-forest-labs/flux.2-pro"
        session.add_all(
            [
                _gen(key.id, noon, "0.03", model=flux, provider="black-forest-labs",
                     status="failed", images=0),
                _gen(key.id, noon, "0", model=flux, provider="black-forest-labs",
                     status="failed", images=0),
                _gen(key.id, noon, "0.0000000001", model=flux, provider="black-forest-labs",
                     status="failed", images=0),
            ]
        )  # fmt: skip
    billed = await _usage(sessions, repo.Scope(key_id=key.id), billed_only=True)
    assert [(r.requests, r.failures, r.cost) for r in billed] == [(2, 2, Decimal("0.0300000001"))]
