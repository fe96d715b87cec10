"""Provider concurrency caps: at most N calls in flight to an endpoint, or to a provider
account, across every gateway process (BFL allows 24 active tasks per key, 6 for Kontext Max).

A call waits for a slot (bounded by ``IMAGEGATE_PROVIDER_WAIT_S``, reporting ``queued``
progress) and then holds it until the upstream call ends. A caller still waiting at the bound
gets a :class:`providers.errors.RateLimited`: like a provider's own 429 it is retryable, so the
request falls back to another endpoint when it may, and otherwise answers 429.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from app.state import AppState
from providers.errors import RateLimited
from providers.spec import EndpointSpec

POLL_START_S = 0.02
POLL_MAX_S = 0.25


def caps(endpoint: EndpointSpec, model_id: str) -> list[tuple[str, int]]:
    """(slot set name, limit) for each cap that applies to ``endpoint``."""
    out: list[tuple[str, int]] = []
    if endpoint.account_concurrency_limit:
        out.append((f"account:{endpoint.provider_slug}", endpoint.account_concurrency_limit))
    if endpoint.concurrency_limit:
        out.append((f"endpoint:{endpoint.provider_slug}:{model_id}", endpoint.concurrency_limit))
    return out


@asynccontextmanager
async def provider_slots(
    state: AppState,
    endpoint: EndpointSpec,
    model_id: str,
    token: str,
    on_wait: Callable[[], None] | None = None,
) -> AsyncIterator[None]:
    """Hold a slot of every cap of ``endpoint`` for the duration of the block."""
    wanted = caps(endpoint, model_id)
    if not wanted:
        yield
        return
    settings = state.settings
    lease = settings.upstream_timeout_s + settings.provider_wait_s + 60
    held: list[str] = []
    try:
        for name, limit in wanted:
            await _acquire(state, name, token, limit, lease, endpoint, on_wait)
            held.append(name)
        yield
    finally:
        for name in held:
            await state.limiter.release(name, token)


async def _acquire(
    state: AppState,
    name: str,
    token: str,
    limit: int,
    lease: float,
    endpoint: EndpointSpec,
    on_wait: Callable[[], None] | None,
) -> None:
    deadline = time.monotonic() + state.settings.provider_wait_s
    delay = POLL_START_S
    waited = False
    while not await state.limiter.acquire(name, token, limit, lease):
        if not waited and on_wait is not None:
            on_wait()
        waited = True
        if time.monotonic() + delay > deadline:
            raise RateLimited(
                f"{endpoint.provider_name} is at its concurrency cap ({limit} calls in flight); "
                f"waited {state.settings.provider_wait_s:g} s for a slot",
                provider=endpoint.provider_slug,
                retry_after=1.0,
                code="concurrency_cap",
            )
        await asyncio.sleep(delay)
        delay = min(POLL_MAX_S, delay * 2)
