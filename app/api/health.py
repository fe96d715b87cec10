"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from app.state import AppState

router = APIRouter()


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """Can this process serve?

    The database unreachable is ``degraded``, still 200, while the ledger spool can take rows:
    keys seen lately are served from the key cache and their ledger rows are spooled and
    replayed, so the replica still serves (requests that need the database get their own 503).
    Only with the spool unusable too is it 503. Redis down is ``degraded`` as well: limits are
    then kept in process, so taking the gateway out of a load balancer would only make things
    worse. ``ledger_spooled`` counts rows waiting on local disk for the database."""
    state: AppState = request.app.state.ig
    checks: dict[str, str] = {}
    # both at once: a hung database and a hung Redis answer within the 2 s of the slower,
    # inside the 3 s a readiness probe waits (one after the other they took 3 s and more)
    checks["database"], redis = await asyncio.gather(_database(state), _redis(state))
    if redis is not None:
        checks["redis"] = redis
    degraded = getattr(state.limiter, "degraded", False)
    checks["limits"] = "in process (Redis unreachable)" if degraded else "ok"
    if state.redis is None:
        checks["limits"] = "ok"  # the embedded default: in process by design
    if checks["database"] != "ok":
        # probed only now: with the database up the spool takes no rows
        problem = await state.ledger.spool_problem()
        checks["spool"] = "ok" if problem is None else f"error: {problem}"
    if checks["database"] != "ok" and checks["spool"] != "ok":
        status, code = "unavailable", 503
    elif any(v != "ok" for v in checks.values()):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    body = {"status": status, "checks": checks, "ledger_spooled": state.ledger.spooled}
    return JSONResponse(body, code, headers={"retry-after": "5"} if code == 503 else None)


async def _database(state: AppState) -> str:
    try:
        async with asyncio.timeout(2.0):
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # readiness reports any failure, it never raises
        return f"error: {type(exc).__name__}"


async def _redis(state: AppState) -> str | None:
    if state.redis is None:
        return None
    try:
        async with asyncio.timeout(1.0):
            await state.redis.ping()
        return "ok"
    except Exception as exc:
        return f"degraded: {type(exc).__name__} (limits kept in process)"


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus exposition. Serve it on an internal network: it needs no key."""
    state: AppState = request.app.state.ig
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
