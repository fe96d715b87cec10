"""Authentication: ``Authorization: Bearer <key>`` against hashed keys or the master key.

Keys are looked up by their SHA-256 and remembered in process for one second
(:class:`app.auth_cache.KeyCache`), so a busy key costs one database query per second instead of
one per request. Updating or revoking a key through the API clears it from this process's cache
at once; other gateway processes (and ``imagegate keys revoke``, which writes the database
directly) take effect within the second. A key's limits follow the same rule; its credit is never
cached (holds are checked in the database). While the database is unreachable, a key seen in the
last five minutes keeps working from the cache (generation goes on; its ledger rows are
spooled), and an unknown key is a 503 with ``Retry-After``, never a 500.

The request guard (:mod:`app.middleware`) authenticates before a body is read and leaves the
principal in the request scope; :func:`authenticate` reuses it.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from fastapi import Request

from app.auth_cache import KeyCache
from app.db import keys as key_repo
from app.db.outage import is_outage
from app.errors import GatewayError
from app.request_log import note

if TYPE_CHECKING:
    from app.state import AppState

SCOPE_KEY = "principal"
# How long a request whose key was seen recently waits for the key's lookup before it goes on
# from the cache as in an outage: a database that hangs does not hold it.
LOOKUP_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``key_id`` is None for the master key (which has no row)."""

    key_id: str | None
    name: str
    is_admin: bool
    limit_usd: Decimal | None = None
    usage_usd: Decimal = Decimal(0)
    rate_limit_rpm: int | None = None  # None: the gateway's default
    concurrency_limit: int | None = None


DISABLED = "API key is disabled"
UNKNOWN = "Invalid API key"


def bearer_token(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(401, "Missing Authorization header: expected 'Bearer <API key>'")
    return token.strip()


def database_unavailable() -> GatewayError:
    return GatewayError(
        503,
        "The gateway's database is unreachable; retry shortly",
        headers={"retry-after": "5"},
    )


async def resolve(state: AppState, token: str) -> Principal:
    """The principal of a bearer token, or a GatewayError (401, or 503 when it cannot tell)."""
    master = state.settings.master_key
    if master is not None and hmac.compare_digest(
        token.encode(), master.get_secret_value().encode()
    ):
        note(key_id="master")
        return Principal(key_id=None, name="master", is_admin=True)
    digest = key_repo.hash_key(token)
    cache: KeyCache = state.keys
    found: Principal | str | None = cache.get(digest)
    if found is None:
        try:
            lookup = _lookup_once(state, digest)
            if cache.stale(digest) is not None:  # the shared lookup goes on (shielded)
                waited = time.monotonic() - cache.lookup_started.get(digest, time.monotonic())
                found = await asyncio.wait_for(lookup, max(0.0, LOOKUP_WAIT_S - waited))
            else:  # nothing to go on: wait (the engine bounds it), then 401 or 503
                found = await lookup
        except Exception as exc:
            if not is_outage(exc):
                raise
            stale = cache.stale(digest)
            if stale is None:
                raise database_unavailable() from exc
            note(key_id=stale.key_id)
            return stale
        if isinstance(found, Principal):
            cache.put(digest, found)
        else:  # revoked or deleted elsewhere: not even an outage brings it back
            cache.forget(digest)
    if isinstance(found, str):
        raise GatewayError(401, found)
    note(key_id=found.key_id)
    return found


async def _lookup_once(state: AppState, digest: str) -> Principal | str:
    """:func:`_lookup`, once for all the requests that need the same key at the same moment.

    When a busy key's cache entry expires, every request in flight would look it up at once
    (sixteen queries, and connections opened past the pool, for one key at concurrency 16);
    they share one lookup instead. A caller that goes away does not cancel it for the others.
    """
    pending = state.keys.lookups
    task = pending.get(digest)
    if task is None:
        task = asyncio.ensure_future(_lookup(state, digest))
        pending[digest] = task
        state.keys.lookup_started[digest] = time.monotonic()
        task.add_done_callback(lambda done: _forget(state.keys, digest, done))
    return await asyncio.shield(task)


def _forget(cache: KeyCache, digest: str, done: asyncio.Future[Principal | str]) -> None:
    if cache.lookups.get(digest) is done:
        del cache.lookups[digest]
        cache.lookup_started.pop(digest, None)
    if not done.cancelled():
        done.exception()  # retrieved here too: no "never retrieved" if every caller left


async def _lookup(state: AppState, digest: str) -> Principal | str:
    async with state.sessionmaker() as session:
        row = await key_repo.find_by_hash(session, digest)
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return UNKNOWN
    if row.disabled:
        return DISABLED
    return Principal(
        row.id,
        row.name,
        row.is_admin,
        row.limit_usd,
        row.usage_usd,
        row.rate_limit_rpm,
        row.concurrency_limit,
    )


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the calling principal, or a 401 in the route's error shape."""
    known = request.scope.get("state", {}).get(SCOPE_KEY)
    if isinstance(known, Principal):
        return known
    state: AppState = request.app.state.ig
    return await resolve(state, bearer_token(request.headers.get("authorization", "")))


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise GatewayError(403, "This endpoint needs the master key or an admin key")
    return principal
