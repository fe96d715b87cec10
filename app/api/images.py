"""``POST /api/v1/images``: the OpenRouter Images API door (buffered JSON or SSE).

``stream: true`` on a model none of whose endpoints streams is answered with buffered JSON, as
OpenRouter does, so clients written against OpenRouter keep working. A caller that sends
``X-Imagegate-Progress: true`` opts in to an event stream instead: the gateway answers SSE at
once and, while the provider works, sends keep-alive comments and ``imagegate.progress`` events
(``{"type": "imagegate.progress", "status", "provider", "elapsed_s"}``), then the usual
``image_generation.completed`` event(s) and ``[DONE]``. Clients that know only OpenRouter's
events ignore the extension events (the official SDKs skip unknown ``type`` values).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.api.serving import Exchange, serve
from app.auth import Principal, authenticate
from app.errors import GatewayError, error_body, error_response
from app.generation import render
from app.generation.normalize import Normalized
from app.generation.request import ImageGenerationRequest
from app.generation.service import Note, Outcome, Partial
from providers.spec import EndpointSpec

router = APIRouter(prefix="/api/v1")

Caller = Annotated[Principal, Depends(authenticate)]
PROGRESS_HEADER = "x-imagegate-progress"


class OpenRouterImages:
    """Renders the OpenRouter Images API's response objects."""

    route = "images"
    commits_early = True

    def __init__(self, progress: bool = False) -> None:
        self.progress = progress
        self._last = Note("", "queued")
        self._started = time.monotonic()

    def error_response(self, err: GatewayError, headers: dict[str, str]) -> Response:
        return error_response(err.status, err.message, err.metadata, headers)

    def body(self, outcome: Outcome, ex: Exchange) -> render.Body:
        return render.buffered_body(outcome, ex.created)

    def late_error(self, err: GatewayError, ex: Exchange) -> bytes:
        return error_body(err.status, err.message, err.metadata)

    def sse_keepalive(self) -> bytes:
        if not self.progress:
            return render.KEEPALIVE
        # progress mode: every keep-alive also repeats the last status with the time elapsed
        return render.KEEPALIVE + self._progress_event(self._last)

    def sse_progress(self, note: Note, ex: Exchange) -> bytes | None:
        if not self.progress:
            return None
        self._last = note
        return self._progress_event(note)

    def _progress_event(self, note: Note) -> bytes:
        payload: dict[str, Any] = {
            "type": "imagegate.progress",
            "status": note.status,
            "provider": note.provider or None,
            "elapsed_s": round(time.monotonic() - self._started, 1),
        }
        return render.joined(render.sse(payload))

    def sse_partial(self, partial: Partial, ex: Exchange) -> render.Body | None:
        return render.partial_event(partial)

    def sse_outcome(self, outcome: Outcome, ex: Exchange) -> list[render.Body]:
        return render.completed_events(outcome, ex.created)

    def sse_error(self, err: GatewayError, ex: Exchange) -> bytes:
        return render.error_event(err.status, err.message, (err.metadata or {}).get("param"))

    def sse_done(self) -> bytes:
        return render.DONE


def _opted_in(request: Request) -> bool:
    return request.headers.get(PROGRESS_HEADER, "").strip().lower() in ("1", "true", "yes")


@router.post("/images")
async def create_image(body: ImageGenerationRequest, request: Request, caller: Caller) -> Response:
    progress = bool(body.stream) and _opted_in(request)

    def sse(attempts: Sequence[tuple[EndpointSpec, Normalized]]) -> bool:
        if not body.stream:
            return False
        return progress or any(e.supports_streaming for e, _ in attempts)

    return await serve(
        request,
        caller,
        body,
        OpenRouterImages(progress),
        sse=sse,
        upstream_stream=bool(body.stream),
        commit_at_once=progress,
    )
