"""The OpenAPI document, corrected to what the gateway really answers.

FastAPI documents a 422 for every body it validates; the gateway answers 400 (OpenRouter's
shape), and its other statuses (401, 402, 403, 404, 408, 413, 429, 502, 503, 524, …) come from
its own error handling, which FastAPI cannot see. This module rewrites each operation's
responses from one table, with the error schemas of the route's shape (OpenRouter's, or
OpenAI's on the OpenAI-compatible routes), and documents the event-stream answers and the
multipart edits body. A test checks the document against the running gateway with
schemathesis.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import OPENAI_STYLE_PREFIXES
from app.generation.ids import GENERATION_PATHS

GENERATION = (400, 401, 402, 403, 404, 408, 413, 429, 500, 502, 503, 524)
BODY_GUARD = (400, 401, 408, 413, 429, 500, 503)  # any body-carrying route: auth, size, time
STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    **{("post", path): GENERATION for path in GENERATION_PATHS},
    ("post", "/api/v1/images/quote"): (*BODY_GUARD, 404),
    ("post", "/api/v1/keys"): (*BODY_GUARD, 403),
    ("patch", "/api/v1/keys/{key_hash}"): (*BODY_GUARD, 403, 404),
    ("delete", "/api/v1/keys/{key_hash}"): (*BODY_GUARD, 403, 404),
    ("get", "/api/v1/keys"): (400, 401, 403, 500, 503),
    ("get", "/api/v1/keys/{key_hash}"): (401, 403, 404, 500, 503),
    ("get", "/api/v1/key"): (401, 500, 503),
    ("get", "/api/v1/generation"): (400, 401, 404, 500, 503),
    ("get", "/api/v1/images/models"): (400, 500),
    ("get", "/api/v1/images/models/{author}/{slug}/endpoints"): (400, 404, 500),
    ("get", "/api/v1/models"): (400, 500),
    ("get", "/v1/models"): (500,),
    ("get", "/ready"): (503,),
    ("get", "/api/v1/activity"): (400, 401, 403, 500, 503),
    ("get", "/api/v1/activity/summary"): (400, 401, 403, 500, 503),
    ("get", "/api/v1/activity/generations"): (400, 401, 403, 500, 503),
}
TEXT = {"/metrics"}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "metadata": {"type": ["object", "null"]},
            },
        },
        "user_id": {"type": ["string", "null"]},
    },
}
OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
EDIT_FORM = {
    "type": "object",
    "required": ["prompt", "image"],
    "properties": {
        "prompt": {"type": "string"},
        "model": {"type": "string"},
        "image": {"type": "string", "format": "binary"},
        "image[]": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "mask": {"type": "string", "format": "binary"},
        "n": {"type": "integer", "minimum": 1, "maximum": 10},
        "size": {"type": "string"},
        "quality": {"type": "string"},
        "output_format": {"type": "string"},
        "background": {"type": "string"},
        "stream": {"type": "boolean"},
    },
}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Provider timed out" if status == 524 else "Error"


def _error_response(path: str, status: int) -> dict[str, Any]:
    schema = "OpenAIError" if path.startswith(OPENAI_STYLE_PREFIXES) else "Error"
    return {
        "description": _phrase(status),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _rewrite(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status in STATUSES.get((method, path), ()):
        responses.setdefault(str(status), _error_response(path, status))
    ok = responses.get("200")
    if ok is not None and path in GENERATION_PATHS:
        ok.setdefault("content", {})["text/event-stream"] = {"schema": {"type": "string"}}
        ok["description"] = "The result (JSON), or server-sent events when streaming"
    if ok is not None and path in TEXT:
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    if path.endswith("/images/edits"):
        operation["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": EDIT_FORM}},
        }


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the corrected document (built once, then cached)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                _rewrite(path, method, operation)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["Error"] = ERROR
        schemas["OpenAIError"] = OPENAI_ERROR
        app.openapi_schema = doc
        return doc

    app.openapi = build  # type: ignore[method-assign]
