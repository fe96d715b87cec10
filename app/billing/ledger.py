"""The generation ledger: one row per request, written off the response path, never lost.

:class:`LedgerWriter` takes finished records (``submit`` never blocks and never touches the
database), and one background task writes them in batches: under load, every row that is
waiting goes into the same transaction. Each row is inserted idempotently (``ON CONFLICT DO
NOTHING`` on the generation id) and settles its credit hold and key usage only when it was
really inserted, so a row written twice is counted once.

When the database cannot be reached, rows go to a durable local spool (:mod:`app.billing.spool`:
JSON lines, fsync'd) instead of being dropped, and while the spool holds rows every new row is
appended after them, so order is kept. A replayer retries the spool every second and, once the
database is back, writes it in order and deletes it. A row the database refuses for its data
(a bug, not an outage) is written to a dead-letter file and logged, never retried forever.
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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.billing.spool import Spool
from app.db import credit
from app.db.models import Generation
from app.db.outage import is_outage

log = logging.getLogger("imagegate.ledger")

BATCH_MAX = 200
RETRY_DELAYS_S = (0.05, 0.2, 0.5)  # quick retries before a batch goes to the spool
REPLAY_EVERY_S = 1.0


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

    def row(self) -> dict[str, Any]:
        """The ``generations`` columns."""
        fields = asdict(self)
        fields.pop("hold_id")
        return fields


async def _insert(session: AsyncSession, record: GenerationRecord) -> bool:
    """Insert the row unless it exists; True when this call inserted it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Generation)
        .values(**record.row())
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(Generation.id)
    )
    return (await session.execute(stmt)).first() is not None


async def write_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    records: list[GenerationRecord],
    lock: asyncio.Lock | None = None,
) -> None:
    """One transaction: insert the rows, settle the holds of those really inserted."""
    async with sessionmaker() as session:
        serialize = lock is not None and credit.is_sqlite(session)
        async with contextlib.AsyncExitStack() as stack:
            if serialize:
                assert lock is not None
                await stack.enter_async_context(lock)
            async with session.begin():
                for record in records:
                    if await _insert(session, record) and record.api_key_id is not None:
                        await credit.settle(
                            session, record.api_key_id, record.hold_id, record.cost_usd
                        )


async def write(
    sessionmaker: async_sessionmaker[AsyncSession],
    record: GenerationRecord,
    lock: asyncio.Lock | None = None,
) -> None:
    """Write one row now (tests and tools; the gateway goes through :class:`LedgerWriter`)."""
    await write_batch(sessionmaker, [record], lock)


class LedgerWriter:
    """Queue → batched, idempotent writes → spool while the database is away → replay."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        spool: Spool,
        lock: asyncio.Lock | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._spool = spool
        self._lock = lock
        self._queue: asyncio.Queue[GenerationRecord] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._replayer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def spooled(self) -> int:
        """Rows waiting in the spool for the database."""
        return self._spool.pending

    def start(self) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="ledger-writer")
            self._replayer = asyncio.create_task(self._replay_loop(), name="ledger-replayer")

    def submit(self, record: GenerationRecord) -> None:
        """Queue one row (never blocks, never raises for the database's sake)."""
        self._idle.clear()
        self._queue.put_nowait(record)
        self.start()

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_MAX and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._store(batch)
            except Exception:  # never let the writer die; the rows are already logged
                log.exception("ledger writer failed on %d row(s)", len(batch))
            if self._queue.empty():
                self._idle.set()

    async def _store(self, batch: list[GenerationRecord]) -> None:
        if self._spool.pending:  # keep order: older rows are waiting in the spool
            await self._spool.append(batch)
            return
        for delay in (*RETRY_DELAYS_S, None):
            try:
                await write_batch(self._sessionmaker, batch, self._lock)
                return
            except Exception as exc:
                if not is_outage(exc):
                    await self._one_by_one(batch)
                    return
                if delay is None:
                    log.warning(
                        "database unreachable (%s): %d ledger row(s) spooled for replay",
                        type(exc).__name__,
                        len(batch),
                    )
                    await self._spool.append(batch)
                    return
                await asyncio.sleep(delay)

    async def _one_by_one(self, batch: list[GenerationRecord]) -> None:
        """A batch the database refused: write each row alone, dead-letter the bad ones."""
        for record in batch:
            try:
                await write_batch(self._sessionmaker, [record], self._lock)
            except Exception as exc:
                if is_outage(exc):
                    await self._spool.append([record])
                else:
                    log.error("ledger row %s refused by the database: %s", record.id, exc)
                    await self._spool.dead_letter(record)

    async def _replay_loop(self) -> None:
        while True:
            await asyncio.sleep(REPLAY_EVERY_S)
            if self._spool.pending or self._spool.has_files():
                with contextlib.suppress(Exception):
                    await self.replay()

    async def replay(self) -> int:
        """Write the spooled rows in order; returns how many were replayed."""
        total = 0
        async with contextlib.aclosing(self._spool.batches(BATCH_MAX)) as batches:
            async for batch, done in batches:
                try:
                    await write_batch(self._sessionmaker, batch, self._lock)
                except Exception as exc:
                    if is_outage(exc):
                        return total
                    await self._one_by_one(batch)
                await done()
                total += len(batch)
        if total:
            log.warning("replayed %d spooled ledger row(s)", total)
        return total

    async def drain(self, wait_s: float = 10.0) -> None:
        """Wait for queued rows to be written (or spooled), e.g. before shutting down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), wait_s)

    async def close(self, wait_s: float = 10.0) -> None:
        await self.drain(wait_s)
        for task in (self._writer, self._replayer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def fetch(
    sessionmaker: async_sessionmaker[AsyncSession], generation_id: str
) -> Generation | None:
    async with sessionmaker() as session:
        stmt = select(Generation).where(Generation.id == generation_id)
        return (await session.execute(stmt)).scalar_one_or_none()


__all__ = ["GenerationRecord", "LedgerWriter", "fetch", "is_outage", "write", "write_batch"]
