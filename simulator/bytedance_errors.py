"""ModelArk error answers: ``{"error": {"code", "message", "param",
"type"}}``.

Every documented code lives in :data:`CODES` with its HTTP status and ``type``, so a test can ask
for any of them by name (``[sim:error=<code>]``). Only the 401 message is verbatim in the
reference; the others follow its pattern (a sentence, then ``Request id: …``) and are [INF].
ModelArk documents no ``Retry-After`` header, so none is sent, not even on 429.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response

BAD_REQUEST = "BadRequest"


def new_request_id() -> str:
    """A ModelArk-looking request id: ``021`` + epoch milliseconds + random hex [INF]."""
    return f"021{int(time.time() * 1000)}{secrets.token_hex(12)}"


@dataclass(frozen=True)
class CodeInfo:
    status: int
    type: str
    message: str


# code -> (status, type, message without the trailing request id)
CODES: dict[str, CodeInfo] = {
    "MissingParameter": CodeInfo(
        400,
        BAD_REQUEST,
        "The request failed because it is missing one or multiple required parameters",
    ),
    "InvalidParameter": CodeInfo(
        400, BAD_REQUEST, "A parameter specified in the request is not valid"
    ),
    "InvalidEndpoint.ClosedEndpoint": CodeInfo(
        400, BAD_REQUEST, "The request targeted an endpoint that is currently closed"
    ),
    "SensitiveContentDetected": CodeInfo(
        400, BAD_REQUEST, "The request failed because the input may contain sensitive information"
    ),
    "SensitiveContentDetected.SevereViolation": CodeInfo(
        400,
        BAD_REQUEST,
        "The request failed because the input may contain severely violating information",
    ),
    "SensitiveContentDetected.Violence": CodeInfo(
        400, BAD_REQUEST, "The request failed because the input may contain violent information"
    ),
    "InputTextSensitiveContentDetected": CodeInfo(
        400,
        BAD_REQUEST,
        "The request failed because the input text may contain sensitive information",
    ),
    "InputImageSensitiveContentDetected": CodeInfo(
        400,
        BAD_REQUEST,
        "The request failed because the input image may contain sensitive information",
    ),
    "OutputImageSensitiveContentDetected": CodeInfo(
        400,
        BAD_REQUEST,
        "The request failed because the output image may contain sensitive information.",
    ),
    "AuthenticationError": CodeInfo(
        401, "Unauthorized", "the API key or AK/SK in the request is missing or invalid."
    ),
    "AccountOverdueError": CodeInfo(
        403, "Forbidden", "The request failed because your account has an overdue balance"
    ),
    "AccessDenied": CodeInfo(
        403, "Forbidden", "The request failed because you do not have access to this resource"
    ),
    "InvalidEndpoint.NotFound": CodeInfo(
        404, "NotFound", "The model or endpoint does not exist or you do not have access to it"
    ),
    "UnsupportedModel": CodeInfo(404, "NotFound", "The requested model is not supported"),
    "ModelNotOpen": CodeInfo(
        404, "NotFound", "The model has not been activated for your account in the console"
    ),
    "RateLimitExceeded.EndpointRPMExceeded": CodeInfo(
        429,
        "TooManyRequests",
        "The request has exceeded the requests per minute (RPM) limit of the endpoint. "
        "Please retry after a while",
    ),
    "RateLimitExceeded.EndpointTPMExceeded": CodeInfo(
        429,
        "TooManyRequests",
        "The request has exceeded the tokens per minute (TPM) limit of the endpoint. "
        "Please retry after a while",
    ),
    "RateLimitExceeded.EndpointIPMExceeded": CodeInfo(
        429,
        "TooManyRequests",
        "The request has exceeded the images per minute (IPM) limit of the endpoint. "
        "Please retry after a while",
    ),
    "InternalServiceError": CodeInfo(
        500, "InternalServiceError", "The service encountered an unexpected internal error"
    ),
    "ServiceUnavailable": CodeInfo(
        503, "ServiceUnavailable", "The service is temporarily unavailable, please retry later"
    ),
}
_BY_LOWER = {code.lower(): code for code in CODES}

# A representative code for an injected status (``fail_next`` or ``[sim:<status>]``).
_FOR_STATUS = {
    400: "InvalidParameter",
    401: "AuthenticationError",
    403: "AccessDenied",
    404: "InvalidEndpoint.NotFound",
    429: "RateLimitExceeded.EndpointRPMExceeded",
    500: "InternalServiceError",
    503: "ServiceUnavailable",
}


@dataclass
class SeedreamError(Exception):
    """An error answer; raise it anywhere in a handler, the app renders it."""

    status: int
    code: str
    message: str
    type: str = BAD_REQUEST
    param: str = ""

    def detail(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "param": self.param, "type": self.type}

    def body(self) -> dict[str, Any]:
        return {"error": self.detail()}

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()), status_code=self.status, media_type="application/json"
        )


def canonical_code(text: str) -> str | None:
    """The documented spelling of a code given in any case (directives are lower-cased)."""
    return _BY_LOWER.get(text.lower())


def from_code(code: str, request_id: str, *, param: str = "", detail: str = "") -> SeedreamError:
    """The error for a documented code; ``detail`` refines the generic sentence."""
    info = CODES[code]
    sentence = detail or info.message
    if code == "AuthenticationError":  # the one verbatim capture: lower-case "request id"
        message = f"{sentence} request id: {request_id}"
    else:
        message = f"{sentence.rstrip('.')}. Request id: {request_id}"
    return SeedreamError(info.status, code, message, type=info.type, param=param)


def for_status(status: int, request_id: str) -> SeedreamError:
    code = _FOR_STATUS.get(status)
    if code is not None:
        return from_code(code, request_id)
    kind = BAD_REQUEST if status < 500 else "InternalServiceError"
    return SeedreamError(
        status, kind, f"Simulated error (HTTP {status}). Request id: {request_id}", type=kind
    )


def invalid(param: str, why: str, request_id: str) -> SeedreamError:
    """400 ``InvalidParameter`` naming the field, in the reference's wording."""
    return from_code(
        "InvalidParameter",
        request_id,
        param=param,
        detail=f"The parameter `{param}` specified in the request is not valid: {why}",
    )


