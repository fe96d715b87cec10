"""OpenAI error envelopes (reference §6): ``{"error": {"message", "type", "param", "code"}}``.

Bodies marked verbatim in the reference are reproduced exactly; the others follow OpenAI's
usual wording for the same class of error (tagged [INF] in the reference) and live here so
they are easy to change in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

INVALID = "invalid_request_error"


@dataclass
class OpenAIError(Exception):
    """An error answer; raise it anywhere in a handler, the app renders it."""

    status: int
    message: str
    type: str = INVALID
    param: str | None = None
    code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        return {"error": error | self.extra}

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


def _quote_list(values: list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def invalid_value(
    param: str, value: object, allowed: list[str] | None = None, why: str = ""
) -> OpenAIError:
    """``Invalid value: 'x'. Supported values are: …`` (verbatim shape from the size error)."""
    message = f"Invalid value: '{value}'."
    if allowed:
        message += f" Supported values are: {_quote_list(allowed)}."
    if why:
        message += f" {why}"
    return OpenAIError(400, message, param=param, code="invalid_value")


def unknown_parameter(param: str) -> OpenAIError:
    """Verbatim from real traffic for ``response_format`` sent to a GPT image model."""
    return OpenAIError(400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def unsupported_parameter(param: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Unsupported parameter: '{param}' is not supported with this model.",
        param=param,
        code="unsupported_parameter",
    )


def missing_parameter(param: str) -> OpenAIError:
    return OpenAIError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


_TYPE_NAMES = {int: "an integer", str: "a string", bool: "a boolean", dict: "an object"}


def invalid_type(param: str, expected: type, got: object) -> OpenAIError:
    got_name = _TYPE_NAMES.get(type(got), "a " + type(got).__name__)
    return OpenAIError(
        400,
        f"Invalid type for '{param}': expected {_TYPE_NAMES[expected]}, "
        f"but got {got_name} instead.",
        param=param,
        code="invalid_type",
    )


def out_of_range(param: str, value: int, low: int, high: int) -> OpenAIError:
    if value < low:
        message = f"Invalid '{param}': integer below minimum value. Expected a value >= {low}"
        code = "integer_below_min_value"
    else:
        message = f"Invalid '{param}': integer above maximum value. Expected a value <= {high}"
        code = "integer_above_max_value"
    return OpenAIError(400, f"{message}, but got {value} instead.", param=param, code=code)


def too_long(param: str, kind: str, length: int, maximum: int) -> OpenAIError:
    what = "a string" if kind == "string" else "an array"
    return OpenAIError(
        400,
        f"Invalid '{param}': {kind} too long. Expected {what} with maximum length {maximum}, "
        f"but got {what} with length {length} instead.",
        param=param,
        code=f"{kind}_above_max_length",
    )


def model_not_found(model: str) -> OpenAIError:
    """Retired and unknown models alike ([INF] shape from the chat endpoints)."""
    return OpenAIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def missing_api_key() -> OpenAIError:
    return OpenAIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
        "field (with blank username) if you're accessing the API from your browser and are "
        "prompted for a username and password. You can obtain an API key from "
        "https://platform.openai.com/account/api-keys.",
    )


def invalid_api_key(key: str) -> OpenAIError:
    shown = key if len(key) <= 8 else f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"
    return OpenAIError(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def moderation_blocked(request_id: str, stage: str, category: str = "violence") -> OpenAIError:
    """Verbatim shape from real traffic (Codex logs); ``moderation_stage`` is input|output."""
    return OpenAIError(
        400,
        "Your request was rejected by the safety system. If you believe this is an error, "
        f"contact us at help.openai.com and include the request ID {request_id}. "
        f"safety_violations=[{category}].",
        type="image_generation_user_error",
        code="moderation_blocked",
        extra={"moderation_details": {"moderation_stage": stage, "categories": [category]}},
    )


def _retry_headers(retry_after_s: float) -> dict[str, str]:
    return {
        "retry-after": str(max(1, math.ceil(retry_after_s))),
        "retry-after-ms": str(max(1, round(retry_after_s * 1000))),
    }


def _duration(seconds: float) -> str:
    """OpenAI-style reset duration: ``20ms``, ``1s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, secs = divmod(math.ceil(seconds), 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rate_limited(model: str, retry_after_s: float) -> OpenAIError:
    wait = _duration(retry_after_s)
    return OpenAIError(
        429,
        f"Rate limit reached for {model} in organization org-simulator on images per minute "
        f"(IPM): Limit 5, Used 5, Requested 1. Please try again in {wait}. Visit "
        "https://platform.openai.com/account/rate-limits to learn more.",
        type="requests",
        code="rate_limit_exceeded",
        headers={
            **_retry_headers(retry_after_s),
            "x-ratelimit-limit-requests": "5",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": wait,
            "x-ratelimit-limit-images": "5",
            "x-ratelimit-remaining-images": "0",
            "x-ratelimit-reset-images": wait,
        },
    )


def insufficient_quota() -> OpenAIError:
    return OpenAIError(
        429,
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        type="insufficient_quota",
        code="insufficient_quota",
        headers={"x-should-retry": "false"},
    )


def for_status(status: int, model: str, retry_after_s: float) -> OpenAIError:
    """A representative error for an injected status (``fail_next`` or ``[sim:<status>]``)."""
    if status == 429:
        return rate_limited(model, retry_after_s)
    if status == 401:
        return invalid_api_key("sk-simulated")
    if status == 404:
        return model_not_found(model)
    if status == 503:
        error = OpenAIError(503, "The server is overloaded or not ready yet.", type="server_error")
        error.headers = _retry_headers(retry_after_s)
        return error
    if status >= 500:
        return OpenAIError(
            status,
            "The server had an error while processing your request. Sorry about that!",
            type="server_error",
        )
    return OpenAIError(status, f"Simulated error (HTTP {status}).")
