"""Runware error shapes.

* The envelope: ``{"errors": [{"code", "message", "parameter?", "taskType?", "taskUUID?"}]}``,
  one item per failing task; ``data`` and ``errors`` may share one 200 body.
* The pre-stream envelope the SDK also parses:
  ``{"error": {"code", "message"}, "taskUUID", "taskType"}``.
* 5xx answers with a plain-text body (the checklist's "5xx with a plain-text body").

Only the ``invalidApiKey`` body is verbatim in the reference; the other messages are ours.
Runware documents no ``Retry-After`` header, so none is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

DOCS = "https://runware.ai/docs/platform/errors"


@dataclass
class TaskError(Exception):
    """One item of ``errors``. ``status`` is the HTTP status it gives an answer without data;
    None: a provider-side failure that Runware reports inside a 200 (``timeoutProvider``)."""

    code: str
    message: str
    parameter: str | None = None
    task_type: str | None = "imageInference"
    task_uuid: str | None = None
    status: int | None = 400

    def item(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.parameter is not None:
            out["parameter"] = self.parameter
        if self.task_type is not None:
            out["taskType"] = self.task_type
        if self.task_uuid is not None:
            out["taskUUID"] = self.task_uuid
        out["documentation"] = DOCS
        return out


@dataclass
class RunwareHTTPError(Exception):
    """A whole-request failure: an ``errors`` envelope, or a plain-text body."""

    status: int
    errors: list[TaskError] = field(default_factory=list)
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self, *, prestream: bool = False) -> Response:
        if self.text is not None:
            return Response(self.text, self.status, self.headers, media_type="text/plain")
        if prestream and self.errors:
            first = self.errors[0]
            body: dict[str, Any] = {
                "error": {"code": first.code, "message": first.message},
                "taskUUID": first.task_uuid,
                "taskType": first.task_type,
            }
        else:
            body = {"errors": [e.item() for e in self.errors]}
        return Response(
            orjson.dumps(body), self.status, self.headers, media_type="application/json"
        )


def invalid_api_key() -> RunwareHTTPError:
    """Verbatim from the reference (§5 documented example)."""
    error = TaskError(
        "invalidApiKey",
        "Invalid API key. Get one at https://my.runware.ai/signup",
        parameter="apiKey",
        task_type="authentication",
        status=401,
    )
    return RunwareHTTPError(401, [error])


def invalid_payload(message: str) -> RunwareHTTPError:
    """[INF] code: the body is not a JSON array of task objects."""
    return RunwareHTTPError(400, [TaskError("invalidPayload", message, task_type=None)])


def insufficient_credits(task_uuid: str | None = None) -> RunwareHTTPError:
    error = TaskError(
        "insufficientCredits",
        "Insufficient credits. Add funds at https://my.runware.ai/wallet",
        task_uuid=task_uuid,
        status=402,
    )
    return RunwareHTTPError(402, [error])


def rate_limited(task_uuid: str | None = None) -> RunwareHTTPError:
    error = TaskError(
        "rateLimitExceeded",
        "Rate limit exceeded. Slow down and retry later.",
        task_uuid=task_uuid,
        status=429,
    )
    return RunwareHTTPError(429, [error])


def content_policy(task_uuid: str | None, *, provider: bool = False) -> TaskError:
    """Input-stage refusal (400); ``provider=True``: the model's own output check flagged it."""
    if provider:
        return TaskError(
            "providerContentPolicyViolation",
            "The provider flagged the generated image as violating its content policy.",
            task_uuid=task_uuid,
        )
    return TaskError(
        "contentPolicyViolation",
        "The prompt was blocked by the content policy.",
        parameter="positivePrompt",
        task_uuid=task_uuid,
    )


def timeout_provider(task_uuid: str | None) -> TaskError:
    """The reference's own per-task failure inside a 200."""
    return TaskError("timeoutProvider", "Provider timed out", task_uuid=task_uuid, status=None)


def for_status(status: int, task_uuid: str | None = None) -> RunwareHTTPError:
    """A representative answer for an injected status (``fail_next`` or ``[sim:<status>]``)."""
    if status == 401:
        return invalid_api_key()
    if status == 402:
        return insufficient_credits(task_uuid)
    if status == 429:
        return rate_limited(task_uuid)
    if status >= 500:
        texts = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        return RunwareHTTPError(status, text=texts.get(status, "Internal Server Error"))
    codes = {
        400: ("invalidParameter", "Invalid parameter."),
        403: ("forbidden", "This API key is not allowed to use this resource."),
        404: ("modelNotFound", "The requested model was not found."),
        408: ("timeoutProvider", "The request timed out."),
    }
    code, message = codes.get(status, ("invalidParameter", f"Simulated error (HTTP {status})."))
    return RunwareHTTPError(status, [TaskError(code, message, task_uuid=task_uuid, status=status)])
