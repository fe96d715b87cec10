"""Pure mapping from OpenAI Images API error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx: a non-2xx answer goes in as status, body bytes and headers; an
``error`` object (from a 200 body of an OpenAI-compatible server, or a stream ``error`` event)
goes in parsed. Messages are redacted of the caller's secrets. Errors as OpenAI's API reference
describes them (our notes, compiled 2026-11).

A 404, or code ``model_not_found`` (§6; the shape assumed for retired models too, §0, §9
gotcha 1), says our catalog's ``upstream_model`` (or our base URL) is not served to this
account: the operator's configuration, never the caller's input. It is :class:`Unavailable`
(502, retryable: another endpoint may serve the call), with a message naming the model.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from pydantic import ValidationError

from providers._http import parse_retry_after, redact
from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.openai.wire import ErrorDetail, ErrorEnvelope

MODERATION_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
MODERATION_TYPES = frozenset({"image_generation_user_error"})
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
MODEL_NOT_FOUND = "model_not_found"


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "openai",
    secrets: tuple[str, ...] = (),
    model: str | None = None,
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError` (see :func:`error_class`);
    ``model`` is the upstream model id asked for, named when it is not served."""
    lowered = {k.lower(): v for k, v in headers.items()}
    detail = _error_detail(body)
    fallback = f"{provider} returned HTTP {status}"
    if detail is None and body.strip():
        fallback += ": " + body[:200].decode("utf-8", errors="replace").strip()
    return error_from_detail(
        detail,
        status,
        provider=provider,
        secrets=secrets,
        fallback=fallback,
        upstream_request_id=lowered.get("x-request-id"),
        retry_after=parse_retry_after(lowered),
        model=model,
    )


def error_from_detail(
    detail: ErrorDetail | None,
    status: int | None,
    *,
    provider: str = "openai",
    secrets: tuple[str, ...] = (),
    fallback: str = "upstream error",
    upstream_request_id: str | None = None,
    retry_after: float | None = None,
    model: str | None = None,
) -> ProviderError:
    """Build the error from a parsed ``error`` object (HTTP body or stream ``error`` event)."""
    message = redact((detail.message if detail else None) or fallback, secrets)
    raw = None
    if detail is not None:
        raw = {"error": detail.model_copy(update={"message": message}).model_dump()}
    cls = error_class(status, detail)
    if _not_served(status, detail):
        message += _not_served_note(provider, model)
    return cls(
        message,
        provider=provider,
        status_code=status,
        upstream_request_id=upstream_request_id,
        retry_after=retry_after,
        code=detail.code if detail else None,
        raw=raw,
    )


def error_class(status: int | None, detail: ErrorDetail | None) -> type[ProviderError]:
    """Status first, refined by ``code``/``type``; ``status=None`` is an in-stream error."""
    code = detail.code if detail else None
    kind = detail.type if detail else None
    if status in (401, 403):
        return AuthError
    if code in QUOTA_CODES or kind == "insufficient_quota":
        return InsufficientCredit  # a 429 that must not be retried against the same account
    if status is not None and (status in (408, 409) or status >= 500):
        return Unavailable
    if _not_served(status, detail):
        return Unavailable  # our catalog's model id or base URL: the operator's configuration
    if code in MODERATION_CODES or kind in MODERATION_TYPES:
        return ContentModerated
    if status == 429 or (status is None and code == "rate_limit_exceeded"):
        return RateLimited
    if status is None:
        return InvalidRequest if kind == "invalid_request_error" else Unavailable
    if 400 <= status < 500:
        return InvalidRequest
    return ProtocolError  # 1xx/3xx: not something the Images API answers


def _not_served(status: int | None, detail: ErrorDetail | None) -> bool:
    """A 404 (an unknown, retired or inaccessible model; or no such route at our base URL),
    or ``model_not_found`` under any status, in-stream included."""
    return status == 404 or (detail is not None and detail.code == MODEL_NOT_FOUND)


def _not_served_note(provider: str, model: str | None) -> str:
    """Appended to the upstream's message: the model is the catalog's, a fix for the operator."""
    what = f"the catalog's upstream model '{model}'" if model else "the catalog's upstream model"
    return (
        f" ({provider} does not serve {what} to this account: retired, unknown or not "
        "enabled, or a wrong base URL)"
    )


def _error_detail(body: bytes) -> ErrorDetail | None:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return ErrorEnvelope.model_validate(obj).error
    except ValidationError:
        return None
