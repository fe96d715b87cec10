"""API key repository: all SQL about keys lives here."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, Generation, Money

KEY_PREFIX = "sk-ig-v1-"
# The columns' bounds, checked by the API and the CLI alike: a name is VARCHAR(200); a limit is
# NUMERIC(20, 10), ten digits before the point and ten after.
NAME_MAX_CHARS = 200
MAX_LIMIT = Decimal("9999999999")
USD_STEP = Decimal("0.0000000001")


def hash_key(raw: str) -> str:
    """SHA-256 of a key. Keys are 256-bit random, so a fast hash is the right tool."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> str:
    return KEY_PREFIX + secrets.token_hex(32)


@dataclass(frozen=True, slots=True)
class UsageWindows:
    daily: Decimal
    weekly: Decimal
    monthly: Decimal


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    limit_usd: Decimal | None = None,
    is_admin: bool = False,
    raw: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key (hash + display prefix only) and return it with the clear key, once."""
    raw = raw or new_raw_key()
    row = ApiKey(
        id=secrets.token_hex(16),
        name=name,
        key_hash=hash_key(raw),
        prefix=raw[: len(KEY_PREFIX) + 4],
        limit_usd=limit_usd,
        usage_usd=Decimal(0),
        disabled=False,
        is_admin=is_admin,
    )
    session.add(row)
    await session.flush()
    return row, raw


async def find_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    ).scalar_one_or_none()


async def get_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_keys(
    session: AsyncSession, *, offset: int = 0, include_disabled: bool = True
) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id).offset(offset)
    if not include_disabled:
        stmt = stmt.where(ApiKey.disabled.is_(False))
    return list((await session.execute(stmt)).scalars())


async def delete_key(session: AsyncSession, key_id: str) -> bool:
    row = await session.get(ApiKey, key_id)
    if row is None:
        return False
    await session.delete(row)
    return True


async def admin_key_exists(session: AsyncSession) -> bool:
    stmt = select(func.count()).select_from(ApiKey).where(ApiKey.is_admin.is_(True))
    return bool((await session.execute(stmt)).scalar_one())


async def usage_windows(
    session: AsyncSession, key_id: str, now: datetime | None = None
) -> UsageWindows:
    """Spend in the current UTC day, ISO week and month, from the generation ledger."""
    now = now or datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    created, cost = Generation.created_at, Generation.cost_usd

    def spent_since(moment: datetime) -> ColumnElement[Decimal | None]:
        return func.sum(case((created >= moment, cost), else_=None), type_=Money())

    # One aggregate over this month's and week's rows: exact NUMERIC sums on Postgres.
    stmt = select(spent_since(day), spent_since(week), spent_since(month)).where(
        Generation.api_key_id == key_id, created >= min(week, month)
    )
    row = (await session.execute(stmt)).one()
    daily, weekly, monthly = (value or Decimal(0) for value in row)
    return UsageWindows(daily, weekly, monthly)


__all__ = [
    "KEY_PREFIX",
    "MAX_LIMIT",
    "NAME_MAX_CHARS",
    "USD_STEP",
    "UsageWindows",
    "admin_key_exists",
    "create_key",
    "delete_key",
    "find_by_hash",
    "get_key",
    "hash_key",
    "list_keys",
    "new_raw_key",
    "usage_windows",
]
