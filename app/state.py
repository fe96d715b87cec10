"""The application's shared resources, built once by the lifespan and injected everywhere."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth_cache import KeyCache
from app.billing.ledger import LedgerWriter
from app.config import Settings
from app.metrics import Metrics
from app.ratelimit import Limiter

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.generation.adapters import AdapterRegistry


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    # Fetches caller-supplied reference URLs: its own client, so remote cookies never mix
    # with provider traffic.
    refs_http: httpx.AsyncClient
    redis: Redis | None
    limiter: Limiter
    catalog: Catalog
    adapters: AdapterRegistry
    ledger: LedgerWriter
    keys: KeyCache = field(default_factory=KeyCache)
    # Reference downloads in flight across the process (IMAGEGATE_REFERENCE_FETCH_SLOTS).
    reference_slots: asyncio.Semaphore | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # Serializes money writes (credit holds, settlement) on SQLite, which has no row locks.
    money_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coro: asyncio.Future[None] | asyncio.Task[None] | object) -> None:
        """Run ``coro`` in the background, keeping a reference until it finishes."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def drain(self, wait_s: float = 10.0) -> None:
        """Wait for background work, then for the ledger rows, before shutting down."""
        if self.background:
            await asyncio.wait(set(self.background), timeout=wait_s)
        await self.ledger.close(wait_s)
