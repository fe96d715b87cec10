"""Pure mapping from Azure's MAI error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx: a non-2xx answer goes in as status, body bytes and headers.
Messages are redacted of our credentials. Errors as Microsoft's Azure AI Foundry documentation
describes them (our notes, compiled 2026-11).

* 401 and a plain 403 → :class:`AuthError` (a rejected key or token, a missing permission).
* A 403 that speaks of content policy (Azure's abuse block: "… may violate our content
  policy …", which the reference lists under content filtering and its simulator checklist
  under moderation triggers, §6, §8) → :class:`ContentModerated`: not retried, because the
  caller's prompts are what got the resource blocked.
* 429 → :class:`RateLimited` with ``Retry-After``.
* 404 → :class:`Unavailable`: the deployment (our ``upstream_model``) or the base URL is wrong,
  a configuration problem of this endpoint, not of the caller's request.
* 408/409/5xx (JSON or plain text) → :class:`Unavailable`.
* Azure's content filter (``content_filter`` and kin, ``innererror.code:
  ResponsibleAIPolicyViolation``, a ``content_filter_result``) → :class:`ContentModerated`
  naming the filtered categories. So is any **400** whose code or message mentions content,
  policy or RAI, the reference's own rule (§6), read as whole words (``content``, ``policy`` /
  ``policies``, ``RAI``, ``responsible AI``; codes split at case and ``_``), HTTP header names
  (``Content-Type`` …) aside. Other 4xx, and errors inside a 200, need the narrower wording
  (content filter/policy/management/safety, responsible AI, RAI).
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
# §6: "Treat any 400 whose code or message mentions content, policy or RAI as a content-policy
# error." Whole words, so "contents" or "policyholder" do not count; RAI only in capitals.
_POLICY_WORDS = re.compile(r"(?i:\b(?:content|polic(?:y|ies)|responsible[\s_-]*ai)\b)|\bRAI\b")
# "content" as part of an HTTP header name speaks of the request's encoding, not its content:
# "Unsupported Content-Type 'text/plain'" is a malformed request, not a refusal.
_HEADER_NAMES = re.compile(
    r"\bcontent[\s_-]*(?:type|length|disposition|encoding|language|range|md5)\b", re.IGNORECASE
)
# Word boundaries inside a code: "ResponsibleAIPolicyViolation" → "Responsible AI Policy …".
_CODE_WORDS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[_\-.]+")
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
    """Status first; a 4xx (or an error in a 200) is refined by the content-filter signs.

    The content filter is tested before the 403 → :class:`AuthError` rule: Azure's abuse block
    is a 403 about content policy (§6), a moderation refusal rather than our credentials.
    """
    if status == 403 and is_content_filter(detail):
        return ContentModerated
    if status in (401, 403):
        return AuthError
    if status == 429:
        return RateLimited
    if status is not None and (status in (404, 408, 409) or status >= 500):
        return Unavailable
    if is_content_filter(detail, broad=status == 400):
        return ContentModerated
    if status is not None and 400 <= status < 500:
        return InvalidRequest
    return ProtocolError


def is_content_filter(detail: ErrorDetail | None, *, broad: bool = False) -> bool:
    """Any of Azure's content-filter signs (reference §6: code, inner code, result, wording).

    ``broad`` (a 400) applies the reference's rule to the wording: any mention of content,
    policy or RAI in the code or message (see :func:`mentions_policy`).
    """
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
    if broad:
        return mentions_policy(detail.code, text)
    return bool(_POLICY_TEXT.search(text))


def mentions_policy(code: str | None, text: str) -> bool:
    """§6's rule for a 400: the code or message mentions content, policy or RAI (whole words;
    a code is read in words, ``contentPolicy_violation`` → ``content Policy violation``)."""
    words = _CODE_WORDS.sub(" ", code or "")
    return any(_POLICY_WORDS.search(_HEADER_NAMES.sub(" ", part)) for part in (words, text))


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