def unsupported(param: str, request_id: str) -> SeedreamError:
    """A field the model does not take: 400 before any generation (reference §2)."""
    return invalid(param, f"{param} is not supported by the current model", request_id)


def missing(param: str, request_id: str) -> SeedreamError:
    return from_code(
        "MissingParameter",
        request_id,
        param=param,
        detail=f"The request failed because it is missing one or multiple required "
        f"parameters: `{param}`",
    )


def not_found(model: str, request_id: str) -> SeedreamError:
    return from_code(
        "InvalidEndpoint.NotFound",
        request_id,
        param="model",
        detail=f"The model or endpoint {model} does not exist or you do not have access to it",
    )


def stream_error_code(text: str) -> str | None:
    """The code of ``[sim:stream_error=<code>]``: ``BadRequest`` (the default, the one §4 shows)
    or any documented code, in any case; None for an unknown one."""
    if not text or text.lower() == BAD_REQUEST.lower():
        return BAD_REQUEST
    return canonical_code(text)


def stream_error(code: str, request_id: str) -> dict[str, Any]:
    """A stream-level ``error`` object. §4 documents one, verbatim in shape:
    ``{"code": "BadRequest", "message": "... Request ID: {id}"}``; its sentence is [INF]."""
    sentence = CODES[code].message if code in CODES else "The request could not be completed"
    return {"code": code, "message": f"{sentence.rstrip('.')}. Request ID: {request_id}"}


def item_error(code: str) -> dict[str, Any]:
    """The ``error`` of one failed image (a ``data[]`` item or a ``partial_failed`` event)."""
    info = CODES[code]
    return {"code": code, "message": info.message}


__all__ = [
    "CODES",
    "SeedreamError",
    "canonical_code",
    "for_status",
    "from_code",
    "invalid",
    "item_error",
    "missing",
    "new_request_id",
    "not_found",
    "stream_error",
    "stream_error_code",
    "unsupported",
]
