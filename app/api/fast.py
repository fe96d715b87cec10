"""The JSON generation doors without FastAPI's routing and dependency machinery.

The generation doors are the gateway's hot path, and on a small image FastAPI's per-request
work (matching some sixty routes, solving the route's dependencies, re-reading and
re-validating the body in its own wrappers) was a tenth of the gateway's CPU. By the time a
request gets here :class:`app.middleware.RequestGuard` has authenticated it and holds its
whole body, so this middleware parses and validates the body with the route's own request
model and calls the very endpoint function the router would, for every door in
:data:`DOORS` (the OpenRouter images API, the OpenAI-compatible generations, chat
completions).

Only the plain case is taken: a JSON body that parses and validates. Anything else (another
content type, malformed JSON, a validation error, no principal in the scope) is replayed to
the FastAPI route unchanged, so every error keeps the exact answer it had. Errors the
endpoint raises are rendered as the app's exception handler renders them for that path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.chat import ChatRequest, chat_completions
from app.api.images import create_image
from app.api.openai_images import OpenAIImageRequest, generations
from app.auth import SCOPE_KEY, Principal
from app.errors import OPENAI_STYLE_PREFIXES, GatewayError, error_response, openai_error_response
from app.generation.request import ImageGenerationRequest

Endpoint = Callable[[Any, Request, Principal], Awaitable[Response]]

# path -> (the route's request model, the route's endpoint function)
DOORS: dict[str, tuple[type[BaseModel], Endpoint]] = {
    "/api/v1/images": (ImageGenerationRequest, create_image),
    "/v1/images/generations": (OpenAIImageRequest, generations),
    "/api/v1/images/generations": (OpenAIImageRequest, generations),
    "/api/v1/chat/completions": (ChatRequest, chat_completions),
    "/v1/chat/completions": (ChatRequest, chat_completions),
}


class FastDoors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        door = DOORS.get(scope["path"]) if scope["type"] == "http" else None
        if door is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        model, endpoint = door
        message = await receive()
        body = _validated(model, scope, message)
        principal = scope.get("state", {}).get(SCOPE_KEY)
        if body is None or not isinstance(principal, Principal):
            await self.app(scope, _replay(message, receive), send)
            return
        try:
            response = await endpoint(body, Request(scope, receive), principal)
        except GatewayError as exc:
            render = (
                openai_error_response
                if scope["path"].startswith(OPENAI_STYLE_PREFIXES)
                else error_response
            )
            response = render(exc.status, exc.message, exc.metadata, exc.headers)
        await response(scope, receive, send)


def _validated(model: type[BaseModel], scope: Scope, message: Message) -> Any:
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
        return model.model_validate(data)
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        return None  # (and nesting too deep for the parser: the route answers it with a 400)


def _replay(message: Message, receive: Receive) -> Receive:
    pending: Message | None = message

    async def replay() -> Message:
        nonlocal pending
        if pending is not None:
            first, pending = pending, None
            return first
        return await receive()

    return replay
