"""Gemini API simulator: ``POST /v1beta/models/{model}:generateContent`` and friends.

Speaks the wire format Google documents for the Gemini API (our notes, 2026-10): the
``generateContent`` and
``streamGenerateContent`` methods (``?alt=sse`` framing, or a JSON array without it) under
``/v1beta`` and ``/v1``, ``x-goog-api-key`` (or ``?key=``) auth answered like Google (a bad
key is a **400** ``API_KEY_INVALID``), the Google RPC error envelope, and real images: JPEG from
the 3.x models, PNG from 2.5, at the model's pixel size for the ratio and ``imageSize``.
Base URL for an adapter: ``http://host:port/v1beta``.

Order of checks: route (HTML 404) → auth (400) → body (400) → injected faults
(``knobs.fail_next``, then ``[sim:…]`` directives) → model (404) → per-model validation (400)
→ latency → answer. Directives beyond the shared ones (``simulator.knobs``):

==========================  =====================================================================
``[sim:block]``             HTTP 200, ``promptFeedback.blockReason: PROHIBITED_CONTENT``, no
                            candidates (``[sim:block=safety]`` picks another reason)
``[sim:image_safety]``      candidate with ``content: {}`` and ``finishReason: IMAGE_SAFETY``
``[sim:no_image]``          the same with ``NO_IMAGE``
``[sim:finish=REASON]``     the same with any finishReason, known or not (``image_other``…)
``[sim:text_only]``         ``finishReason: STOP`` with a text refusal and no image
``[sim:thoughts]``          Pro-style: a ``thought: true`` text part and draft image first
``[sim:quota]``             429 ``RESOURCE_EXHAUSTED`` with ``limit: 0`` (no quota at all)
==========================  =====================================================================

Shared directives in Gemini's shapes: ``[sim:429]`` is ``RESOURCE_EXHAUSTED`` with
``RetryInfo.retryDelay`` (``knobs.retry_after_s``); ``[sim:moderate]`` (input stage, and
``moderate_words``) is the prompt block, ``[sim:moderate=output]`` the ``IMAGE_SAFETY`` candidate;
``[sim:done]`` is accepted and ignored (Gemini streams have no sentinel).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.admin import admin_routes
from simulator.faults import DroppedConnection, truncated
from simulator.google_answers import (
    REFUSAL,
    Chunk,
    blocked,
    finished_empty,
    image_answer,
    merge,
    response_id,
    text_answer,
)
from simulator.google_errors import (
    GoogleError,
    api_key_invalid,
    for_status,
    html_not_found,
    invalid_argument,
    model_not_found,
    resource_exhausted,
)
from simulator.google_inputs import ImageJob, parse_body, plan_job
from simulator.google_rules import MODELS
from simulator.knobs import DirectiveError, Directives, Knobs, SimState, strip_directives
from simulator.render import RenderCache, open_image

EXTRA_DIRECTIVES = frozenset(
    {"block", "image_safety", "no_image", "finish", "text_only", "thoughts"}
)
METHODS = ("generateContent", "streamGenerateContent")
JSON = "application/json; charset=UTF-8"
MALFORMED = (
    b'{\n  "candidates": [\n    {\n      "content": {\n        "parts": [\n          {"inlineData'
)


class _GoogleHeaders:
    """The headers Google front ends put on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["server"] = "scaffolding on HTTPServer2"
                headers["vary"] = "Origin, X-Origin, Referer"
                headers["x-content-type-options"] = "nosniff"
                took = round((time.perf_counter() - started) * 1e3)
                headers["server-timing"] = f"gfet4t7; dur={took}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Simulator:
    def __init__(self, state: SimState, api_key: str | None) -> None:
        self.state = state
        self.api_key = api_key
        self.renders = RenderCache()

    async def v1beta(self, request: Request) -> Response:
        return await self.handle(request, version="v1beta")

    async def v1(self, request: Request) -> Response:
        return await self.handle(request, version="v1")

    async def handle(self, request: Request, *, version: str) -> Response:
        model, _, method = request.path_params["target"].partition(":")
        if method not in METHODS:
            return html_not_found(request.url.path)
        headers = {
            k: ("<redacted>" if k == "x-goog-api-key" else v) for k, v in request.headers.items()
        }
        rid = response_id()
        entry = self.state.log.record(request.method, request.url.path, headers, rid)
        entry["query"] = {
            k: ("<redacted>" if k == "key" else v) for k, v in request.query_params.items()
        }
        entry["model"] = model
        entry["method_name"] = method
        try:
            response = await self._process(request, entry, rid, version, model, method)
        except GoogleError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    def _authenticate(self, request: Request) -> None:
        """Header first, then ``?key=``; missing or wrong are both the §5 400."""
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key") or ""
        if not key:
            raise api_key_invalid()
        if self.api_key is not None and not hmac.compare_digest(key, self.api_key):
            raise api_key_invalid()

    async def _process(
        self,
        request: Request,
        entry: dict[str, object],
        rid: str,
        version: str,
        model: str,
        method: str,
    ) -> Response:
        self._authenticate(request)
        parsed = parse_body(await request.body())
        entry["body"] = parsed.log_body
        knobs = self.state.knobs
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, model, knobs.retry_after_s)
        directives = _directives(parsed.prompt)
        if directives.quota:
            raise resource_exhausted(model, knobs.retry_after_s, no_quota=True)
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, model, knobs.retry_after_s)
        rules = MODELS.get(model)
        if rules is None:
            raise model_not_found(model, version, method)
        job = plan_job(parsed, model, rules)
        await asyncio.sleep(knobs.latency_s if directives.sleep_s is None else directives.sleep_s)
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return Response(MALFORMED, media_type=JSON)
        chunks = await self._answer(job, rid, directives)
        stream = method == "streamGenerateContent"
        if not stream:
            body = orjson.dumps(merge(chunks), option=orjson.OPT_INDENT_2)
            if directives.truncate:
                return truncated(body, media_type=JSON)
            return Response(body, media_type=JSON)
        if request.query_params.get("alt") != "sse":  # a JSON array of the chunks
            return Response(orjson.dumps(chunks, option=orjson.OPT_INDENT_2), media_type=JSON)
        frames = [b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks]
        if directives.truncate or knobs.truncate_stream:
            return truncated(b"".join(frames), media_type="text/event-stream")
        return StreamingResponse(
            _tracked(_paced(frames, knobs.partial_delay_s), entry),
            media_type="text/event-stream",
        )

    async def _answer(self, job: ImageJob, rid: str, directives: Directives) -> list[Chunk]:
        """The chunks for this request, from directives, moderation knobs and modalities."""
        extra = directives.extra
        stage = directives.moderate
        words = self.state.knobs.moderate_words
        if stage is None and any(w.lower() in job.prompt.lower() for w in words):
            stage = self.state.knobs.moderation_stage
        if "block" in extra or stage == "input":
            return blocked(job, rid, (extra.get("block") or "prohibited_content").upper())
        finish = _finish_reason(extra, stage)
        if finish is not None:
            return finished_empty(job, rid, finish)
        if "text_only" in extra:
            return text_answer(job, rid, REFUSAL)
        if not job.wants_image:
            return text_answer(job, rid, f"(A description instead of an image) {job.prompt}")
        render = self._renderer(job)
        return await image_answer(job, rid, render, drafts="thoughts" in extra)

    def _renderer(self, job: ImageJob) -> Callable[[float], Awaitable[bytes]]:
        base = None
        base_key = ""
        for image in job.images[:1]:
            try:
                base = open_image(image.data)
            except ValueError:  # HEIC/HEIF: accepted, not drawn
                break
            base_key = hashlib.blake2b(image.data, digest_size=16).hexdigest()
        prompt = strip_directives(job.prompt)

        async def render(progress: float) -> bytes:
            return await self.renders.render(
                job.width,
                job.height,
                job.rules.fmt,
                prompt=prompt,
                seed=job.seed,
                quality=90,
                progress=progress,
                base=base,
                base_key=base_key,
            )

        return render


