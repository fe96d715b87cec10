"""The JSON generation doors' short path takes only valid JSON requests, with each route's own
model and endpoint; the rest go to the router unchanged (so every error keeps its answer)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute

from app.api import chat, images, openai_images
from app.api.fast import DOORS, FastDoors, _validated
from app.auth import SCOPE_KEY
from app.generation.request import ImageGenerationRequest


def _scope(content_type: bytes | None = b"application/json", **extra: Any) -> dict[str, Any]:
    headers = [(b"content-type", content_type)] if content_type is not None else []
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/images",
        "headers": headers,
        **extra,
    }


def _message(body: Any, more: bool = False) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return {"type": "http.request", "body": raw, "more_body": more}


VALID = {"model": "openai/gpt-image-1.5", "prompt": "a cat"}


def test_a_valid_json_request_is_taken() -> None:
    request = _validated(
        ImageGenerationRequest, _scope(b"application/json; charset=utf-8"), _message(VALID)
    )
    assert request is not None and request.prompt == "a cat"


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        (_scope(b"text/plain"), _message(VALID)),
        (_scope(None), _message(VALID)),
        (_scope(), _message(b'{"model": "x", "prompt": ')),  # malformed JSON
        (_scope(), _message({"model": "x"})),  # no prompt
        (_scope(), _message({"model": "x", "prompt": "p", "n": "two"})),
        (_scope(), _message(b'{"model": "x", "prompt": "p", "n": NaN}')),
        (_scope(), _message(VALID, more=True)),  # not the whole body
        (_scope(), {"type": "http.disconnect"}),
    ],
)
def test_anything_else_is_left_to_the_router(
    scope: dict[str, Any], message: dict[str, Any]
) -> None:
    assert _validated(ImageGenerationRequest, scope, message) is None


async def test_the_router_gets_the_body_it_would_have_had() -> None:
    seen: list[Any] = []

    async def router(scope: Any, receive: Any, send: Any) -> None:
        seen.append(await receive())
        seen.append(await receive())

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        raise AssertionError("the short path answered")

    first = _message({"model": "x"})
    messages = iter([first])

    async def once() -> Any:
        return next(messages, None) or await receive()

    # a valid body but no authenticated principal in the scope: the router decides
    await FastDoors(router)(_scope(state={SCOPE_KEY: None}), once, send)
    assert seen == [first, {"type": "http.disconnect"}]


def test_integers_are_read_as_the_router_reads_them() -> None:
    body = b'{"model": "m/x", "prompt": "p", "seed": 123456789012345678901234567890}'
    assert (
        _validated(ImageGenerationRequest, _scope(), _message(body)) is None
    )  # a Python int past 64 bits: refused


def test_each_short_path_is_its_routes_own_model_and_endpoint() -> None:
    routes = {
        route.path: route
        for router in (images.router, openai_images.router, chat.router)
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }
    for path, (model, endpoint) in DOORS.items():
        route = routes[path]
        assert route.endpoint is endpoint, path
        assert route.body_field is not None and route.body_field.field_info.annotation is model
