"""Turn an Outcome into OpenRouter's response objects (buffered body, SSE events, usage)."""

from __future__ import annotations

from typing import Any

import orjson

from app.generation.service import Outcome, Partial


def usage_json(outcome: Outcome) -> dict[str, Any]:
    u = outcome.usage
    prompt = u.input_text_tokens + u.input_image_tokens
    completion = u.output_image_tokens + u.output_text_tokens
    cost = outcome.cost
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        # JSON numbers for the SDKs; the exact Decimal is what the ledger stores.
        "cost": float(cost.total),
        "cost_details": {
            "upstream_inference_prompt_cost": float(cost.prompt),
            "upstream_inference_completions_cost": float(cost.completion),
            "upstream_inference_cost": float(cost.total),
        },
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"image_tokens": u.output_image_tokens, "reasoning_tokens": 0},
    }


def buffered_body(outcome: Outcome, created: int) -> bytes:
    """``{"created", "data": [{"b64_json", "media_type"}], "usage"}``; base64 relayed as is."""
    body: dict[str, Any] = {
        "created": created,
        "data": [{"b64_json": img.b64, "media_type": img.media_type} for img in outcome.images],
        "usage": usage_json(outcome),
    }
    if outcome.warnings:
        body["warnings"] = list(outcome.warnings)
    return orjson.dumps(body)


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"


def partial_event(partial: Partial) -> bytes:
    return sse(
        {
            "type": "image_generation.partial_image",
            "partial_image_index": partial.index,
            "b64_json": partial.b64,
            "media_type": partial.media_type,
        }
    )


def completed_events(outcome: Outcome, created: int) -> list[bytes]:
    """One ``completed`` event per image; the request's usage and cost ride on the last one."""
    events = []
    last = len(outcome.images) - 1
    for i, img in enumerate(outcome.images):
        payload: dict[str, Any] = {
            "type": "image_generation.completed",
            "b64_json": img.b64,
            "media_type": img.media_type,
            "created": created,
            "image_index": i,
        }
        if i == last:
            payload["usage"] = usage_json(outcome)
        events.append(sse(payload))
    return events


def error_event(status: int, message: str) -> bytes:
    code = {403: "content_moderated", 429: "rate_limited", 524: "timeout"}.get(
        status, "upstream_error"
    )
    return sse(
        {"type": "error", "error": {"message": message, "code": code, "type": "provider_error"}}
    )
