"""Pure mapping from Gemini API error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx. Errors as Google's Gemini API documentation describes them (our
notes, compiled 2026-10).

* A rejected key is a **400** on Google (``details[].reason == "API_KEY_INVALID"``): it is our
  credential, so :class:`AuthError` (502, falls back), never the caller's 400. So is every other
  ``API_KEY_*`` reason (``API_KEY_EXPIRED``, ``API_KEY_SERVICE_BLOCKED``, …), whatever the status.
* 429 ``RESOURCE_EXHAUSTED`` is :class:`RateLimited` with ``RetryInfo.retryDelay`` (``"34.4s"``)
  as ``retry_after``; but ``limit: 0`` in the message means the key has no quota at all for
  the model (a free-tier key on an image model), which waiting does not cure:
  :class:`InsufficientCredit`.
* 400 ``FAILED_PRECONDITION`` (billing not enabled, region not served) is the account's
  configuration, not the request: :class:`InsufficientCredit` too (choice; the reference calls
  it a configuration error).
* 404 (``NOT_FOUND``) is an unknown or retired model id: our catalog's, not the caller's, so
  :class:`Unavailable` (the operator's misconfiguration; another endpoint may serve the call).
* Bodies that are not JSON (proxies, Google's HTML 404 page) are mapped by status alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from providers._http import parse_retry_after, redact
from providers.errors import (
    AuthError,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.google.wire import ErrorEnvelope, ErrorStatus

AUTH_REASON_PREFIX = "API_KEY_"  # API_KEY_INVALID, API_KEY_EXPIRED, API_KEY_SERVICE_BLOCKED…
BAD_KEY_MESSAGE = "API key not valid"
NO_QUOTA = re.compile(r"\blimit:\s*0\b")
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
# Google API keys, should an upstream message ever echo one.
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{20,}")


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "google-ai-studio",
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError`."""
    detail = _error_status(body)
    if detail is None:
        text = body[:200].decode("utf-8", errors="replace").strip()
        fallback = f"{provider} returned HTTP {status}" + (f": {text}" if text else "")
        if text.lower().startswith(("<!doctype", "<html")):
            fallback = f"{provider} returned HTTP {status} (an HTML page)"
        return _build(error_class(status, None), clean(fallback, secrets), status, provider)
    return error_from_status(detail, status, headers, provider=provider, secrets=secrets)


def error_from_status(
    detail: ErrorStatus,
    status: int | None,
    headers: Mapping[str, str] | None = None,
    *,
    provider: str = "google-ai-studio",
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """Build the error from a parsed ``error`` object (``status=None``: inside a 200 body)."""
    code = status if status is not None else detail.code
    message = clean(detail.message or f"{provider} returned HTTP {code}", secrets)
    cls = error_class(code, detail)
    retry_after = None
    if cls is RateLimited:
        retry_after = retry_delay(detail.details)
        if retry_after is None and headers is not None:
            retry_after = parse_retry_after(headers)
    raw = {"error": {"code": detail.code, "status": detail.status, "message": message}}
    return _build(cls, message, code, provider, retry_after, _code(detail), raw)


def error_class(status: int | None, detail: ErrorStatus | None) -> type[ProviderError]:
    """Status first, refined by ``details[].reason``, ``status`` name and message."""
    reasons = _reasons(detail)
    message = (detail.message or "") if detail else ""
    name = (detail.status or "") if detail else ""
    bad_key = any(r.startswith(AUTH_REASON_PREFIX) for r in reasons)
    if bad_key or (status == 400 and BAD_KEY_MESSAGE in message):
        return AuthError
    if status in (401, 403) or name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return AuthError
    if status == 429 or name == "RESOURCE_EXHAUSTED":
        return InsufficientCredit if NO_QUOTA.search(message) else RateLimited
    if name == "FAILED_PRECONDITION":
        return InsufficientCredit
    if status is None or status == 404 or name == "NOT_FOUND":
        return Unavailable  # 404: a model id from our catalog that Google does not serve
    if status in (408, 409, 499) or status >= 500:
        return Unavailable
    if 400 <= status < 500:
        return InvalidRequest
    return ProtocolError  # 1xx/3xx: not something the Gemini API answers


def retry_delay(details: list[dict[str, Any]]) -> float | None:
    """Seconds from a ``RetryInfo`` detail (``"retryDelay": "34.4s"``), else None."""
    for item in details:
        if item.get("@type") == RETRY_INFO:
            match = _DURATION.match(str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def clean(text: str, secrets: tuple[str, ...]) -> str:
    """Our key (and anything shaped like a Google key) out of an upstream message."""
    return _GOOGLE_KEY.sub("AIza***", redact(text, secrets))


def _reasons(detail: ErrorStatus | None) -> set[str]:
    if detail is None:
        return set()
    return {str(d["reason"]) for d in detail.details if isinstance(d.get("reason"), str)}


def _code(detail: ErrorStatus) -> str | None:
    reasons = sorted(_reasons(detail))
    return reasons[0] if reasons else detail.status


def _build(
    cls: type[ProviderError],
    message: str,
    status: int | None,
    provider: str,
    retry_after: float | None = None,
    code: str | None = None,
    raw: Any = None,
) -> ProviderError:
    return cls(
        message,
        provider=provider,
        status_code=status,
        retry_after=retry_after,
        code=code,
        raw=raw,
    )


def _error_status(body: bytes) -> ErrorStatus | None:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(obj, list) and obj and isinstance(obj[0], dict):
        obj = obj[0]  # a streamGenerateContent error without alt=sse comes as an array
    if not isinstance(obj, dict):
        return None
    try:
        return ErrorEnvelope.model_validate(obj).error
    except ValidationError:
        return None
