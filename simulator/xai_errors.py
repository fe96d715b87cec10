"""xAI error answers: ``{"code", "error"}`` JSON, and axum's plain text.

xAI's REST front end answers API errors with ``{"code": <gRPC status>, "error": <string>}``,
where the code is spelled in several styles: tonic's prose description ("Client specified an
invalid argument", seen on the bad-key 400), hyphenated (``invalid-argument``, verbatim on a
2026 400) or snake case (``invalid_argument``, what the docs show). Requests its JSON extractor
rejects never reach that layer: a bad ``Content-Type`` is a 415, unparsable JSON a 400 and a
body that does not deserialize (missing ``prompt``, an unknown field) a 422, all
``text/plain`` in axum's wording ("Failed to deserialize the JSON body into the target type: …").

Bodies marked verbatim in the reference are reproduced exactly; the rest are [INF] and live here
so they are easy to change in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import orjson
from starlette.responses import Response

CodeStyle = Literal["documented", "prose", "hyphen", "snake"]
CODE_STYLES: tuple[str, ...] = ("documented", "prose", "hyphen", "snake")

# tonic's ``Code::description()`` for each gRPC status xAI answers with.
PROSE: dict[str, str] = {
    "invalid_argument": "Client specified an invalid argument",
    "not_found": "Some requested entity was not found",
    "permission_denied": "The caller does not have permission to execute the specified operation",
    "unauthenticated": "The request does not have valid authentication credentials",
    "resource_exhausted": "Some resource has been exhausted",
    "failed_precondition": "The system is not in a state required for the operation's execution",
    "deadline_exceeded": "Deadline expired before operation could complete",
    "internal": "Internal error",
    "unavailable": "The service is currently unavailable",
    "unknown": "Unknown error",
}
# Which gRPC status an injected HTTP status stands for.
STATUS_KINDS: dict[int, str] = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    408: "deadline_exceeded",
    409: "failed_precondition",
    429: "resource_exhausted",
    500: "internal",
    502: "unavailable",
    503: "unavailable",
    504: "deadline_exceeded",
}


def code_text(kind: str, style: str) -> str:
    """The ``code`` string of a gRPC status ``kind`` (snake case) in one of the styles."""
    if style == "prose":
        return PROSE.get(kind, PROSE["unknown"])
    if style == "hyphen":
        return kind.replace("_", "-")
    return kind


@dataclass
class XaiError(Exception):
    """A ``{code, error}`` answer; raise it anywhere in a handler, the app renders it.

    ``documented_style`` is the code spelling the reference shows for this very error, used
    when the simulator's ``code_style`` setting is ``documented`` (its default).
    """

    status: int
    kind: str
    message: str
    documented_style: str = "hyphen"
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, style: str = "documented") -> dict[str, str]:
        chosen = self.documented_style if style == "documented" else style
        return {"code": code_text(self.kind, chosen), "error": self.message}

    def response(self, style: str = "documented") -> Response:
        return Response(
            orjson.dumps(self.body(style)),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


@dataclass
class PlainError(Exception):
    """An axum extractor rejection: ``text/plain`` (reference §3, 415/400/422)."""

    status: int
    text: str

    def response(self) -> Response:
        return Response(self.text, status_code=self.status, media_type="text/plain; charset=utf-8")


# --------------------------------------------------------------------------------------------
# Extractor rejections (axum's own wording; serde_json's for the detail)
# --------------------------------------------------------------------------------------------


def wrong_content_type() -> PlainError:
    return PlainError(415, "Expected request with `Content-Type: application/json`")


def syntax_error(detail: str) -> PlainError:
    return PlainError(400, f"Failed to parse the request body as JSON: {detail}")


def data_error(detail: str) -> PlainError:
    """Verbatim prefix from real traffic: "missing field `prompt` at line 10 column 1"."""
    return PlainError(422, f"Failed to deserialize the JSON body into the target type: {detail}")


# --------------------------------------------------------------------------------------------
# API errors
# --------------------------------------------------------------------------------------------


def mask_key(key: str) -> str:
    """``xa***yz`` as in the verbatim message: two characters each side."""
    return f"{key[:2]}***{key[-2:]}" if len(key) >= 6 else "***"


def incorrect_api_key(key: str) -> XaiError:
    """A bad or missing key is a **400**, not a 401 (reference §3, code in prose)."""
    return XaiError(
        400,
        "invalid_argument",
        f"Incorrect API key provided: {mask_key(key)}. You can obtain an API key from "
        "https://console.x.ai.",
        documented_style="prose",
    )


def not_supported(argument: str) -> XaiError:
    """Live wording for ``size`` ("Argument not supported: size"); same idea for the others."""
    return XaiError(400, "invalid_argument", f"Argument not supported: {argument}")


def invalid_argument(message: str) -> XaiError:
    return XaiError(400, "invalid_argument", message)


def model_not_found(model: str) -> XaiError:
    return XaiError(
        404,
        "not_found",
        f"The model {model} does not exist or your team does not have access to it.",
    )


def no_credits() -> XaiError:
    """403 for an exhausted team ([INF] from the chat API's pattern)."""
    return XaiError(
        403,
        "permission_denied",
        "Your team team-simulator has either used all available credits or reached its monthly "
        "spending limit. To continue making API requests, please purchase more credits or raise "
        "your spending limit.",
        documented_style="prose",
    )


def no_permission(model: str) -> XaiError:
    return XaiError(
        403,
        "permission_denied",
        f"The API key does not have permission to use the model {model}.",
        documented_style="prose",
    )


def _retry_after(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, math.ceil(seconds)))}


def rate_limited(model: str, retry_after_s: float) -> XaiError:
    return XaiError(
        429,
        "resource_exhausted",
        f"Your team team-simulator has exceeded its requests-per-second limit for {model}. "
        "Please slow down and retry.",
        headers=_retry_after(retry_after_s),
        documented_style="prose",
    )


def for_status(status: int, model: str, retry_after_s: float) -> XaiError:
    """A representative error for an injected status (``fail_next`` or ``[sim:<status>]``)."""
    if status == 429:
        return rate_limited(model, retry_after_s)
    if status == 403:
        return no_permission(model)
    if status == 404:
        return model_not_found(model)
    kind = STATUS_KINDS.get(status, "internal" if status >= 500 else "invalid_argument")
    if status in (502, 503):
        return XaiError(
            status,
            kind,
            "The service is temporarily overloaded. Please retry.",
            headers=_retry_after(retry_after_s),
        )
    if status >= 500:
        return XaiError(status, kind, "An internal error occurred while generating the image.")
    return XaiError(status, kind, f"Simulated error (HTTP {status}).")