def _finish_reason(extra: dict[str, str], stage: str | None) -> str | None:
    if "finish" in extra:
        if not extra["finish"]:
            raise invalid_argument("[sim:finish=REASON] needs a finishReason")
        return extra["finish"].upper()
    if "image_safety" in extra or stage == "output":
        return "IMAGE_SAFETY"
    if "no_image" in extra:
        return "NO_IMAGE"
    return None


def _directives(prompt: str) -> Directives:
    try:
        return Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
    except DirectiveError as exc:
        raise invalid_argument(str(exc), field_path="contents") from exc


async def _paced(frames: list[bytes], delay_s: float) -> AsyncIterator[bytes]:
    for i, frame in enumerate(frames):
        if i and delay_s:
            await asyncio.sleep(delay_s)
        yield frame


async def _tracked(events: AsyncIterator[bytes], entry: dict[str, object]) -> AsyncIterator[bytes]:
    """Relay the stream, noting in the log whether the client stayed to the end."""
    entry["stream"] = "open"
    try:
        async for frame in events:
            yield frame
        entry["stream"] = "finished"
    finally:
        if entry["stream"] != "finished":
            entry["stream"] = "client_closed"


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods: Google's HTML 404 page."""
    return html_not_found(request.url.path)


def create_app(knobs: Knobs | None = None, *, api_key: str | None = None) -> Starlette:
    """The Gemini API simulator.

    With ``api_key`` set the ``x-goog-api-key`` header (or ``?key=``) must match; with None any
    non-empty key passes. ``app.state.sim`` is the ``SimState`` for in-process tests;
    ``/_sim/*`` exposes the same over HTTP (see ``simulator.admin``).
    """
    state = SimState(knobs)
    sim = _Simulator(state, api_key)
    app = Starlette(
        routes=[
            Route("/v1beta/models/{target}", sim.v1beta, methods=["POST"]),
            Route("/v1/models/{target}", sim.v1, methods=["POST"]),
            *admin_routes(state),
        ],
        middleware=[Middleware(_GoogleHeaders)],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.sim = state
    return app
