"""``GET /api/v1/generation?id=``: the recorded generation, in OpenRouter's shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.auth import Principal, authenticate
from app.billing import ledger
from app.db.models import Generation
from app.errors import GatewayError
from app.state import AppState

router = APIRouter(prefix="/api/v1")
Caller = Annotated[Principal, Depends(authenticate)]


def _text(params: dict[str, Any], key: str) -> str | None:
    value = params.get(key)
    return value if isinstance(value, str) else None


def generation_json(row: Generation, provider_name: str | None) -> dict[str, Any]:
    cost = float(row.cost_usd)
    params = row.request_params or {}
    tokens_prompt = row.input_text_tokens + row.input_image_tokens
    tokens_completion = row.output_image_tokens + row.output_text_tokens
    return {
        "id": row.id,
        "model": row.model,
        "created_at": row.created_at.isoformat(),
        "origin": "",
        "total_cost": cost,
        "usage": cost,
        "upstream_inference_cost": cost,
        "is_byok": False,
        "data_region": "global",
        "api_type": "image",
        "app_id": None,
        "cache_discount": None,
        "cancelled": row.status == "cancelled",
        "external_user": _text(params, "user"),
        "finish_reason": "stop" if row.status == "succeeded" else row.status,
        "native_finish_reason": row.status,
        "generation_time": row.latency_ms,
        "latency": row.latency_ms,
        "moderation_latency": None,
        "http_referer": _text(params, "http_referer"),
        "native_tokens_cached": 0,
        "native_tokens_completion": tokens_completion,
        "native_tokens_completion_images": row.output_image_tokens,
        "native_tokens_prompt": tokens_prompt,
        "native_tokens_reasoning": 0,
        "tokens_completion": tokens_completion,
        "tokens_prompt": tokens_prompt,
        "num_fetches": None,
        "num_input_audio_prompt": None,
        "num_media_completion": row.images,
        "num_media_prompt": params.get("input_references"),
        "num_search_results": None,
        "preset_id": None,
        "provider_name": provider_name,
        "provider_responses": None,
        "router": None,
        "service_tier": None,
        "streamed": row.streamed,
        "upstream_id": row.upstream_id,
        "user_agent": row.user_agent,
        "web_search_engine": None,
        "workspace_id": None,
        "request_id": row.id,
        "session_id": _text(params, "session_id"),
        # imagegate extensions (ignored by the SDKs)
        "status": row.status,
        "route": row.route,
        "error_code": row.error_code,
        "error_message": row.error_message,
        "images": row.images,
        "pixels": row.pixels,
        "resolution": row.resolution,
        "cost_usd": str(row.cost_usd),
    }


@router.get("/generation")
async def get_generation(
    request: Request, caller: Caller, id: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    state: AppState = request.app.state.ig
    # asked for right after its answer: a row this process has not written yet is waited for
    await state.ledger.settled(id)
    row = await ledger.fetch(state.sessionmaker, id)
    if row is None or (not caller.is_admin and row.api_key_id != caller.key_id):
        raise GatewayError(404, f"Generation '{id}' not found")
    provider_name = None
    model = state.catalog.get(row.model)
    if model is not None and row.provider:
        provider_name = next(
            (e.provider_name for e in model.endpoints if e.provider_slug == row.provider),
            row.provider,
        )
    return {"data": generation_json(row, provider_name)}
