"""Google RPC error envelopes (reference §5): ``{"error": {code, message, status, details}}``.

Bodies the reference quotes (the bad-key 400, the 429 with ``QuotaFailure`` + ``RetryInfo``)
are reproduced in its shape; the others use Google's usual wording for the same status and
live here so they are easy to change in one place. Unknown URLs answer with Google's HTML 404
page, a non-JSON error body as real front ends send.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
LOCALIZED = "type.googleapis.com/google.rpc.LocalizedMessage"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
HELP = "type.googleapis.com/google.rpc.Help"
SERVICE = "generativelanguage.googleapis.com"

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class GoogleError(Exception):
    """An error answer; raise it anywhere in a handler, the app renders it."""

    code: int
    message: str
    status: str = ""
    details: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": self.status or STATUS_NAMES.get(self.code, "UNKNOWN"),
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> Response:
        # Google pretty-prints its error bodies (two-space indent), as every capture shows.
        return Response(
            orjson.dumps(self.body(), option=orjson.OPT_INDENT_2),
            status_code=self.code,
            media_type="application/json; charset=UTF-8",
        )


def invalid_argument(message: str, *, field_path: str | None = None) -> GoogleError:
    """A 400; with ``field_path`` the ``BadRequest.fieldViolations`` detail real 400s carry."""
    details = []
    if field_path is not None:
        details.append(
            {
                "@type": BAD_REQUEST,
                "fieldViolations": [{"field": field_path, "description": message}],
            }
        )
    return GoogleError(400, message, "INVALID_ARGUMENT", details)


def unknown_field(name: str, at: str) -> GoogleError:
    """Proto-JSON's answer to a field the message does not have."""
    where = f" at '{at}'" if at else ""
    message = f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.'
    return invalid_argument(message, field_path=at or None)


def bad_json(detail: str) -> GoogleError:
    return invalid_argument(f"Invalid JSON payload received. {detail}", field_path="")


def api_key_invalid() -> GoogleError:
    """Reference §5, verbatim: a bad key is a 400 with reason ``API_KEY_INVALID``, not a 401."""
    message = "API key not valid. Please pass a valid API key."
    return GoogleError(
        400,
        message,
        "INVALID_ARGUMENT",
        [
            {
                "@type": ERROR_INFO,
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": SERVICE},
            },
            {"@type": LOCALIZED, "locale": "en-US", "message": message},
        ],
    )


def permission_denied() -> GoogleError:
    """A restricted key (reason ``API_KEY_SERVICE_BLOCKED``, reference §5)."""
    return GoogleError(
        403,
        "Requests to this API generativelanguage.googleapis.com method "
        "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.",
        "PERMISSION_DENIED",
        [
            {
                "@type": ERROR_INFO,
                "reason": "API_KEY_SERVICE_BLOCKED",
                "domain": "googleapis.com",
                "metadata": {"service": SERVICE, "consumer": "projects/000000000000"},
            }
        ],
    )


def model_not_found(model: str, version: str, method: str) -> GoogleError:
    return GoogleError(
        404,
        f"models/{model} is not found for API version {version}, or is not supported for "
        f"{method}. Call ListModels to see the list of available models and their supported "
        "methods.",
        "NOT_FOUND",
    )


def retry_delay(seconds: float) -> str:
    """A ``google.protobuf.Duration`` in JSON: ``"34.4s"``, ``"0.02s"``, ``"1s"``."""
    return f"{round(seconds, 3):g}s"


def resource_exhausted(model: str, retry_after_s: float, *, no_quota: bool = False) -> GoogleError:
    """A 429 with ``QuotaFailure`` and ``RetryInfo`` (reference §5 fixture).

    ``no_quota`` is the free-tier key on an image model: ``limit: 0`` in the message, which
    means no quota exists at all, although Google still attaches a ``RetryInfo``.
    """
    tier = "FreeTier" if no_quota else "PaidTier"
    metric = "free_tier_requests" if no_quota else "paid_tier_requests"
    limit = 0 if no_quota else 20
    wait = retry_delay(retry_after_s)
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
        f"\n* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_"
        f"{metric}, limit: {limit}, model: {model}\nPlease retry in {wait}."
    )
    return GoogleError(
        429,
        message,
        "RESOURCE_EXHAUSTED",
        [
            {
                "@type": QUOTA_FAILURE,
                "violations": [
                    {
                        "quotaMetric": f"{SERVICE}/generate_content_{metric}",
                        "quotaId": f"GenerateRequestsPerMinutePerProjectPerModel-{tier}",
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": str(limit),
                    }
                ],
            },
            {
                "@type": HELP,
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {"@type": RETRY_INFO, "retryDelay": wait},
        ],
    )


def unavailable() -> GoogleError:
    return GoogleError(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")


def internal() -> GoogleError:
    return GoogleError(
        500,
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
        "INTERNAL",
    )


def for_status(status: int, model: str, retry_after_s: float) -> GoogleError:
    """A representative error for an injected status (``fail_next`` or ``[sim:<status>]``)."""
    if status == 429:
        return resource_exhausted(model, retry_after_s)
    if status == 400:
        return invalid_argument("Request contains an invalid argument.")
    if status == 401:
        return GoogleError(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            "UNAUTHENTICATED",
        )
    if status == 403:
        return permission_denied()
    if status == 404:
        return model_not_found(model, "v1beta", "generateContent")
    if status == 503:
        return unavailable()
    if status == 504:
        return GoogleError(504, "Deadline expired before operation could complete.")
    if status == 500:
        return internal()
    return GoogleError(status, f"Simulated error (HTTP {status}).")


NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
    "  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That’s an error.</ins>\n"
    "  <p>The requested URL <code>{path}</code> was not found on this server.  "
    "<ins>That’s all we know.</ins>\n"
)


def html_not_found(path: str) -> Response:
    """Google front ends answer an unknown URL with an HTML page, not the JSON envelope."""
    return Response(
        NOT_FOUND_HTML.format(path=path), status_code=404, media_type="text/html; charset=UTF-8"
    )
