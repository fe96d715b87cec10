"""Pure mapping from Recraft error answers to :class:`ProviderError` subclasses.

Recraft's error bodies vary: 401 and 404 are ``text/plain`` (``request unauthorized``,
``404 page not found``), the rest JSON of an undocumented shape (reference §4). As its docs
advise, the body is read as text first and parsed as JSON only when it is JSON; the class is
decided by the status, refined by a code or message that names credits or moderation (the
only two cases where the status alone is ambiguous). Messages are redacted of our key.
"""

from __future__ import annotations

import re
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
from providers.recraft.wire import ErrorBody

# Codes and messages we recognise; the shape is an open question (§8), so both are matched.
_CREDIT_CODE = re.compile(r"credit|balance|payment|units", re.I)
_CREDIT_TEXT = re.compile(
    r"(insufficient|not enough|out of|no)\W+(api\W+)?(credits?|units?|balance|funds)", re.I
)
_MODERATION_CODE = re.compile(r"moderat|nsfw|inappropriate|content_policy|safety", re.I)
_MODERATION_TEXT = re.compile(
    r"content moderation|moderation (system|filter)|inappropriate|nsfw content|"
    r"content policy|safety (system|filter)",
    re.I,
)
_MAX_MESSAGE = 500


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "recraft",
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError` (see :func:`error_class`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    text = body.decode("utf-8", errors="replace").strip()
    detail = _error_body(text, lowered.get("content-type", ""))
    upstream = (detail.text if detail else None) or text or "no error body"
    code = detail.kind if detail else None
    cls = error_class(status, code, upstream)
    message = redact(f"HTTP {status}: {upstream}"[:_MAX_MESSAGE], secrets)
    if status == 404 and cls is Unavailable:
        message += " (the configured base URL or upstream model is not served by Recraft)"
    return cls(
        message,
        provider=provider,
        status_code=status,
        upstream_request_id=lowered.get("x-request-id"),
        retry_after=parse_retry_after(lowered),
        code=code,
        raw={"code": code, "message": redact(upstream[:_MAX_MESSAGE], secrets)},
    )


def error_class(status: int, code: str | None, message: str) -> type[ProviderError]:
    """Status first; a 4xx naming credits or moderation is that, whatever its number.

    * 401 → :class:`AuthError` (also 403, unless it names moderation);
    * 402, or a 4xx about credits/units/balance → :class:`InsufficientCredit`;
    * a 4xx whose code or message names moderation/NSFW → :class:`ContentModerated`;
    * 404 → :class:`Unavailable`: Recraft serves no such path or model, which is our
      configuration, never the caller's request, and another endpoint may serve it;
    * 429 → :class:`RateLimited`; 408, 409 and 5xx → :class:`Unavailable`;
    * any other 4xx → :class:`InvalidRequest`.
    """
    if status == 401:
        return AuthError
    client_error = 400 <= status < 500
    if status == 402 or (client_error and _names_credit(code, message)):
        return InsufficientCredit
    if client_error and _names_moderation(code, message):
        return ContentModerated
    if status == 403:
        return AuthError
    if status == 429:
        return RateLimited
    if status in (404, 408, 409) or status >= 500:
        return Unavailable
    if client_error:
        return InvalidRequest
    return ProtocolError  # 1xx/3xx: not something this API answers


def _names_credit(code: str | None, message: str) -> bool:
    return bool(_CREDIT_CODE.search(code or "")) or bool(_CREDIT_TEXT.search(message))


def _names_moderation(code: str | None, message: str) -> bool:
    return bool(_MODERATION_CODE.search(code or "")) or bool(_MODERATION_TEXT.search(message))


def _error_body(text: str, content_type: str) -> ErrorBody | None:
    """The JSON error object, when the body is one (declared JSON, or plainly an object)."""
    if "json" not in content_type.lower() and not text.startswith("{"):
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return ErrorBody.model_validate(obj)
    except ValidationError:
        return None
