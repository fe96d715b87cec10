"""``POST /api/v1/images`` without FastAPI's routing and dependency machinery.

The generation door is the gateway's hot path, and on a small image FastAPI's per-request
work (matching some sixty routes, solving the route's dependencies, re-reading and
re-validating the body in its own wrappers) was a tenth of the gateway's CPU. By the time a
request gets here :class:`app.middleware.RequestGuard` has authenticated it and holds its
whole body, so this middleware parses and validates the body itself and calls the very same
endpoint function the router would.

Only the plain case is taken: a JSON body that parses and validates. Anything else (another
content type, malformed JSON, a validation error, no principal in the scope) is replayed to
the FastAPI route unchanged, so every error keeps the exact answer it had. Errors the
endpoint raises are rendered by the same function as the app's exception handler.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.images import create_image
from app.auth import SCOPE_KEY, Principal
from app.errors import GatewayError, error_response
from app.generation.request import ImageGenerationRequest

PATH = "/api/v1/images"


class FastImages:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = _validated(scope, message)
        principal = scope.get("state", {}).get(SCOPE_KEY)
        if body is None or not isinstance(principal, Principal):
            await self.app(scope, _replay(message, receive), send)
            return
        try:
            response = await create_image(body, Request(scope, receive), principal)
        except GatewayError as exc:
            response = error_response(exc.status, exc.message, exc.metadata, exc.headers)
        await response(scope, receive, send)


def _validated(scope: Scope, message: Message) -> ImageGenerationRequest | None:
    """The request, when the whole body is here and is a valid JSON request; else None."""
    if message["type"] != "http.request" or message.get("more_body", False):
        return None
    content_type = b""
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
            break
    if not content_type.lower().startswith(b"application/json"):
        return None
    try:  # the stdlib parser, as the router's (orjson reads integers past 64 bits as floats)
        data: Any = json.loads(message.get("body", b""))
        return ImageGenerationRequest.model_validate(data)
    except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError included
        return None


def _replay(message: Message, receive: Receive) -> Receive:
    pending: Message | None = message

    async def replay() -> Message:
        nonlocal pending
        if pending is not None:
            first, pending = pending, None
            return first
        return await receive()

    return replay
