"""Azure error answers of the MAI image API.

Azure's envelope is ``{"error": {"code", "message"}}``. Only the ``width`` < 768 body is
captured from live traffic (LiteLLM #40074) and is reproduced verbatim, ``details`` included;
the other bodies follow the wording the reference's simulator checklist gives ([INF]) and live
here so they are easy to change in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

UNSUPPORTED_VALUE = "unsupported_request_value"
CONTENT_FILTER_DOC = "https://go.microsoft.com/fwlink/?linkid=2198766"
# Categories of Azure AI Content Safety, as Azure OpenAI reports them in content_filter_result.
SEVERITY_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
DETECTION_CATEGORIES = ("jailbreak",)
FILTER_CATEGORIES = (*SEVERITY_CATEGORIES, *DETECTION_CATEGORIES)


@dataclass
class MaiError(Exception):
    """An error answer; raise it anywhere in a handler, the app renders it."""

    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


class PlainTextError(MaiError):
    """A non-JSON error body, as gateways in front of Azure answer (checklist: faults)."""

    def response(self) -> Response:
        return Response(
            self.message.encode(),
            status_code=self.status,
            media_type="text/plain",
            headers=self.headers,
        )


def unsupported_value(message: str) -> MaiError:
    """The captured 400 shape: ``details`` repeats the message."""
    full = f"Model does not support request parameter value supplied: {message}"
    return MaiError(400, UNSUPPORTED_VALUE, full, extra={"details": full})


def edge_too_small(param: str, minimum: int) -> MaiError:
    """Verbatim from live traffic for ``width`` (LiteLLM #40074); ``height`` alike."""
    return unsupported_value(f"'{param}' must be at least {minimum} pixels.")


def too_many_pixels(width: int, height: int, cap: int) -> MaiError:
    return unsupported_value(
        f"'width' x 'height' must be at most {cap} pixels, got {width}x{height} "
        f"({width * height} pixels)."
    )


def not_multiple(param: str, multiple: int) -> MaiError:
    return unsupported_value(f"'{param}' must be a multiple of {multiple}.")


def invalid_value(message: str) -> MaiError:
    """Malformed fields (types, missing prompt): Azure's ``invalid_request_value`` [INF]."""
    return MaiError(400, "invalid_request_value", message)


def missing_field(name: str) -> MaiError:
    return invalid_value(f"'{name}' is a required property.")


def wrong_type(name: str, expected: str) -> MaiError:
    return invalid_value(f"'{name}' must be {expected}.")


def unknown_field(name: str) -> MaiError:
    """Strict mode only: the real API's handling of unknown keys is unknown (§3)."""
    return MaiError(400, "unknown_parameter", f"Unrecognized request argument supplied: {name}")


def bad_image(message: str) -> MaiError:
    return MaiError(400, "invalid_image", message)


def edits_unsupported(model: str) -> MaiError:
    return MaiError(
        400,
        "OperationNotSupported",
        f"The images/edits operation does not work with the specified model, {model}. "
        "Please choose a different model and try again.",
    )


def bad_request_body(message: str) -> MaiError:
    return MaiError(400, "BadRequest", message)


def unauthorized() -> MaiError:
    """Missing or wrong ``api-key`` / bearer token (checklist wording, [INF])."""
    return MaiError(
        401,
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API "
        "endpoint for your resource.",
    )


def resource_blocked() -> MaiError:
    """Abuse block: the resource is refused whatever the request (pollinations #12067)."""
    return MaiError(
        403,
        "Forbidden",
        "Your resource has been temporarily blocked because we detected behavior that may "
        "violate our content policy. Please review our content policy and try again later.",
    )


def resource_not_found() -> MaiError:
    return MaiError(404, "404", "Resource not found")


def deployment_not_found() -> MaiError:
    return MaiError(
        404,
        "DeploymentNotFound",
        "The API deployment for this resource does not exist. If you created the deployment "
        "within the last 5 minutes, please wait a moment and try again.",
    )


def rate_limited(retry_after_s: float) -> MaiError:
    seconds = max(1, math.ceil(retry_after_s))
    return MaiError(
        429,
        "429",
        f"Rate limit is exceeded. Try again in {seconds} seconds.",
        headers={"retry-after": str(seconds)},
    )


def content_filtered(category: str, severity: str = "medium") -> MaiError:
    """Input refusal, in Azure OpenAI's content-filter shape ([INF] for MAI, §6)."""
    result: dict[str, Any] = {}
    for name in SEVERITY_CATEGORIES:
        hit = name == category
        result[name] = {"filtered": hit, "severity": severity if hit else "safe"}
    for name in DETECTION_CATEGORIES:
        hit = name == category
        result[name] = {"filtered": hit, "detected": hit}
    return MaiError(
        400,
        "content_filter",
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy. Please modify your prompt and retry. To learn more about our "
        f"content filtering policies please read our documentation: {CONTENT_FILTER_DOC}",
        extra={
            "param": "prompt",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": result,
            },
        },
    )


def server_error(status: int, retry_after_s: float) -> MaiError:
    """5xx faults: 502 as plain text (a gateway in front of Azure), the others as JSON."""
    if status == 502:
        return PlainTextError(502, "502", "upstream gateway error")
    if status == 503:
        seconds = str(max(1, math.ceil(retry_after_s)))
        return MaiError(
            503,
            "ServiceUnavailable",
            "The service is temporarily unable to process your request. Please try again later.",
            headers={"retry-after": seconds},
        )
    return MaiError(
        status,
        "InternalServerError",
        "The server had an error while processing your request. Sorry about that!",
    )


def for_status(status: int, retry_after_s: float) -> MaiError:
    """A representative error for an injected status (``fail_next`` or ``[sim:<status>]``)."""
    if status == 429:
        return rate_limited(retry_after_s)
    if status == 401:
        return unauthorized()
    if status == 403:
        return resource_blocked()
    if status == 404:
        return deployment_not_found()
    if status >= 500:
        return server_error(status, retry_after_s)
    if status == 400:
        return unsupported_value("simulated rejection.")
    return MaiError(status, str(status), f"Simulated error (HTTP {status}).")
