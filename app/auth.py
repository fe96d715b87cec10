"""Authentication: ``Authorization: Bearer <key>`` against hashed keys or the master key.

Keys found in the database are remembered for ``KEY_CACHE_TTL_S`` (1 s, see
:mod:`app.auth_cache`), so a busy key costs one database read per second instead of one per
request (the read was a tenth of the request path's time under load). Revocation stays
prompt: a key changed or deleted through the API is dropped from this process's cache at once,
and every other process (workers, other gateways, ``imagegate keys revoke``) sees the change
within the TTL; the same holds for a key's limits. Unknown and disabled keys are never cached.
The credit itself is never cached: holds read the key's row under its lock.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from decimal import Decimal

from fastapi import Request

from app.db import keys as key_repo
from app.errors import GatewayError
from app.state import AppState


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


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(401, "Missing Authorization header: expected 'Bearer <API key>'")
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """FastAPI dependency: the calling principal, or a 401 in OpenRouter's shape."""
    state: AppState = request.app.state.ig
    token = _bearer(request)
    master = state.settings.master_key
    if master is not None and hmac.compare_digest(
        token.encode(), master.get_secret_value().encode()
    ):
        return Principal(key_id=None, name="master", is_admin=True)
    digest = key_repo.hash_key(token)
    cached = state.keys.get(digest)
    if cached is not None:
        return cached
    async with state.sessionmaker() as session:
        row = await key_repo.find_by_hash(session, digest)
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        raise GatewayError(401, "Invalid API key")
    if row.disabled:
        raise GatewayError(401, "API key is disabled")
    principal = Principal(
        row.id,
        row.name,
        row.is_admin,
        row.limit_usd,
        row.usage_usd,
        row.rate_limit_rpm,
        row.concurrency_limit,
    )
    state.keys.put(digest, principal)
    return principal


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise GatewayError(403, "This endpoint needs the master key or an admin key")
    return principal
