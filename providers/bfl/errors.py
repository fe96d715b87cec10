"""Pure mapping from BFL error answers and terminal task statuses to :class:`ProviderError`.

No I/O, no ``await``, no httpx: a non-2xx answer goes in as status, body bytes and headers; a
terminal poll answer goes in parsed. Messages are redacted of our key. Statuses, errors and rate
limits as Black Forest Labs documents them (our notes, compiled 2026-10).

Choices where the reference is silent:

* ``Error`` and ``Failed`` are :class:`Unavailable` (the provider failed the task; another
  endpoint may succeed); ``Task not found`` for a task BFL just accepted is a
  :class:`ProtocolError` (the provider contradicts itself). Both are retryable.
* A 429 without ``Retry-After`` (nor a body ``retry_after``) still tells the caller to wait
  :data:`DEFAULT_RETRY_AFTER_S`, the low end of the reference's "1-5 s" back-off.
* A 404 is :class:`Unavailable`: BFL serves no such model route (the catalog's upstream model
  is wrong) or no such polling route. That is the operator's misconfiguration, not the caller's
  input, so another endpoint may still serve the call.
* On a poll, every other 4xx but 401/402/403/429 is :class:`Unavailable` too: a poll carries
  nothing of the caller's (only the URL and id BFL gave us), so its rejection cannot be the
  caller's fault. It is not retried on the same task, though (:func:`is_transient`).
* On submit, 400/422 and the other 4xx are :class:`InvalidRequest` (deterministic); 408/409
  and 5xx are :class:`Unavailable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from providers._http import parse_retry_after, redact
from providers.bfl.wire import ErrorBody, ResultResponse
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

DEFAULT_RETRY_AFTER_S = 1.0
MODERATED = {
    "Request Moderated": "the input was flagged",
    "Content Moderated": "the output was flagged",
}
FAILED = frozenset({"Error", "Failed"})
NOT_FOUND = "Task not found"
_CODES = {"Request Moderated": "request_moderated", "Content Moderated": "content_moderated"}


def error_class(status: int, what: str = "request") -> type[ProviderError]:
    """BFL's error table (§6): 401/403 auth, 402 credits, 429 rate, 5xx unavailable; 404 (no
    such model or route) and a rejected poll are unavailable; other 4xx the caller's."""
    if status in (401, 403):
        return AuthError
    if status == 402:
        return InsufficientCredit
    if status == 429:
        return RateLimited
    if status in (404, 408, 409) or status >= 500:
        return Unavailable
    if 400 <= status < 500:
        return Unavailable if what == "poll" else InvalidRequest
    return ProtocolError


def is_transient(error: ProviderError) -> bool:
    """Worth another poll of the same task: a 429, a 408/409/5xx or no HTTP answer at all.

    A 404 or another 4xx will be the same on the next poll, so it ends the polling at once.
    """
    status = error.status_code
    if isinstance(error, RateLimited):
        return True
    return status is None or status in (408, 409) or status >= 500


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "black-forest-labs",
    secrets: tuple[str, ...] = (),
    upstream_id: str | None = None,
    what: str = "request",
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError`, with BFL's own message."""
    lowered = {k.lower(): v for k, v in headers.items()}
    parsed = _error_body(body)
    text = error_message(parsed) if parsed is not None else None
    if text is None and body.strip():
        text = body[:200].decode("utf-8", errors="replace").strip()
    message = f"BFL {what} answered HTTP {status}" + (f": {text}" if text else "")
    cls = error_class(status, what)
    retry_after = parse_retry_after(lowered)
    if retry_after is None and parsed is not None:
        retry_after = parsed.retry_after
    if retry_after is None and cls is RateLimited:
        retry_after = DEFAULT_RETRY_AFTER_S
    code = parsed.error if parsed is not None and isinstance(parsed.error, str) else None
    return cls(
        redact(message, secrets),
        provider=provider,
        status_code=status,
        upstream_request_id=upstream_id,
        retry_after=retry_after,
        code=code,
    )


def error_message(body: ErrorBody) -> str | None:
    """``detail`` as text (a validation list as ``loc: msg`` items), else ``message``."""
    detail = body.detail
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        return "; ".join(_validation_item(d) for d in detail)
    if detail:
        return _as_text(detail)
    if isinstance(body.message, str) and body.message:
        return body.message
    return None


def _as_text(value: Any) -> str:
    """A string as itself, anything else as compact JSON; nesting deeper than orjson writes
    (255 levels) is described by :func:`describe_details` instead, which stops early."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except (TypeError, ValueError):  # orjson.JSONEncodeError: too deep, or not JSON at all
        return describe_details(value)


def _validation_item(entry: Any) -> str:
    if not isinstance(entry, dict):
        return _as_text(entry)
    loc_parts = entry.get("loc")
    if not isinstance(loc_parts, list | tuple):
        loc_parts = ()
    loc = ".".join(_as_text(p) for p in loc_parts if p != "body")
    msg = _as_text(entry.get("msg") or entry.get("type") or "invalid")
    return f"{loc}: {msg}" if loc else msg


def _error_body(body: bytes) -> ErrorBody | None:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return ErrorBody.model_validate(obj)
    except ValidationError:
        return None


def status_error(
    answer: ResultResponse,
    *,
    provider: str = "black-forest-labs",
    task_id: str | None = None,
    secrets: tuple[str, ...] = (),
) -> ProviderError | None:
    """The error a terminal failure status stands for; None for Ready and in-progress ones."""
    status = answer.status
    reasons = describe_details(answer.details)
    suffix = f": {reasons}" if reasons else ""
    if status in MODERATED:
        message = f"{status} ({MODERATED[status]}){suffix}"
        cls: type[ProviderError] = ContentModerated
        code = _CODES[status]
    elif status in FAILED:
        message = f"BFL task ended with status {status}{suffix}"
        cls, code = Unavailable, f"task_{status.lower()}"
    elif status == NOT_FOUND:
        message = "BFL does not know the task it accepted (Task not found: unknown or expired)"
        cls, code = ProtocolError, "task_not_found"
    else:
        return None
    return cls(
        redact(message, secrets),
        provider=provider,
        upstream_request_id=task_id,
        code=code,
        raw={"status": status, "details": answer.details},
    )


MAX_DETAIL_DEPTH = 16
"""How deep :func:`describe_details` follows nested ``details``; deeper levels read ``…``."""


def describe_details(details: Any, _depth: int = 0) -> str:
    """``{"Moderation Reasons": ["Protected Content"]}`` → ``Protected Content``.

    Nesting past :data:`MAX_DETAIL_DEPTH` is cut (``…``): a hostile answer nested a thousand
    levels deep must not exhaust the interpreter's recursion limit.
    """
    if details is None:
        return ""
    if isinstance(details, str):
        return details
    if isinstance(details, list | dict) and _depth >= MAX_DETAIL_DEPTH:
        return "…"
    if isinstance(details, list):
        return ", ".join(describe_details(d, _depth + 1) for d in details if d is not None)
    if isinstance(details, dict):
        parts = [describe_details(v, _depth + 1) for v in details.values()]
        return ", ".join(p for p in parts if p)
    return str(details)
