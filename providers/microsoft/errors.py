"""Pure mapping from Azure's MAI error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx: a non-2xx answer goes in as status, body bytes and headers.
Messages are redacted of our credentials. Errors as Microsoft's Azure AI Foundry documentation
describes them (our notes, compiled 2026-11).

* 401/403 → :class:`AuthError` (a rejected key or token; a 403 is also Azure's abuse block of
  the whole resource, which no other request would get past either).
* 429 → :class:`RateLimited` with ``Retry-After``.
* 404 → :class:`Unavailable`: the deployment (our ``upstream_model``) or the base URL is wrong,
  a configuration problem of this endpoint, not of the caller's request.
* 408/409/5xx (JSON or plain text) → :class:`Unavailable`.
* Azure's content filter (``content_filter`` and kin, ``innererror.code:
  ResponsibleAIPolicyViolation``, a ``content_filter_result``, or a 4xx message about content
  policy, as the reference advises) → :class:`ContentModerated` naming the filtered categories.
* Other 4xx (``unsupported_request_value`` …) → :class:`InvalidRequest`.

The envelope is read leniently: a ``content_filter_result`` that is not an object, or an
``innererror.code`` that is not text, counts as absent rather than losing the whole envelope.
Everything copied from it into a message or ``raw`` (``message``, ``details``, category names)
is redacted like any other upstream text.
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
    ContentModerated,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.microsoft.wire import ErrorDetail, ErrorEnvelope

CONTENT_FILTER_CODES = frozenset(
    {"content_filter", "contentfilter", "content_policy_violation", "responsibleaipolicyviolation"}
)
RAI_INNER_CODE = "responsibleaipolicyviolation"
_POLICY_TEXT = re.compile(
    r"content[\s_-]*(filter|polic|management|safety)|responsible\s*ai|\bRAI\b", re.IGNORECASE
)
REQUEST_ID_HEADERS = ("apim-request-id", "x-request-id", "x-ms-request-id")
_SNIPPET = 200


def request_id(headers: Mapping[str, str]) -> str | None:
    """Azure's request id: ``apim-request-id``, else ``x-request-id`` / ``x-ms-request-id``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return next((lowered[h] for h in REQUEST_ID_HEADERS if lowered.get(h)), None)


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "azure",
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError`."""
    detail = parse_error(body)
    fallback = f"{provider} returned HTTP {status}"
    if detail is None and body.strip():
        fallback += ": " + body[:_SNIPPET].decode("utf-8", errors="replace").strip()
    return error_from_detail(
        detail,
        status,
        provider=provider,
        secrets=secrets,
        fallback=fallback,
        upstream_request_id=request_id(headers),
        retry_after=parse_retry_after(headers),
    )


def error_from_detail(
    detail: ErrorDetail | None,
    status: int | None,
    *,
    provider: str = "azure",
    secrets: tuple[str, ...] = (),
    fallback: str = "upstream error",
    upstream_request_id: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """Build the error from a parsed ``error`` object; ``status=None``: a 200 carrying one."""
    text = (detail.message or detail.details) if detail else None
    message = text or fallback
    cls = error_class(status, detail)
    if cls is ContentModerated:
        categories = filtered_categories(detail)
        named = f" ({', '.join(categories)})" if categories else ""
        message = f"Azure AI content filter{named}: {message}"
    elif status == 404:
        message += " (check the endpoint's base URL and deployment name)"
    message = redact(message, secrets)  # all of it: Azure's text, details, category names
    raw = None
    if detail is not None:
        details = redact(detail.details, secrets) if detail.details else detail.details
        raw = {
            "error": detail.model_copy(update={"message": message, "details": details}).model_dump()
        }
    return cls(
        message,
        provider=provider,
        status_code=status,
        upstream_request_id=upstream_request_id,
        retry_after=retry_after if cls is RateLimited else None,
        code=detail.code if detail else None,
        raw=raw,
    )


def error_class(status: int | None, detail: ErrorDetail | None) -> type[ProviderError]:
    """Status first; a 4xx (or an error in a 200) is refined by the content-filter signs."""
    if status in (401, 403):
        return AuthError
    if status == 429:
        return RateLimited
    if status is not None and (status in (404, 408, 409) or status >= 500):
        return Unavailable
    if is_content_filter(detail):
        return ContentModerated
    if status is not None and 400 <= status < 500:
        return InvalidRequest
    return ProtocolError


def is_content_filter(detail: ErrorDetail | None) -> bool:
    """Any of Azure's content-filter signs (reference §6: code, inner code, result, wording)."""
    if detail is None:
        return False
    if (detail.code or "").lower() in CONTENT_FILTER_CODES:
        return True
    inner = detail.innererror
    if inner is not None and (
        (inner.code or "").lower() == RAI_INNER_CODE or inner.content_filter_result
    ):
        return True
    if detail.content_filter_result:
        return True
    text = " ".join(t for t in (detail.message, detail.details) if t)
    return bool(_POLICY_TEXT.search(text))


def filtered_categories(detail: ErrorDetail | None) -> list[str]:
    """``violence (medium)``, ``jailbreak`` …: every category the filter marked ``filtered``."""
    if detail is None:
        return []
    found: list[str] = []
    for result in (
        detail.innererror.content_filter_result if detail.innererror else None,
        detail.content_filter_result,
    ):
        if result:
            _collect(result, found)
    return list(dict.fromkeys(found))


_MAX_FILTER_DEPTH = 8


def _collect(node: Mapping[str, Any], found: list[str], depth: int = 0) -> None:
    """Walk a (possibly nested) filter result: ``{category: {"filtered": true, …}}``, down to
    :data:`_MAX_FILTER_DEPTH` levels (Azure nests two; a hostile answer could nest a thousand)."""
    if depth >= _MAX_FILTER_DEPTH:
        return
    for name, value in node.items():
        if not isinstance(value, Mapping):
            continue
        if value.get("filtered") is True:
            severity = value.get("severity")
            found.append(f"{name} ({severity})" if isinstance(severity, str) else name)
        else:
            _collect(value, found, depth + 1)


def parse_error(body: bytes) -> ErrorDetail | None:
    """The ``error`` object of an Azure envelope, or None for plain text and other shapes."""
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
