"""Pure mapping from xAI error answers to :class:`ProviderError` subclasses.

No I/O, no ``await``, no httpx: status, body bytes and headers in, an exception out.
Errors as xAI's REST API documentation describes them (our notes, compiled 2026-11). What makes
xAI unusual:

* the body is ``{"code", "error"}`` with ``error`` a string, and ``code`` a gRPC status in one
  of several spellings ("Client specified an invalid argument", ``invalid-argument``,
  ``invalid_argument``): codes are compared after lower-casing and turning ``-`` and spaces
  into ``_``, and the prose forms are mapped to their status names;
* a bad API key is a **400** "Incorrect API key provided: …": a credential failure
  (:class:`AuthError`, retryable elsewhere), never the caller's 400;
* 422s (and 415s, and 400s for unparsable JSON) are ``text/plain`` from the JSON extractor;
* 403 is either an exhausted team (credits, spending limit) or a permission problem;
* an input-moderation block's HTTP status is an open question (reference §7): a 4xx (or an
  error body in a 2xx) whose message speaks of moderation, a content policy or blocked content
  is :class:`ContentModerated`, never the caller's 400 nor a credential failure, so the gateway
  does not send the same prompt to another endpoint;
* a 404 / ``not_found`` (no such model for our team, or no such route) and the 400 "… is
  therefore not available on this endpoint" (a model on the wrong endpoint) are about our
  catalog's model id or our base URL, never the caller's input: :class:`Unavailable`, so
  another endpoint may serve the call.
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
from providers.xai.wire import ErrorBody

# gRPC status descriptions (tonic's ``Code::description``) → status names.
_PROSE = {
    "client specified an invalid argument": "invalid_argument",
    "some requested entity was not found": "not_found",
    "the caller does not have permission to execute the specified operation": ("permission_denied"),
    "the request does not have valid authentication credentials": "unauthenticated",
    "some resource has been exhausted": "resource_exhausted",
    "the system is not in a state required for the operation's execution": "failed_precondition",
    "deadline expired before operation could complete": "deadline_exceeded",
    "internal error": "internal",
    "the service is currently unavailable": "unavailable",
    "unknown error": "unknown",
}
_SEPARATORS = re.compile(r"[\s\-]+")
# "Incorrect API key provided: xa***yz." and the like: our credential, not the caller's request.
_KEY_PROBLEM = re.compile(r"\bapi[\s_-]?key\b", re.IGNORECASE)
_CREDIT_PROBLEM = re.compile(r"\bcredits?\b|spending limit|billing", re.IGNORECASE)
_WRONG_ENDPOINT = re.compile(r"not available on this endpoint", re.IGNORECASE)
# A refusal by xAI's moderation, in whatever words xAI uses (its block wording is not captured,
# §2.3/§7): "moderation"/"moderated", a content/usage/safety policy, a safety system or filter,
# a policy violation, or a prompt, input, content or image that was blocked or flagged (not a
# bare "request blocked": a proxy's or firewall's words as much as moderation's).
_MODERATION = re.compile(
    r"\bmoderat(?:ion|ed)\b"
    r"|\b(?:content|usage|safety|acceptable[\s_-]+use)[\s_-]+polic(?:y|ies)\b"
    r"|\bsafety[\s_-]+(?:system|filter|check)s?\b"
    r"|\bviolat\w*\b[^.;]{0,40}?\bpolic(?:y|ies)\b"
    r"|\b(?:prompt|input|content|image|output)s?\b[^.;]{0,40}?\b(?:blocked|flagged)\b"
    r"|\b(?:blocked|flagged)\b[^.;]{0,40}?\b(?:moderation|content|safety|polic(?:y|ies))\b",
    re.IGNORECASE,
)
# Text that names a field rather than speaks of moderation: a backquoted identifier in serde's
# 422s ("unknown field `moderation`"), or the 400 "Argument not supported: moderation" (§3, §5.3).
_FIELD_NAMES = re.compile(r"`[^`]*`|argument not supported:\s*\S+", re.IGNORECASE)
_ECHOED_KEY = re.compile(r"(?i)(api key provided:\s*)\S+?(\.?)(?=\s|$)")
_MAX_TEXT = 500


def normalise_code(code: str | None) -> str | None:
    """``"Client specified an invalid argument"``/``"invalid-argument"`` → ``invalid_argument``."""
    if code is None or not code.strip():
        return None
    text = code.strip().rstrip(".").lower()
    if text in _PROSE:
        return _PROSE[text]
    return _SEPARATORS.sub("_", text)


def error_from_response(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str = "xai",
    secrets: tuple[str, ...] = (),
) -> ProviderError:
    """A non-2xx answer → the matching :class:`ProviderError` (see :func:`error_class`)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    parsed = _error_body(body)
    code = normalise_code(parsed.code) if parsed else None
    if parsed is not None and parsed.error:
        message = parsed.error
    elif body.strip():  # plain text (axum's 415/400/422), or JSON of another shape
        message = body[:_MAX_TEXT].decode("utf-8", errors="replace").strip()
    else:
        message = f"{provider} returned HTTP {status}"
    message = redact(_ECHOED_KEY.sub(r"\1***\2", message), secrets)
    cls = error_class(status, code, message)
    return cls(
        message,
        provider=provider,
        status_code=status,
        upstream_request_id=lowered.get("x-request-id"),
        retry_after=parse_retry_after(lowered),
        code=code,
        raw={"code": parsed.code, "error": message} if parsed is not None else {"text": message},
    )


def speaks_of_moderation(message: str) -> bool:
    """Whether an error message is a moderation refusal (see :data:`_MODERATION`)."""
    return bool(_MODERATION.search(_FIELD_NAMES.sub(" ", message)))


def error_class(status: int, code: str | None, message: str) -> type[ProviderError]:
    """Status first, refined by the normalised ``code`` and, where xAI gives nothing else to
    tell them apart, by the message (a key problem on a 400, credits on a 403/429, moderation
    on any 4xx but a 429). ``status`` may be a 2xx: an error body where images were due."""
    if status == 408 or status >= 500:
        return Unavailable
    if status == 404 or code == "not_found" or _WRONG_ENDPOINT.search(message):
        return Unavailable  # our model id or base URL: the operator's misconfiguration
    about_credit = bool(_CREDIT_PROBLEM.search(message))
    if status == 402 or (
        about_credit
        and (status in (403, 429) or code in ("permission_denied", "resource_exhausted"))
    ):
        return InsufficientCredit
    if status == 401 or code == "unauthenticated":
        return AuthError
    if status in (400, 403) and _KEY_PROBLEM.search(message):
        return AuthError
    if status != 429 and code != "resource_exhausted" and speaks_of_moderation(message):
        return ContentModerated  # an input block (§7: its status is unknown): never retried
    if status == 403 or code == "permission_denied":
        return AuthError
    if status == 429 or code == "resource_exhausted":
        return RateLimited
    if 400 <= status < 500:
        return InvalidRequest
    return ProtocolError  # 1xx/3xx: not something the images API answers


def _error_body(body: bytes) -> ErrorBody | None:
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not ({"code", "error"} & obj.keys()):
        return None
    try:
        return ErrorBody.model_validate(obj)
    except ValidationError:
        return None
