"""BFL error answers: FastAPI-style ``{"detail": …}`` bodies.

``detail`` is a string for auth and plain HTTP errors and a list of validation items for 422,
exactly as FastAPI renders them. Bodies the reference quotes are reproduced (``Not
authenticated``, the 422 item, the skill doc's 429 body); the others are [INF] wording for the
same class of error and live here so they are easy to change in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response


@dataclass
class BflError(Exception):
    """An error answer; raise it anywhere in a handler, the app renders it."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> BflError:
    """``{"detail": "<message>"}``: FastAPI's HTTPException shape."""
    return BflError(status, {"detail": message}, headers or {})


def not_authenticated() -> BflError:
    """Missing or wrong ``x-key`` (reference §6, verbatim body)."""
    return detail(401, "Not authenticated")


def not_found() -> BflError:
    """An unknown path or model slug: FastAPI's default 404."""
    return detail(404, "Not Found")


def validation(items: list[dict[str, Any]]) -> BflError:
    """422 with FastAPI's ``HTTPValidationError`` body (reference §6)."""
    return BflError(422, {"detail": items})


def item(
    kind: str, loc: list[str | int], msg: str, value: Any = None, **ctx: Any
) -> dict[str, Any]:
    """One validation item: ``{"type", "loc", "msg", "input"[, "ctx"]}`` (pydantic v2 style)."""
    entry: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx:
        entry["ctx"] = ctx
    return entry


def insufficient_credits(balance: float, cost: float) -> BflError:
    """402 (reference §6: "insufficient credits"); wording [INF]."""
    return detail(
        402,
        f"Insufficient credits: this request costs {cost:g} credits and the account has "
        f"{balance:g}. Add credits at https://dashboard.bfl.ai.",
    )


def _retry_after(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, math.ceil(seconds)))}


def too_many_active_tasks(limit: int, retry_after_s: float) -> BflError:
    """The per-key active-task cap (reference §6: 24, or 6 for Kontext Max); wording [INF]."""
    return detail(
        429,
        f"Too many active tasks: this key already has {limit} tasks in progress (limit "
        f"{limit}). Wait for a task to finish before submitting another.",
        _retry_after(retry_after_s),
    )


def rate_limited(retry_after_s: float) -> BflError:
    """The skill doc's illustrative 429 body and ``X-RateLimit-*`` headers (reference §6)."""
    wait = max(1, math.ceil(retry_after_s))
    return BflError(
        429,
        {
            "error": "rate_limit_exceeded",
            "message": "Too many concurrent requests",
            "retry_after": wait,
        },
        {
            **_retry_after(retry_after_s),
            "x-ratelimit-limit": "24",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(wait),
        },
    )


def for_status(status: int, retry_after_s: float) -> BflError:
    """A representative BFL error for an injected status (``fail_next`` or ``[sim:<status>]``)."""
    if status == 429:
        return rate_limited(retry_after_s)
    if status == 401:
        return not_authenticated()
    if status == 402:
        return insufficient_credits(0, 1)
    if status == 403:
        return detail(403, "Forbidden: this API key has no permission for this endpoint")
    if status == 404:
        return not_found()
    if status == 422:
        return validation([item("value_error", ["body"], "Value error, simulated rejection")])
    if status == 503:
        return detail(503, "Service temporarily unavailable", _retry_after(retry_after_s))
    if status >= 500:
        return detail(status, "Internal Server Error")
    return detail(status, f"Simulated error (HTTP {status})")
