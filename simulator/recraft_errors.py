"""Recraft error answers (reference §4): plain text for 401/404, JSON ``{code, message}`` else.

The reference documents two bodies verbatim: ``401 text/plain "request unauthorized"`` and
``404 text/plain "404 page not found"`` (Go ``net/http``, which ends ``http.Error`` bodies with
a newline). Every other error has a JSON body whose shape Recraft does not document; the
reference's fake guidance is ``{"code": "<snake_case>", "message": "<text>"}``, and the codes
below are **synthetic** (our choice), kept here so they are easy to change in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import orjson
from starlette.responses import Response

UNAUTHORIZED_TEXT = "request unauthorized"
NOT_FOUND_TEXT = "404 page not found"
METHOD_NOT_ALLOWED_TEXT = "Method Not Allowed"

# Synthetic codes (reference §4 open question).
INVALID_JSON = "invalid_json"
INVALID_PARAMETER = "invalid_parameter"
INVALID_SIZE = "invalid_size"
INVALID_STYLE = "invalid_style"
INVALID_MODEL = "invalid_model"
PROMPT_TOO_LONG = "prompt_too_long"
UNSUPPORTED_PARAMETER = "unsupported_parameter"
UNKNOWN_PARAMETER = "unknown_parameter"
MISSING_PARAMETER = "missing_parameter"
INVALID_IMAGE = "invalid_image"
NOT_ENOUGH_CREDITS = "not_enough_credits"
CONTENT_MODERATION = "content_moderation"
TOO_MANY_REQUESTS = "too_many_requests"
INTERNAL_ERROR = "internal_error"


@dataclass
class RecraftError(Exception):
    """An error answer; raise it anywhere in a handler, the app renders it.

    ``code`` None means a plain-text body (``message`` plus a newline, as ``http.Error``).
    """

    status: int
    message: str
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        if self.code is None:
            return Response(
                (self.message + "\n").encode(),
                status_code=self.status,
                media_type="text/plain; charset=utf-8",
                headers={"x-content-type-options": "nosniff", **self.headers},
            )
        return Response(
            orjson.dumps({"code": self.code, "message": self.message}),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


def unauthorized() -> RecraftError:
    """Missing, malformed or wrong bearer token (verbatim, reference §4)."""
    return RecraftError(401, UNAUTHORIZED_TEXT)


def not_found() -> RecraftError:
    """Unknown path, and (our choice) unknown model id (verbatim body, reference §4)."""
    return RecraftError(404, NOT_FOUND_TEXT)


def credentials_on_image_host() -> RecraftError:
    """The image host got an ``Authorization`` header: result URLs are public, so a client that
    sends its key there leaks it to the delivery host (a leak detector; our choice of body)."""
    return RecraftError(403, "forbidden: image URLs take no credentials")


def method_not_allowed() -> RecraftError:
    """Go's ``ServeMux`` answer to a known path with another method."""
    return RecraftError(405, METHOD_NOT_ALLOWED_TEXT)


def invalid(code: str, message: str, status: int = 400) -> RecraftError:
    """A validation failure (JSON, synthetic shape)."""
    return RecraftError(status, message, code=code)


def unsupported(param: str, model: str) -> RecraftError:
    return invalid(UNSUPPORTED_PARAMETER, f"parameter {param} is not supported for model {model}")


def missing(param: str) -> RecraftError:
    return invalid(MISSING_PARAMETER, f"{param} is required")


def bad_value(param: str, value: object, allowed: str | None = None) -> RecraftError:
    message = f"invalid value of {param}: {value!r}"
    if allowed:
        message += f"; expected {allowed}"
    return invalid(INVALID_PARAMETER, message)


def _retry_after(seconds: float) -> dict[str, str]:
    """Delta-seconds only (no ``-ms`` variant): what a Go server behind a proxy sends."""
    return {"retry-after": str(max(1, math.ceil(seconds)))}


def rate_limited(retry_after_s: float) -> RecraftError:
    return RecraftError(
        429,
        "too many requests, please slow down",
        code=TOO_MANY_REQUESTS,
        headers=_retry_after(retry_after_s),
    )


def not_enough_credits(needed: int, balance: int = 0) -> RecraftError:
    """Out of API units (reference §0: a token needs a positive balance)."""
    return RecraftError(
        402,
        f"not enough API units: this request needs {needed}, the balance is {balance}",
        code=NOT_ENOUGH_CREDITS,
    )


def moderated(stage: str = "input") -> RecraftError:
    what = "prompt" if stage == "input" else "generated image"
    return RecraftError(
        400,
        f"the {what} was flagged as inappropriate (NSFW) by content moderation",
        code=CONTENT_MODERATION,
    )


def for_status(status: int, retry_after_s: float) -> RecraftError:
    """A representative error for an injected status (``fail_next`` or ``[sim:<status>]``).

    500 keeps the JSON shape; 502/503/504 are plain text, as a load balancer in front of the
    service answers (both shapes exercise the adapter's "read as text first" rule).
    """
    if status == 401:
        return unauthorized()
    if status == 404:
        return not_found()
    if status == 402:
        return not_enough_credits(40)
    if status == 429:
        return rate_limited(retry_after_s)
    if status == 503:
        return RecraftError(503, "Service Unavailable", headers=_retry_after(retry_after_s))
    if status in (502, 504):
        return RecraftError(status, "Bad Gateway" if status == 502 else "Gateway Timeout")
    if status >= 500:
        return RecraftError(status, "internal server error", code=INTERNAL_ERROR)
    return invalid(INVALID_PARAMETER, f"simulated error (HTTP {status})", status=status)
