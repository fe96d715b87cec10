"""Turn an Outcome into OpenRouter's response objects (buffered body, SSE events, usage)."""

from __future__ import annotations

import secrets
from typing import Any

import orjson

from app.generation.service import Outcome, Partial
from providers.spec import B64Pieces

# A JSON body, or the pieces of one to be sent in order: multi-megabyte base64 images that
# arrived as bytes are spliced in as they are, never copied into a re-serialized document.
Body = bytes | list[bytes]
_MARK = secrets.token_hex(12)  # unguessable: no text in a payload can collide with it


def dumps(payload: Any) -> Body:
    """``orjson.dumps``, where every ``bytes`` value (base64 text) is spliced in unescaped."""
    blobs: list[bytes | B64Pieces] = []

    def blob(value: object) -> str:
        if isinstance(value, bytes | B64Pieces):
            blobs.append(value)
            return f"{_MARK}{len(blobs) - 1}"
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    out = orjson.dumps(payload, default=blob)
    if not blobs:
        return out
    parts: list[bytes] = []
    cut = 0
    for i, value in enumerate(blobs):  # orjson calls blob() in output order
        mark = f'"{_MARK}{i}"'.encode()
        at = out.index(mark, cut) + 1
        parts.append(out[cut:at])
        if isinstance(value, bytes):
            parts.append(value)
        else:
            parts += value.pieces
        cut = at + len(mark) - 2
    parts.append(out[cut:])
    return parts


def size(body: Body) -> int:
    return len(body) if isinstance(body, bytes) else sum(len(p) for p in body)


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


def buffered_body(outcome: Outcome, created: int) -> Body:
    """``{"created", "data": [{"b64_json", "media_type"}], "usage"}``; base64 relayed as is."""
    body: dict[str, Any] = {
        "created": created,
        "data": [{"b64_json": img.b64, "media_type": img.media_type} for img in outcome.images],
        "usage": usage_json(outcome),
    }
    if outcome.warnings:
        body["warnings"] = list(outcome.warnings)
    return dumps(body)


def sse(payload: dict[str, Any]) -> Body:
    data = dumps(payload)
    if isinstance(data, bytes):
        return b"data: " + data + b"\n\n"
    return [b"data: " + data[0], *data[1:-1], data[-1] + b"\n\n"]


DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"


def partial_event(partial: Partial) -> Body:
    return sse(
        {
            "type": "image_generation.partial_image",
            "partial_image_index": partial.index,
            "b64_json": partial.b64,
            "media_type": partial.media_type,
        }
    )


def completed_events(outcome: Outcome, created: int) -> list[Body]:
    """One ``completed`` event per image; the request's usage and cost ride on the last one."""
    events: list[Body] = []
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


# An error event's ``code`` (a string: the SDKs drop an event with an integer code) by the
# status the failure would have had before the stream started. The caller's own mistakes
# (a reference that could not be fetched, found after the stream was committed) are
# ``invalid_request_error``s naming their parameter; the rest are the provider's.
_EVENT_CODES = {
    400: "invalid_request",
    402: "insufficient_credits",
    403: "content_moderated",
    404: "not_found",
    408: "timeout",
    413: "payload_too_large",
    429: "rate_limited",
    524: "timeout",
}


def error_event(status: int, message: str, param: str | None = None) -> bytes:
    code = _EVENT_CODES.get(status, "upstream_error")
    kind = "invalid_request_error" if status in (400, 404, 413) else "provider_error"
    error: dict[str, object] = {"message": message, "code": code, "type": kind}
    if param is not None:
        error["param"] = param
    return joined(sse({"type": "error", "error": error}))


def joined(body: Body) -> bytes:
    """One bytes object (for small bodies, or where a door needs the whole text)."""
    return body if isinstance(body, bytes) else b"".join(body)
