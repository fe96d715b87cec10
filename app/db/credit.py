"""Credit repository: holds (reserve), settlement and balances. All money SQL lives here.

A key with a credit limit may spend ``limit`` USD in total, or per UTC day, ISO week or month
when ``limit_reset`` is set. Before any upstream call a request *holds* its quote; the hold is
taken only if ``spent + active holds + quote <= limit``, checked and written in one
transaction with the key's row locked (``SELECT … FOR UPDATE`` on Postgres; on SQLite, which
serves one process, an in-process lock), so concurrent requests on several gateway processes
can never hold more than the limit. The ledger write settles: it deletes the hold and adds the
actual cost, in the same transaction as the generation row. A hold left by a crashed process
stops counting at ``expires_at``.

Arithmetic is done in Python on exact Decimals (SQLite stores money as text).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, CreditHold, Money

RESETS = ("daily", "weekly", "monthly")


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def period_start(reset: str | None, now: datetime) -> datetime | None:
    """Start of the current UTC period for ``reset`` (None: the limit never resets)."""
    if reset is None:
        return None
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if reset == "daily":
        return day
    if reset == "weekly":
        return day - timedelta(days=day.weekday())
    if reset == "monthly":
        return day.replace(day=1)
    raise ValueError(f"unknown limit_reset {reset!r}")


@dataclass(frozen=True, slots=True)
class Balance:
    """What a key may still spend. ``limit`` None: unlimited (then nothing else is known)."""

    limit: Decimal | None
    spent: Decimal  # in the current period (or ever, without a reset)
    held: Decimal  # active holds
    remaining: Decimal | None


def spent_in_period(row: ApiKey, now: datetime) -> Decimal:
    start = period_start(row.limit_reset, now)
    if start is None:
        return row.usage_usd
    if row.period_start is None or row.period_start < start:
        return Decimal(0)
    return row.period_usage_usd


async def _held(session: AsyncSession, key_id: str, now: datetime) -> Decimal:
    stmt = select(func.sum(CreditHold.amount_usd, type_=Money())).where(
        CreditHold.api_key_id == key_id, CreditHold.expires_at > now
    )
    if is_sqlite(session):  # text money: sum exactly in Python
        rows = await session.execute(
            select(CreditHold.amount_usd).where(
                CreditHold.api_key_id == key_id, CreditHold.expires_at > now
            )
        )
        return sum((r[0] for r in rows), Decimal(0))
    total = (await session.execute(stmt)).scalar_one()
    return total or Decimal(0)


def balance_of(row: ApiKey, held: Decimal, now: datetime) -> Balance:
    spent = spent_in_period(row, now)
    if row.limit_usd is None:
        return Balance(None, spent, held, None)
    return Balance(row.limit_usd, spent, held, max(Decimal(0), row.limit_usd - spent - held))


async def balance(session: AsyncSession, row: ApiKey, now: datetime | None = None) -> Balance:
    now = now or datetime.now(UTC)
    return balance_of(row, await _held(session, row.id, now), now)


async def _locked_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    stmt = select(ApiKey).where(ApiKey.id == key_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def hold(
    session: AsyncSession,
    key_id: str,
    hold_id: str,
    amount: Decimal,
    *,
    ttl: timedelta,
    now: datetime | None = None,
) -> tuple[bool, Balance]:
    """Hold ``amount`` for ``hold_id`` (replacing its previous hold) if the key can afford it.

    Returns (taken, balance before this hold). Commits nothing itself: run it in a
    transaction (:func:`hold_in_transaction`).
    """
    now = now or datetime.now(UTC)
    row = await _locked_key(session, key_id)
    if row is None:
        return False, Balance(Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    existing = await session.get(CreditHold, hold_id)
    held = await _held(session, key_id, now)
    if existing is not None and existing.expires_at > now:
        held -= existing.amount_usd
    before = balance_of(row, held, now)
    if before.remaining is not None and amount > before.remaining:
        return False, before
    if existing is None:
        session.add(
            CreditHold(
                id=hold_id,
                api_key_id=key_id,
                amount_usd=amount,
                created_at=now,
                expires_at=now + ttl,
            )
        )
    else:
        existing.amount_usd = amount
        existing.expires_at = now + ttl
    return True, before


async def hold_in_transaction(
    session: AsyncSession,
    key_id: str,
    hold_id: str,
    amount: Decimal,
    *,
    ttl: timedelta,
    lock: asyncio.Lock,
) -> tuple[bool, Balance]:
    """:func:`hold` in its own transaction. ``lock`` serializes it in-process on SQLite, whose
    one process has no row locks (Postgres locks the key's row instead)."""
    if is_sqlite(session):
        async with lock, session.begin():
            return await hold(session, key_id, hold_id, amount, ttl=ttl)
    async with session.begin():
        return await hold(session, key_id, hold_id, amount, ttl=ttl)


async def release(session: AsyncSession, hold_id: str) -> None:
    await session.execute(delete(CreditHold).where(CreditHold.id == hold_id))


async def settle(
    session: AsyncSession,
    key_id: str,
    hold_id: str | None,
    cost: Decimal,
    now: datetime | None = None,
) -> None:
    """Drop the hold and add ``cost`` to the key's lifetime and period usage (in the caller's
    transaction, beside the generation row)."""
    await settle_many(session, [(key_id, hold_id, cost)], now)


async def settle_many(
    session: AsyncSession,
    settlements: Sequence[tuple[str, str | None, Decimal]],
    now: datetime | None = None,
) -> None:
    """:func:`settle` for a batch of ``(key_id, hold_id, cost)``: the holds dropped in one
    statement, each key locked and updated once with its total (the same result as settling
    the rows one by one at ``now``). Keys are locked in a fixed order, so two batches never
    wait on each other's locks."""
    now = now or datetime.now(UTC)
    holds = [hold_id for _, hold_id, _ in settlements if hold_id is not None]
    if len(holds) == 1:
        await release(session, holds[0])
    elif holds:
        await session.execute(delete(CreditHold).where(CreditHold.id.in_(holds)))
    totals: dict[str, Decimal] = {}
    for key_id, _, cost in settlements:
        if cost != 0:
            totals[key_id] = totals.get(key_id, Decimal(0)) + cost
    for key_id in sorted(totals):
        row = await _locked_key(session, key_id)
        if row is None:
            continue
        cost = totals[key_id]
        row.usage_usd = row.usage_usd + cost
        start = period_start(row.limit_reset, now)
        if start is not None:
            current = row.period_usage_usd if row.period_start == start else Decimal(0)
            row.period_start = start
            row.period_usage_usd = current + cost


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete holds past their expiry (left by crashed processes); returns how many."""
    now = now or datetime.now(UTC)
    result = await session.execute(delete(CreditHold).where(CreditHold.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = [
    "RESETS",
    "Balance",
    "balance",
    "hold",
    "hold_in_transaction",
    "is_sqlite",
    "period_start",
    "purge_expired",
    "release",
    "settle",
    "settle_many",
    "spent_in_period",
]
