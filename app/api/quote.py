"""``POST /api/v1/images/quote``: what a request would cost, before spending anything.

The body is exactly a ``POST /api/v1/images`` body. The answer lists, for every endpoint the
routing preferences allow, either its quote (the most the request can cost there, in exact USD
strings, as credit would be reserved) and the normalized parameters the gateway would send, or
why that endpoint cannot take the request; and the calling key's remaining credit. Nothing is
generated, reserved or recorded. Reference images are fetched (their size can change a price).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from app.auth import Principal, authenticate
from app.db import credit
from app.db import keys as key_repo
from app.errors import GatewayError
from app.generation.normalize import Normalized, normalize
from app.generation.planning import (
    ceiling_problem,
    fetch_references,
    model_or_404,
    no_endpoint_error,
    quote_attempt,
    request_price,
)
from app.generation.request import ImageGenerationRequest
from app.generation.routing import choose_endpoints
from app.state import AppState
from providers.spec import EndpointSpec

router = APIRouter(prefix="/api/v1")
Caller = Annotated[Principal, Depends(authenticate)]


def _parameters(norm: Normalized) -> dict[str, Any]:
    fields = {
        "width": norm.width,
        "height": norm.height,
        "size": norm.size_wire,
        "aspect_ratio": norm.aspect_ratio,
        "resolution": norm.resolution,
        "quality": norm.quality,
        "output_format": norm.output_format,
        "output_compression": norm.output_compression,
        "background": norm.background,
        "seed": norm.seed,
    }
    out: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    out["n"] = norm.n
    out["calls"] = list(norm.batches)
    if norm.options:
        out["options"] = norm.options
    return out


def _entry(endpoint: EndpointSpec) -> dict[str, Any]:
    return {"provider_slug": endpoint.provider_slug, "provider_name": endpoint.provider_name}


async def _remaining(state: AppState, caller: Principal) -> Decimal | None:
    if caller.key_id is None or caller.limit_usd is None:
        return None
    async with state.sessionmaker() as session:
        row = await key_repo.get_key(session, caller.key_id)
        if row is None:
            return None
        balance = await credit.balance(session, row)
    return balance.remaining


@router.post("/images/quote")
async def quote_request(
    body: ImageGenerationRequest, request: Request, caller: Caller
) -> dict[str, Any]:
    state: AppState = request.app.state.ig
    model = model_or_404(state, body.model)
    endpoints = choose_endpoints(
        model.endpoints, body.provider, state.adapters.available, request_price(body)
    )
    if not endpoints:
        raise no_endpoint_error(state, model)
    images, _ = await fetch_references(state, body)
    ceiling = body.provider.max_price if body.provider else None
    remaining = await _remaining(state, caller)
    results = []
    for endpoint in endpoints:
        entry = _entry(endpoint)
        try:
            norm = normalize(body, endpoint)
            cost = quote_attempt(body, endpoint, norm, images)
        except GatewayError as exc:
            results.append({**entry, "eligible": False, "reason": exc.message})
            continue
        problem = ceiling_problem(ceiling, endpoint, norm, cost) if ceiling else None
        entry.update(
            {
                "eligible": problem is None,
                "quote_usd": str(cost),
                "per_image_usd": str(cost / norm.n),
                "parameters": _parameters(norm),
                "warnings": list(norm.warnings),
            }
        )
        if problem is not None:
            entry["reason"] = problem
        if remaining is not None:
            entry["affordable"] = cost <= remaining
        results.append(entry)
    shown = None if remaining is None else str(remaining)
    return {"data": {"model": model.id, "limit_remaining": shown, "endpoints": results}}
