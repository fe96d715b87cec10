"""Activity repository: spend and request aggregates over the generation ledger.

All SQL behind the spend dashboard and ``GET /api/v1/activity`` lives here. Aggregation happens
in the database (one ``GROUP BY`` over the window), and money stays exact on both backends:

* Postgres sums the ``NUMERIC(20, 10)`` column itself: an exact decimal sum.
* SQLite keeps money as decimal text, and its ``SUM`` over text would add binary floats. Each
  row is turned into an integer count of 1e-10 USD (the ledger's single rounding point) and those
  integers are summed, which SQLite does exactly in 64 bits. The conversion reads the text as a
  double first, which is exact after rounding for any row below 900,000 USD (2**53 units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Float, Integer, case, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import ApiKey, Generation, Money

# Ledger amounts are rounded to 1e-10 USD, so every stored amount is a whole number of these.
UNITS_PER_USD = 10**10
MAX_RECENT = 200


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose generations count: one key's (``key_id``), or every key's (``everyone``).

    ``key_id=None`` with ``everyone=False`` means the master key's own rows (it has no key row).
    """

    key_id: str | None
    everyone: bool = False


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group of the ledger: a UTC day × model × provider (× key, when grouped by key)."""

    day: date
    model: str
    provider: str | None
    api_key_id: str | None
    requests: int
    failures: int
    cancelled: int
    images: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal


@dataclass(frozen=True, slots=True)
class RecentGeneration:
    """A ledger row with the name of the key that made it (None for the master key)."""

    row: Generation
    key_name: str | None
    key_label: str | None


def _day(dialect: str) -> ColumnElement[Any]:
    created = Generation.created_at
    if dialect == "postgresql":
        # The column is timestamptz: take the UTC calendar day whatever the session time zone.
        return cast(func.timezone("UTC", created), Date)
    # SQLite stores the UTC timestamp as text; date() reads its first ten characters' day.
    return func.date(created)


def _cost_sum(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.sum(Generation.cost_usd, type_=Money())
    units = cast(func.round(cast(Generation.cost_usd, Float) * UNITS_PER_USD), Integer)
    return func.sum(units, type_=Integer())


def _charged(dialect: str) -> ColumnElement[bool]:
    """The row's cost is above zero (SQLite keeps the money as text: compared as a number)."""
    if dialect == "postgresql":
        return Generation.cost_usd > 0
    return cast(Generation.cost_usd, Float) > 0


def _as_usd(dialect: str, value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    if dialect == "postgresql":
        return Decimal(value)
    return Decimal(int(value)).scaleb(-10)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _in_scope(scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE clauses that keep ``scope``'s rows (none for everyone)."""
    if scope.everyone:
        return []
    if scope.key_id is None:
        return [Generation.api_key_id.is_(None)]
    return [Generation.api_key_id == scope.key_id]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0), type_=Integer())


async def usage(
    session: AsyncSession,
    scope: Scope,
    *,
    since: datetime,
    until: datetime,
    by_key: bool = True,
    billed_only: bool = False,
) -> list[UsageRow]:
    """Aggregates of ``[since, until)`` grouped by UTC day, model, provider (and key).

    ``billed_only`` leaves out failed requests that cost nothing, as OpenRouter's activity
    does; otherwise they are counted in ``requests`` and ``failures``. A failure the provider
    charged for (a BFL task refused after it was accepted, an xAI or Runware image withheld
    with its stated cost) is spend, and stays.
    """
    dialect = session.get_bind().dialect.name
    day = _day(dialect).label("day")
    status = Generation.status
    key_col = Generation.api_key_id if by_key else None
    groups: list[Any] = [day, Generation.model, Generation.provider]
    if key_col is not None:
        groups.append(key_col)
    stmt = select(
        *groups,
        func.count().label("requests"),
        _count_if(status == "failed").label("failures"),
        _count_if(status == "cancelled").label("cancelled"),
        func.coalesce(func.sum(Generation.images), 0).label("images"),
        func.coalesce(
            func.sum(Generation.input_text_tokens + Generation.input_image_tokens), 0
        ).label("prompt_tokens"),
        func.coalesce(
            func.sum(Generation.output_image_tokens + Generation.output_text_tokens), 0
        ).label("completion_tokens"),
        _cost_sum(dialect).label("cost"),
    ).where(Generation.created_at >= since, Generation.created_at < until)
    if billed_only:
        stmt = stmt.where(or_(status != "failed", _charged(dialect)))
    stmt = stmt.where(*_in_scope(scope)).group_by(*groups)
    rows = (await session.execute(stmt)).all()
    return [
        UsageRow(
            day=_as_date(r.day),
            model=r.model,
            provider=r.provider,
            api_key_id=r.api_key_id if by_key else None,
            requests=int(r.requests),
            failures=int(r.failures or 0),
            cancelled=int(r.cancelled or 0),
            images=int(r.images),
            prompt_tokens=int(r.prompt_tokens),
            completion_tokens=int(r.completion_tokens),
            cost=_as_usd(dialect, r.cost),
        )
        for r in rows
    ]


async def recent(
    session: AsyncSession,
    scope: Scope,
    *,
    limit: int = 50,
    offset: int = 0,
    ids: Sequence[str] = (),
) -> list[RecentGeneration]:
    """The newest ledger rows first (optionally only ``ids``), with their key's name."""
    stmt = (
        select(Generation, ApiKey.name, ApiKey.prefix)
        .outerjoin(ApiKey, ApiKey.id == Generation.api_key_id)
        .order_by(Generation.created_at.desc(), Generation.id.desc())
        .limit(max(1, min(limit, MAX_RECENT)))
        .offset(max(0, offset))
    )
    if ids:
        stmt = stmt.where(Generation.id.in_(list(ids)))
    result = await session.execute(stmt.where(*_in_scope(scope)))
    out = []
    for found in result.all():
        row: Generation = found[0]
        name: str | None = found[1]
        prefix: str | None = found[2]
        out.append(RecentGeneration(row, name, None if prefix is None else f"{prefix}..."))
    return out


async def key_names(session: AsyncSession, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``{key id: (name, display label)}`` for the given ids (deleted keys are absent)."""
    if not ids:
        return {}
    stmt = select(ApiKey.id, ApiKey.name, ApiKey.prefix).where(ApiKey.id.in_(list(ids)))
    return {key_id: (name, f"{prefix}...") for key_id, name, prefix in await session.execute(stmt)}


__all__ = ["RecentGeneration", "Scope", "UsageRow", "key_names", "recent", "usage"]
