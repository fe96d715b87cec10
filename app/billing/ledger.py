"""The generation ledger: one row per request, written off the response path, never lost.

:class:`LedgerWriter` takes finished records (``submit`` never blocks and never touches the
database) and one background task writes them in batches: rows that arrive while a batch is
being written, and those that arrive within ``LINGER_S`` (50 ms) of the first, share one
transaction (one row costs ~1.5 ms of CPU alone, 30-60 µs in a batch of 40). A row that
settles a credit hold cuts the linger short, so held credit is released at once. Rows are
inserted with one bulk, idempotent ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING id``
whose rows come from one parameter per column (Postgres) or per batch (SQLite), and only the
rows really inserted settle their credit holds and add to their keys' usage: a row written
twice (a replay, a retry after a lost answer) is counted once.

When the database cannot be reached, rows go to a durable local spool (:mod:`app.billing.spool`:
JSON lines, fsync'd) instead of being dropped, and while the spool holds rows every new row is
appended after them, so order is kept. A replayer retries the spool every second and, once the
database is back, writes it in order and deletes it. A row the database refuses for its data
(a bug, not an outage) is written to a dead-letter file and logged, never retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import JSON, Table, TextClause, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.billing.spool import Spool
from app.db import credit
from app.db.models import Generation
from app.db.outage import causes, is_outage

log = logging.getLogger("imagegate.ledger")

MAX_BATCH = 256
LINGER_S = 0.05
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
        """The ``generations`` columns (not ``asdict``: it deep-copies request_params)."""
        return {name: getattr(self, name) for name in _COLUMNS}


_COLUMNS = tuple(f.name for f in fields(GenerationRecord) if f.name != "hold_id")


@functools.cache
def _unnest_statement() -> tuple[TextClause, tuple[tuple[str, bool], ...]]:
    """Postgres: one statement for a batch of any length, its columns passed as arrays.

    The multi-row ``INSERT … VALUES`` that SQLAlchemy builds for a batch costs it ~80 µs of
    CPU per row (its per-row parameter processing), and its SQL text changes with the number
    of rows. ``INSERT … SELECT * FROM unnest(…)`` takes one array per column: one statement,
    prepared once per connection, whose rows the driver encodes in C. Returns the statement
    and, per column, its name and whether it is JSON (sent as text, as SQLAlchemy sends it).
    """
    table = Generation.__table__
    assert isinstance(table, Table)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    columns = [c for c in table.columns if c.name in _COLUMNS]
    names = ", ".join(c.name for c in columns)
    arrays = ", ".join(f"CAST(:{c.name} AS {c.type.compile(dialect=dialect)}[])" for c in columns)
    sql = (  # built from the table's own column names and types: no caller text in it
        f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608
        "ON CONFLICT (id) DO NOTHING RETURNING id"
    )
    return text(sql), tuple((c.name, isinstance(c.type, JSON)) for c in columns)


@functools.cache
def _json_each_statement() -> tuple[TextClause, tuple[tuple[str, Any], ...]]:
    """SQLite: one statement for a batch of any length, its rows passed as one JSON array.

    The same reason as :func:`_unnest_statement` (SQLAlchemy's per-row work, ~55 µs of the
    event loop's CPU per row), the same shape: ``json_each`` turns the array into rows. Each
    value is first put through SQLAlchemy's own bind processor for its column on SQLite, so
    every column is stored exactly as SQLAlchemy stores it (timestamps' text form, money as
    decimal text, booleans as 0/1, JSON as text). Returns the statement and, per column, its
    name and bind processor (or None).
    """
    table = Generation.__table__
    assert isinstance(table, Table)
    dialect = sqlite.dialect()
    columns = [c for c in table.columns if c.name in _COLUMNS]
    names = ", ".join(c.name for c in columns)
    values = ", ".join(f"value ->> {i}" for i in range(len(columns)))
    sql = (  # built from the table's own column names: no caller text in it
        f"INSERT INTO {table.name} ({names}) SELECT {values} FROM json_each(:rows) "  # noqa: S608
        "WHERE true ON CONFLICT (id) DO NOTHING RETURNING id"  # WHERE: SQLite's upsert syntax
    )
    processors = tuple(
        (c.name, c.type.dialect_impl(dialect).bind_processor(dialect)) for c in columns
    )
    return text(sql), processors


async def _insert(session: AsyncSession, records: Sequence[GenerationRecord]) -> set[str]:
    """Insert the rows that do not exist yet; the ids this call really inserted."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt, columns = _unnest_statement()
        params = {
            name: [json.dumps(getattr(r, name)) for r in records]
            if is_json
            else [getattr(r, name) for r in records]
            for name, is_json in columns
        }
        result = await session.execute(stmt, params)
    else:  # SQLite, the only other backend
        stmt, processors = _json_each_statement()
        rows = [
            [
                process(value) if process is not None and value is not None else value
                for name, process in processors
                for value in (getattr(r, name),)
            ]
            for r in records
        ]
        result = await session.execute(stmt, {"rows": orjson.dumps(rows).decode()})
    return {row[0] for row in result.all()}


async def write(
    sessionmaker: async_sessionmaker[AsyncSession],
    record: GenerationRecord | Sequence[GenerationRecord],
    lock: asyncio.Lock | None = None,
) -> None:
    """One transaction: insert the rows, settle the holds and usage of those really inserted
    (``lock`` serializes money writes on SQLite, see :mod:`app.db.credit`)."""
    records = (record,) if isinstance(record, GenerationRecord) else tuple(record)
    async with sessionmaker() as session:
        serialize = lock is not None and credit.is_sqlite(session)
        async with contextlib.AsyncExitStack() as stack:
            if serialize:
                assert lock is not None
                await stack.enter_async_context(lock)
            async with session.begin():
                inserted = await _insert(session, records)
                await credit.settle_many(
                    session,
                    [
                        (r.api_key_id, r.hold_id, r.cost_usd)
                        for r in records
                        if r.api_key_id is not None and r.id in inserted
                    ],
                )


class LedgerWriter:
    """Queue → batched, idempotent writes → spool while the database is away → replay."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        lock: asyncio.Lock | None = None,
        spool: Spool | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._lock = lock
        self._spool = spool
        self._queue: asyncio.Queue[GenerationRecord] = asyncio.Queue()
        self._urgent = asyncio.Event()  # a queued row settles a credit hold: write now
        self._pending: set[str] = set()  # ids submitted and not yet written or spooled
        self._writer: asyncio.Task[None] | None = None
        self._replayer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions attempted (observability, tests)
        self.rows = 0

    @property
    def spooled(self) -> int:
        """Rows waiting in the spool for the database."""
        return self._spool.pending if self._spool is not None else 0

    async def spool_problem(self) -> str | None:
        """Why rows could not be spooled now (no spool, or it cannot be written), or None."""
        if self._spool is None:
            return "no spool configured"
        return await self._spool.problem()

    def start(self) -> None:
        """Start the writer (and, with a spool, the replayer) on the running loop."""
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        if self._spool is not None and (self._replayer is None or self._replayer.done()):
            self._replayer = asyncio.get_running_loop().create_task(self._replay_loop())

    def submit(self, record: GenerationRecord) -> None:
        """Queue one row (never blocks, never raises for the database's sake)."""
        self._queue.put_nowait(record)
        self._pending.add(record.id)
        if record.hold_id is not None:
            self._urgent.set()
        self.start()

    async def settled(self, generation_id: str, wait_s: float = 2.0) -> None:
        """Return once this process holds no unwritten row for ``generation_id`` (written or
        spooled; at most ``wait_s``): the row is asked for, so its batch goes without the
        linger. A row another process holds is not waited for."""
        if generation_id not in self._pending:
            return
        deadline = asyncio.get_running_loop().time() + wait_s
        while generation_id in self._pending and asyncio.get_running_loop().time() < deadline:
            self._urgent.set()
            await asyncio.sleep(0.005)

    async def _write_loop(self) -> None:
        while True:
            first = await self._queue.get()
            if not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), LINGER_S)
            self._urgent.clear()
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._store(batch)
            except Exception:  # never let the writer die
                log.exception("ledger writer failed on %d row(s)", len(batch))
            finally:
                for record in batch:
                    self._pending.discard(record.id)
                    self._queue.task_done()

    async def _store(self, batch: list[GenerationRecord]) -> None:
        self.batches += 1
        self.rows += len(batch)
        if self.spooled:  # keep order: older rows are waiting in the spool
            await self._to_spool(batch)
            return
        for delay in (*RETRY_DELAYS_S, None):
            try:
                await write(self._sessionmaker, batch, self._lock)
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
                    await self._to_spool(batch)
                    return
                await asyncio.sleep(delay)

    async def _to_spool(self, batch: list[GenerationRecord]) -> None:
        if self._spool is None:  # no spool configured: the rows are logged in full instead
            for record in batch:
                log.error("ledger row not written, database unreachable: %r", asdict(record))
            return
        await self._spool.append(batch)

    async def _one_by_one(self, batch: list[GenerationRecord]) -> None:
        """A batch the database refused: write each row alone, dead-letter the bad ones.

        A row whose key was deleted while its request ran (the foreign key refuses it) is
        written without its key, as ``ON DELETE SET NULL`` left the key's earlier rows: what
        was generated, and what it cost, stays on the ledger."""
        for record in batch:
            try:
                try:
                    await write(self._sessionmaker, record, self._lock)
                except Exception as exc:
                    if record.api_key_id is None or not _key_is_gone(exc):
                        raise
                    orphan = dataclasses.replace(record, api_key_id=None, hold_id=None)
                    await write(self._sessionmaker, orphan, self._lock)
                    log.warning("ledger row %s written without its key (deleted)", record.id)
            except Exception as exc:
                if is_outage(exc):
                    await self._to_spool([record])
                elif self._spool is not None:
                    log.error("ledger row %s refused by the database: %s", record.id, exc)
                    await self._spool.dead_letter(record)
                else:
                    log.error("ledger row refused by the database: %r (%s)", asdict(record), exc)

    async def _replay_loop(self) -> None:
        assert self._spool is not None
        while True:
            await asyncio.sleep(REPLAY_EVERY_S)
            if self._spool.pending or self._spool.has_files():
                with contextlib.suppress(Exception):
                    await self.replay()

    async def replay(self) -> int:
        """Write the spooled rows in order; returns how many were replayed."""
        if self._spool is None:
            return 0
        total = 0
        async with contextlib.aclosing(self._spool.batches(MAX_BATCH)) as batches:
            async for batch, done in batches:
                try:
                    await write(self._sessionmaker, batch, self._lock)
                except Exception as exc:
                    if is_outage(exc):
                        return total
                    await self._one_by_one(batch)
                await done()
                total += len(batch)
        if total:
            log.warning("replayed %d spooled ledger row(s)", total)
        return total

    async def flush(self, wait_s: float = 10.0) -> None:
        """Wait until every queued row is written or spooled (shutdown, tests)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), wait_s)

    async def close(self, wait_s: float = 10.0) -> None:
        await self.flush(wait_s)
        for task in (self._writer, self._replayer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _key_is_gone(exc: BaseException) -> bool:
    """The database refused a row because its ``api_key_id`` no longer exists."""
    return any(
        getattr(item, "sqlstate", None) == "23503"  # Postgres: foreign_key_violation
        or "FOREIGN KEY constraint failed" in str(item)  # SQLite
        for item in causes(exc)
    )


async def fetch(
    sessionmaker: async_sessionmaker[AsyncSession], generation_id: str
) -> Generation | None:
    async with sessionmaker() as session:
        stmt = select(Generation).where(Generation.id == generation_id)
        return (await session.execute(stmt)).scalar_one_or_none()


__all__ = ["GenerationRecord", "LedgerWriter", "fetch", "write"]
