"""Pure mapping from Runware error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx. Errors as Runware's documentation describes them (our notes,
compiled 2026-11). Runware
documents no status per code and warns its codes are still being standardised, so the rule is
the reference's own: classify by HTTP status, then by ``code`` (``invalid*``/``missing*``/
``unsupported*``… are validation). A few codes decide whatever the status: a safety code is a
moderation refusal, an auth/quota/rate code is what it says (a rejected key is an
:class:`AuthError` even inside a 400), a provider-side code (``timeoutProvider``…) is transient.
A model Runware does not know (``modelNotFound``, ``invalidModel``, any validation code on the
``model`` parameter, or an HTTP 404) is :class:`Unavailable`: the AIR comes from our catalog,
never from the caller, so it is the operator's misconfiguration and another endpoint may serve.

Runware sends no ``Retry-After`` that the reference knows of; a 429 without one is reported
with :data:`DEFAULT_RETRY_AFTER_S`, since the SDKs retry 429 after a short backoff.
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
from providers.runware.wire import Answer, TaskError

AUTH_CODES = frozenset({"invalidApiKey", "unauthorized", "forbidden"})
QUOTA_CODES = frozenset({"insufficientCredits", "paymentRequired", "quotaExceeded"})
RATE_CODES = frozenset({"rateLimitExceeded"})
SAFETY_CODES = frozenset(
    {
        "contentPolicyViolation",
        "providerContentPolicyViolation",
        "nsfwContentDetected",
        "promptBlocked",
        "imageBlocked",
    }
)
PROVIDER_CODES = frozenset(
    {
        "timeoutProvider",
        "inferenceError",
        "providerInternalError",
        "modelUnavailable",
        "taskFailedOrNotFound",
    }
)
# The model AIR (our catalog's, never the caller's) is unknown to Runware.
MODEL_CODES = frozenset({"modelNotFound", "invalidModel", "unknownModel"})
VALIDATION_PREFIXES = ("invalid", "missing", "unsupported", "unknown", "incompatible")
DEFAULT_RETRY_AFTER_S = 1.0
_MAX_TEXT = 300


def error_class(
    status: int | None, code: str | None, parameter: str | None = None
) -> type[ProviderError]:
    """``status=None``: a per-task error reported inside a 200 answer."""
    if code in SAFETY_CODES:
        return ContentModerated
    if status in (401, 403) or code in AUTH_CODES:
        return AuthError
    if status == 402 or code in QUOTA_CODES:
        return InsufficientCredit
    if status == 429 or code in RATE_CODES:
        return RateLimited
    if code in PROVIDER_CODES:
        return Unavailable
    if status is not None and (status in (404, 408) or status >= 500):
        return Unavailable
    if code in MODEL_CODES or (parameter == "model" and code is not None):
        return Unavailable
    if (code or "").startswith(VALIDATION_PREFIXES):
        return InvalidRequest
    if status is None:
        return Unavailable  # an unknown failure of one task: assume it is transient
    if 400 <= status < 500:
        return InvalidRequest
    return ProtocolError  # 1xx/3xx: not something the task API answers


def describe(error: TaskError) -> str:
    """``code: message (parameter: x)``, as the adapter reports one failed task."""
    text = error.message or "no message"
    if error.code:
        text = f"{error.code}: {text}"
    if error.parameter:
        text += f" (parameter: {error.parameter})"
    return text


def task_error(
    error: TaskError,
    status: int | None,
    *,
    provider: str = "runware",
    secrets: tuple[str, ...] = (),
    retry_after: float | None = None,
) -> ProviderError:
    """The ProviderError for one ``errors`` item (``status=None``: inside a 200)."""
    cls = error_class(status, error.code, error.parameter)
    if cls is RateLimited and retry_after is None:
        retry_after = DEFAULT_RETRY_AFTER_S
    message = redact(describe(error), secrets)
    return cls(
        message,
        provider=provider,
        status_code=status,
        upstream_request_id=error.task_uuid,
        retry_after=retry_after,
        code=error.code,
        raw={"errors": [error.model_copy(update={"message": message}).model_dump(by_alias=True)]},
    )


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "runware",
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """A non-2xx answer → the ProviderError of its first error item (or of its status)."""
    retry_after = parse_retry_after(headers)
    errors = _errors(body)
    if errors:
        return task_error(
            errors[0], status, provider=provider, secrets=secrets, retry_after=retry_after
        )
    text = body[:_MAX_TEXT].decode("utf-8", errors="replace").strip()
    message = f"{provider} answered HTTP {status}" + (f": {text}" if text else "")
    cls = error_class(status, None)
    if cls is RateLimited and retry_after is None:
        retry_after = DEFAULT_RETRY_AFTER_S
    return cls(
        redact(message, secrets), provider=provider, status_code=status, retry_after=retry_after
    )


def _errors(body: bytes) -> list[TaskError]:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(obj, dict):
        return []
    try:
        return Answer.model_validate(obj).all_errors()
    except ValidationError:
        return []
