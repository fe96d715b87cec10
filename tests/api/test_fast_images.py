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


class _Recorder:
    """A middleware stack that notes what reached it (and with which scope)."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))


async def _noop_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _noop_send(message: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("kind", "method", "path", "short"),
    [
        *(("http", "POST", door, True) for door in DOORS),
        ("http", "POST", "/v1/images/edits", True),
        ("http", "GET", "/api/v1/images/models", True),
        ("http", "DELETE", "/api/v1/keys/k1", True),
        ("websocket", "GET", "/ws", False),
    ],
)
async def test_http_requests_go_straight_to_the_middleware_stack(
    kind: str, method: str, path: str, short: bool
) -> None:
    """HTTP requests skip FastAPI's and Starlette's own ``__call__`` (a telemetry question
    and a stack lookup per request) and reach the very stack those would call, with the scope
    they would have set; anything else takes FastAPI's path."""
    from app.main import Gateway

    app = Gateway()
    app.root_path = "/gw"
    app.middleware_stack = stack = _Recorder()
    scope = {"type": kind, "method": method, "path": path, "headers": []}
    assert app.takes_short_path(scope) is short
    if short:
        await app(scope, _noop_receive, _noop_send)
        assert stack.scopes == [{**scope, "app": app, "root_path": "/gw"}]


async def test_with_native_telemetry_configured_every_request_takes_fastapis_path() -> None:
    from opentelemetry.trace import NoOpTracerProvider

    from app.main import Gateway

    plain, traced = Gateway(), Gateway(telemetry={"tracer_provider": NoOpTracerProvider()})
    scope = {"type": "http", "method": "POST", "path": "/api/v1/images", "headers": []}
    for app in (plain, traced):
        app.middleware_stack = _Recorder()
    assert plain.takes_short_path(scope)
    assert not traced.takes_short_path(scope)


async def test_the_stack_is_built_by_fastapis_path_first() -> None:
    """Before the first request nothing is built: the request takes FastAPI's path, which
    builds the stack (and the next one is taken straight)."""
    from app.main import Gateway

    app = Gateway()
    scope = {"type": "http", "method": "POST", "path": "/api/v1/images", "headers": []}
    assert not app.takes_short_path(scope)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-generation-id": "gen-img-1"},
        {},
        {"X-Generation-Id": "g", "Content-Type": "application/vnd.x+json"},
        {"content-length": "999", "x-a": "b"},
    ],
)
def test_a_buffered_answers_headers_are_starlettes(headers: dict[str, str]) -> None:
    """The buffered answer builds its headers in one pass: those Starlette's Response builds
    for the same headers, with the length of the parts it sends."""
    from starlette.responses import Response

    from app.api.serving import PartsResponse

    parts = [b'{"data":[', b"", b'{"b64_json":"AAAA"}]}']
    built = PartsResponse(parts, headers)
    expected = Response(b"", media_type="application/json", headers=headers)
    expected.headers["content-length"] = str(sum(len(p) for p in parts))
    assert built.raw_headers == expected.raw_headers
    assert (built.status_code, built.body, built.background) == (200, b"", None)
    assert built.parts == [parts[0], parts[2]]
