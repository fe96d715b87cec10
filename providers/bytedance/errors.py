"""Pure mapping from ModelArk error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx: a non-2xx answer goes in as status, body bytes and headers; an
``error`` object (a failed image, a stream-level error) goes in parsed. Messages are redacted
of our key. Error codes as BytePlus ModelArk documents them (our notes, compiled 2026-10).

Choices where the reference is silent:

* ``InvalidEndpoint.ClosedEndpoint`` (400) is our configuration, not the caller's request:
  :class:`Unavailable`, so another provider can serve the call. So is a 404
  (``InvalidEndpoint.NotFound``, ``UnsupportedModel``, ``ModelNotOpen``): the model id is our
  catalog's, and a model that does not exist or is not enabled for our account is the
  operator's misconfiguration.
* ModelArk documents no ``Retry-After``; a 429 without one gets :data:`DEFAULT_RETRY_AFTER_S`
  as a hint (its limits are per minute, so clients should back off rather than hammer).
* The request id is taken from the ``x-request-id`` header, else from the message's
  ``Request id: …`` suffix.
* An error without an HTTP status (a failed ``data[]`` item, a ``partial_failed`` event, a
  stream-level error) is classified by the status its ``code`` or ``type`` names: the §5
  table's types (``BadRequest`` 400, ``Unauthorized`` 401, ``Forbidden`` 403, ``NotFound``
  404, ``TooManyRequests`` 429, ``InternalServiceError`` 500) and its 400 codes. The stream-level
  error §4 documents is ``{"code": "BadRequest", …}``: a rejected request, so
  :class:`InvalidRequest`, never retried elsewhere. An error naming nothing known stays
  :class:`Unavailable` (transient: the model stops after an internal error, §3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import orjson
from pydantic import ValidationError

from providers._http import parse_retry_after, redact
from providers.bytedance.wire import ErrorDetail, ErrorEnvelope
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

PROVIDER = "seed"
DEFAULT_RETRY_AFTER_S = 5.0
QUOTA_CODES = frozenset({"AccountOverdueError"})
# Our endpoint or model id is closed, unknown or not enabled: the operator's configuration.
CONFIGURATION_CODES = frozenset(
    {
        "InvalidEndpoint.ClosedEndpoint",
        "InvalidEndpoint.NotFound",
        "UnsupportedModel",
        "ModelNotOpen",
    }
)
INTERNAL_CODES = frozenset({"InternalServiceError", "ServiceUnavailable"})
# The HTTP status an error names when it arrives without one (in a 200 or in a stream): the
# §5 table's ``type`` column, which a stream-level error uses as its code (§4), and the 400
# codes of that table (moderation and configuration codes are classified before this is read).
IN_BAND_STATUS: dict[str, int] = {
    "BadRequest": 400,
    "MissingParameter": 400,
    "InvalidParameter": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "NotFound": 404,
    "TooManyRequests": 429,
    "InternalServiceError": 500,
    "ServiceUnavailable": 503,
}
_REQUEST_ID = re.compile(r"request id:\s*([0-9A-Za-z_-]+)", re.IGNORECASE)


def is_moderation(code: str | None) -> bool:
    """Input and output moderation: ``SensitiveContentDetected[.*]``, ``Input{Text,Image}…``,
    ``OutputImageSensitiveContentDetected``."""
    if not code:
        return False
    return code.startswith("SensitiveContentDetected") or code.endswith("SensitiveContentDetected")


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = PROVIDER,
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError` (see :func:`error_class`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    detail = error_detail(body)
    fallback = f"{provider} returned HTTP {status}"
    if detail is None and body.strip():
        fallback += ": " + body[:200].decode("utf-8", errors="replace").strip()
    retry_after = parse_retry_after(lowered)
    error = error_from_detail(
        detail,
        status,
        provider=provider,
        secrets=secrets,
        fallback=fallback,
        upstream_request_id=lowered.get("x-request-id"),
        retry_after=retry_after,
    )
    if isinstance(error, RateLimited) and error.retry_after is None:
        error.retry_after = DEFAULT_RETRY_AFTER_S
    return error


def error_from_detail(
    detail: ErrorDetail | None,
    status: int | None,
    *,
    provider: str = PROVIDER,
    secrets: tuple[str, ...] = (),
    fallback: str = "upstream error",
    upstream_request_id: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """Build the error from a parsed ``error`` object (``status=None``: inside a 200 answer)."""
    message = redact((detail.message if detail else None) or fallback, secrets)
    code = detail.code if detail else None
    if upstream_request_id is None:
        found = _REQUEST_ID.search(message)
        upstream_request_id = found.group(1) if found else None
    raw = None
    if detail is not None:
        raw = {"error": detail.model_copy(update={"message": message}).model_dump()}
    cls = error_class(status, code, detail.type if detail else None)
    return cls(
        message,
        provider=provider,
        status_code=status,
        upstream_request_id=upstream_request_id,
        retry_after=retry_after,
        code=code,
        raw=raw,
    )


def error_class(
    status: int | None, code: str | None, kind: str | None = None
) -> type[ProviderError]:
    """Code first where it is unambiguous (moderation, overdue account), then the status.

    ``status=None`` (a failed image, a stream-level error): the status the ``code``, else the
    ``kind`` (the envelope's ``type``), names (:data:`IN_BAND_STATUS`); none known is
    :class:`Unavailable`.
    """
    if is_moderation(code):
        return ContentModerated
    if code in QUOTA_CODES:
        return InsufficientCredit
    if status is None:
        status = IN_BAND_STATUS.get(code or "") or IN_BAND_STATUS.get(kind or "")
    if status in (401, 403) or code in ("AuthenticationError", "AccessDenied"):
        return AuthError
    if status == 429 or (code or "").startswith("RateLimitExceeded"):
        return RateLimited
    if code in CONFIGURATION_CODES or code in INTERNAL_CODES:
        return Unavailable
    if status is None:  # an error that names no status: transient, as an internal error is
        return Unavailable
    if status in (404, 408, 409) or status >= 500:  # 404: no such model (or route) for us
        return Unavailable
    if 400 <= status < 500:  # InvalidParameter, MissingParameter
        return InvalidRequest
    return ProtocolError  # 1xx/3xx: not something this API answers


def error_detail(body: bytes) -> ErrorDetail | None:
    """The ``error`` object of an error body, or None when it has none."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        envelope = ErrorEnvelope.model_validate(obj)
    except ValidationError:
        return None
    if envelope.error is None and envelope.message:
        return ErrorDetail(message=envelope.message)
    return envelope.error
