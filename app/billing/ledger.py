"""The generation ledger: one row per request, written off the response path.

The write is started before the response is sent and runs as a background task: it never
delays the response, it is retried on transient database errors, and shutdown waits for it.
A write that still fails after the retries is logged in full so it can be replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import credit
from app.db.models import Generation

log = logging.getLogger("imagegate.ledger")


@dataclass(frozen=True)
class GenerationRecord:
    id: str
    api_key_id: str | None
    model: str
    provider: str | None
    status: str  # succeeded | failed | cancelled
    created_at: datetime
    completed_at: datetime
    request_params: dict[str, Any] = field(default_factory=dict)
    error_code: int | None = None
    error_message: str | None = None
    streamed: bool = False
    images: int = 0
    pixels: int = 0
    resolution: str | None = None
    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    upstream_id: str | None = None
    latency_ms: int | None = None
    attempts: int = 1
    user_agent: str | None = None
    route: str = "images"  # the door the request came in by
    hold_id: str | None = None  # the credit hold this row settles (not stored in the row)


async def write(
    sessionmaker: async_sessionmaker[AsyncSession],
    record: GenerationRecord,
    lock: asyncio.Lock | None = None,
) -> None:
    """Insert the row, settle its credit hold and add its cost to the key's usage, in one
    transaction (``lock`` serializes money writes on SQLite, see :mod:`app.db.credit`)."""
    async with sessionmaker() as session:
        serialize = lock is not None and credit.is_sqlite(session)
        async with contextlib.AsyncExitStack() as stack:
            if serialize:
                assert lock is not None
                await stack.enter_async_context(lock)
            async with session.begin():
                fields = asdict(record)
                fields.pop("hold_id")
                session.add(Generation(**fields))
                if record.api_key_id is not None:
                    await credit.settle(session, record.api_key_id, record.hold_id, record.cost_usd)


async def write_with_retry(
    sessionmaker: async_sessionmaker[AsyncSession],
    record: GenerationRecord,
    attempts: int = 5,
    lock: asyncio.Lock | None = None,
) -> None:
    delay = 0.05
    for attempt in range(1, attempts + 1):
        try:
            await write(sessionmaker, record, lock)
            return
        except Exception:
            if attempt == attempts:
                log.exception("ledger write failed for good; record=%r", asdict(record))
                return
            log.warning("ledger write failed (attempt %d), retrying", attempt, exc_info=True)
            await asyncio.sleep(delay)
            delay *= 4


async def fetch(
    sessionmaker: async_sessionmaker[AsyncSession], generation_id: str
) -> Generation | None:
    async with sessionmaker() as session:
        stmt = select(Generation).where(Generation.id == generation_id)
        return (await session.execute(stmt)).scalar_one_or_none()
