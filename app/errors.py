"""GatewayError and the one exception handler that renders OpenRouter-shaped errors.

Every error leaves the gateway as ``{"error": {"code": <int>, "message": <str>, "metadata": …}}``
with the HTTP status equal to ``code``. No stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.outage import is_outage

log = logging.getLogger("imagegate.errors")


class GatewayError(Exception):
    """An error the gateway answers with deliberately, in OpenRouter's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        metadata: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.metadata = metadata
        self.headers = headers or {}


class BadRequest(GatewayError):
    """400 naming the offending parameter, its value and, when known, the allowed values."""

    def __init__(
        self, message: str, *, param: str | None = None, allowed: list[Any] | None = None
    ) -> None:
        metadata: dict[str, Any] = {}
        if param is not None:
            metadata["param"] = param
        if allowed is not None:
            metadata["allowed"] = allowed
        super().__init__(400, message, metadata=metadata or None)


# Routes that speak OpenAI's API: their errors use OpenAI's shape, whatever raised them.
OPENAI_STYLE_PREFIXES = ("/v1/", "/api/v1/images/generations", "/api/v1/images/edits")

_OPENAI_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("insufficient_quota", "insufficient_quota"),
    403: ("invalid_request_error", "permission_denied"),
    404: ("invalid_request_error", "not_found"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
}


def _printable(value: Any) -> Any:
    """Strings as UTF-8 can carry them (a caller's lone surrogate must not break an error)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def _dumps(payload: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:
        return orjson.dumps(_printable(payload), default=str)


def is_moderation(status: int, metadata: dict[str, Any] | None) -> bool:
    """A provider's content refusal (403 with OpenRouter's moderation ``reasons``)."""
    return status == 403 and "reasons" in (metadata or {})


def openai_status(status: int, metadata: dict[str, Any] | None) -> int:
    """The status OpenAI's own API gives: a content refusal is its 400 ``moderation_blocked``
    (``BadRequestError`` in its SDKs), where OpenRouter says 403."""
    return 400 if is_moderation(status, metadata) else status


def openai_error_body(status: int, message: str, metadata: dict[str, Any] | None = None) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}``, as the OpenAI SDKs parse it."""
    if is_moderation(status, metadata):
        kind, code = "image_generation_user_error", "moderation_blocked"
    elif status >= 500:
        kind, code = "server_error", "upstream_error" if status != 500 else "internal_error"
    else:
        kind, code = _OPENAI_TYPES.get(status, ("invalid_request_error", "invalid_value"))
    param = (metadata or {}).get("param")
    error = {"message": message, "type": kind, "param": param, "code": code}
    return _dumps({"error": error})


def openai_error_response(
    status: int,
    message: str,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        openai_error_body(status, message, metadata),
        status_code=openai_status(status, metadata),
        media_type="application/json",
        headers=headers,
    )


def _styled(
    request: Request,
    status: int,
    message: str,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if request.url.path.startswith(OPENAI_STYLE_PREFIXES):
        return openai_error_response(status, message, metadata, headers)
    return error_response(status, message, metadata, headers)


def error_body(status: int, message: str, metadata: dict[str, Any] | None = None) -> bytes:
    error: dict[str, Any] = {"code": status, "message": message}
    if metadata:
        error["metadata"] = metadata
    # No ``user_id``: optional in OpenRouter's schema, and the AI SDK's provider reads an error
    # inside a 200 body only when ``user_id`` is absent or a string (null fails its schema).
    return _dumps({"error": error})


def error_response(
    status: int,
    message: str,
    metadata: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(status, message, metadata),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


# Pydantic's error types for a body that is not an object at all (``[1]``, ``null``, raw bytes).
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "model_type", "dict_type"})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _describe_validation(
    exc: RequestValidationError, content_type: str = "application/json"
) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "Invalid request", None
    first = errors[0]
    raw_loc = tuple(first.get("loc", ()))
    loc = [str(p) for p in raw_loc if p != "body"]
    param = ".".join(loc) or None
    kind = first.get("type", "")
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        where = f" (at character {raw_loc[1]})" if len(raw_loc) > 1 else ""
        return f"Malformed JSON body: {ctx.get('error', first.get('msg', ''))}{where}", None
    if raw_loc == ("body",) and (kind == "missing" or kind in _NOT_AN_OBJECT):
        # the body as a whole: empty, not JSON by its content type, or JSON but not an object
        if kind == "missing":
            return "Missing request body: expected a JSON object", None
        if not _is_json(content_type):
            sent = f"the Content-Type was {content_type!r}" if content_type else "none was sent"
            wanted = "'Content-Type: application/json'"
            return f"The request body must be JSON sent with {wanted} ({sent})", None
        return "The request body must be a JSON object", None
    if kind == "missing":
        return f"Missing required field '{param}'", param
    msg = first.get("msg", "invalid value")
    if param:
        return f"Invalid value for '{param}': {msg}", param
    return f"Invalid request body: {msg}", None


def install_error_handlers(app: FastAPI) -> None:
    """Register the single renderer for every error the app can raise."""

    @app.exception_handler(GatewayError)
    async def _gateway(request: Request, exc: GatewayError) -> Response:
        return _styled(request, exc.status, exc.message, exc.metadata, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        message, param = _describe_validation(exc, request.headers.get("content-type", ""))
        return _styled(request, 400, message, {"param": param} if param else None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        if exc.status_code == 400 and isinstance(
            exc.__cause__, UnicodeDecodeError | RecursionError
        ):
            # FastAPI's "There was an error parsing the body": say what was wrong with it
            problem = (
                "it is not valid UTF-8"
                if isinstance(exc.__cause__, UnicodeDecodeError)
                else "it is nested too deeply"
            )
            message = f"Malformed JSON body: {problem}"
        return _styled(request, exc.status_code, message, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return unexpected_response(request.scope, exc)


def unexpected_response(scope: Scope, exc: BaseException) -> Response:
    """The answer to an exception nothing else handled: 503 for a database outage
    (retryable, not a bug), else a logged, trace-free 500."""
    path = scope.get("path", "")
    headers: dict[str, str] | None = None
    if is_outage(exc):
        log.warning("database unreachable on %s: %s", path, type(exc).__name__)
        status, message = 503, "The gateway's database is unreachable; retry shortly"
        headers = {"retry-after": "5"}
    else:
        log.error("unhandled error on %s", path, exc_info=exc)
        status, message = 500, "Internal server error"
    render = openai_error_response if path.startswith(OPENAI_STYLE_PREFIXES) else error_response
    return render(status, message, None, headers)


class CatchAll:
    """Innermost middleware: an exception no handler took becomes a response here, so the
    server never sees it (which would also close the client's keep-alive connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            if started:  # too late for a status: the server closes the connection
                raise
            await unexpected_response(scope, exc)(scope, receive, send)
