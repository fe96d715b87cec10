"""Liveness and readiness."""

from __future__ import annotations

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
    """Database and (when configured) Redis reachable; 503 otherwise."""
    state: AppState = request.app.state.ig
    checks: dict[str, str] = {}
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure, it never raises
        checks["database"] = f"error: {type(exc).__name__}"
    if state.redis is not None:
        try:
            await state.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus exposition. Serve it on an internal network: it needs no key."""
    state: AppState = request.app.state.ig
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
