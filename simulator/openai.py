"""OpenAI Images API simulator: ``POST /v1/images/generations`` and ``POST /v1/images/edits``.

Speaks the wire format OpenAI documents (our notes, 2026-11: paths, auth, JSON and multipart
bodies, SSE framing, error envelopes, ``x-request-id``/``openai-processing-ms`` headers) and
answers with real images. Base URL for the official SDK: ``http://host:port/v1``.

Order of checks for each request: auth (401) → body parsing (400) → injected faults
(``knobs.fail_next``, then ``[sim:…]`` directives) → validation (404 model, 400 params, edit
images) → input moderation (400) → latency → answer (JSON, or SSE when ``stream: true``).

Edits come multipart (``image``/``image[]``, what the SDK sends) or in the JSON form of §3.3
(``images: [{image_url: data:…}]``); only the JSON form takes ``moderation`` (§3.1), a multipart
``moderation`` part is 400 ``unknown_parameter`` (§6).

Besides the shared directives (``simulator.knobs``) this simulator understands
``[sim:images=K]``: answer only the first K of the ``n`` images (buffered: K items in ``data``;
streaming: K ``*.completed`` events, then the stream ends as after the last image), the shape of
an upstream that makes fewer images than asked for, or that streams a single ``completed`` for
``n > 1`` (unverified either way, §11).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.admin import admin_routes
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import DirectiveError, Directives, Knobs, SimState, strip_directives
from simulator.openai_errors import (
    OpenAIError,
    for_status,
    insufficient_quota,
    invalid_api_key,
    invalid_value,
    missing_api_key,
    moderation_blocked,
    unsupported_parameter,
)
from simulator.openai_inputs import (
    EditInputs,
    ParsedRequest,
    check_edit_inputs,
    parse_edit,
    parse_generation,
)
from simulator.openai_rules import DEFAULT_MODEL, MODELS, ImageJob, usage, validate
from simulator.openai_stream import RenderFn, StreamPlan, image_events
from simulator.render import RenderCache, b64, dimensions, fixed_image


class _OpenAIHeaders:
    """Adds ``x-request-id``, ``openai-processing-ms`` and ``openai-version`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["openai-processing-ms"] = str(round((time.perf_counter() - started) * 1e3))
                headers["openai-version"] = "2020-10-01"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Simulator:
    def __init__(self, state: SimState, api_key: str | None, require_auth: bool) -> None:
        self.state = state
        self.api_key = api_key
        self.require_auth = require_auth
        self.renders = RenderCache()

    async def generations(self, request: Request) -> Response:
        return await self._handle(request, edit=False)

    async def edits(self, request: Request) -> Response:
        return await self._handle(request, edit=True)

    async def _handle(self, request: Request, *, edit: bool) -> Response:
        request_id: str = request.state.request_id
        entry = self.state.log.record(
            request.method, request.url.path, dict(request.headers), request_id
        )
        try:
            response = await self._process(request, entry, request_id, edit=edit)
        except OpenAIError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    def _authenticate(self, request: Request) -> None:
        if not self.require_auth:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise missing_api_key()
        if self.api_key is not None and not secrets.compare_digest(token, self.api_key):
            raise invalid_api_key(token)

    async def _process(
        self, request: Request, entry: dict[str, object], request_id: str, *, edit: bool
    ) -> Response:
        self._authenticate(request)
        parsed = await (parse_edit(request) if edit else parse_generation(request))
        entry["body"] = parsed.log_body
        knobs = self.state.knobs
        prompt = parsed.fields.get("prompt")
        prompt = prompt if isinstance(prompt, str) else ""
        model = str(parsed.fields.get("model") or DEFAULT_MODEL)
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, model, knobs.retry_after_s)
        directives = _directives(prompt)
        if directives.quota:
            raise insufficient_quota()
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, model, knobs.retry_after_s)

        job = validate(
            parsed.fields, edit=edit, first_image=_first_size(parsed), multipart=parsed.multipart
        )
        images = _images_directive(directives, job.n)
        inputs = _check_edit(parsed, job) if edit else None
        stage = directives.moderate
        if stage is None and any(w.lower() in prompt.lower() for w in knobs.moderate_words):
            stage = knobs.moderation_stage
        if stage == "input":
            raise moderation_blocked(request_id, "input")
        await asyncio.sleep(knobs.latency_s if directives.sleep_s is None else directives.sleep_s)
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        refusal = moderation_blocked(request_id, "output") if stage == "output" else None

        render = (
            _fixed(knobs.fixed_image)
            if knobs.fixed_image
            else _renderer(self.renders, job, inputs, strip_directives(prompt))
        )
        input_sizes = inputs.sizes if inputs else []
        if job.stream:
            pieces: list[str] = []
            entry["partial_pieces"] = pieces
            plan = StreamPlan(
                partial_delay_s=knobs.partial_delay_s,
                split_s=knobs.partial_split_s,
                cut_partial=knobs.cut_partial,
                pieces=pieces,
                truncate=knobs.truncate_stream or directives.truncate,
                emit_done=knobs.emit_done or directives.done,
                error=refusal,
                images=images,
            )
            events = _tracked(
                image_events(job, edit=edit, render=render, input_sizes=input_sizes, plan=plan),
                entry,
            )
            return StreamingResponse(
                events, media_type="text/event-stream", headers={"cache-control": "no-cache"}
            )
        if refusal is not None:
            raise refusal
        response = await _images_response(job, render, input_sizes, images)
        return truncated(bytes(response.body)) if directives.truncate else response


async def _tracked(events: AsyncIterator[bytes], entry: dict[str, object]) -> AsyncIterator[bytes]:
    """Relay the stream, noting in the log whether the client stayed to the end.

    ``stream`` becomes ``"finished"`` or ``"client_closed"`` (the client went away or the server
    stopped the response before the last event), so tests can see upstream cancellation.
    """
    entry["stream"] = "open"
    try:
        async for frame in events:
            yield frame
        entry["stream"] = "finished"
    finally:
        if entry["stream"] != "finished":
            entry["stream"] = "client_closed"


async def _images_response(
    job: ImageJob, render: RenderFn, input_sizes: list[tuple[int, int]], count: int
) -> Response:
    """The non-stream ``ImagesResponse`` (§4) with ``count`` images, with resolved values."""
    images = await asyncio.gather(*(render(i, 1.0) for i in range(count)))
    body: dict[str, object] = {
        "created": int(time.time()),
        "background": job.background,
        "data": [{"b64_json": b64(data)} for data in images],
        "output_format": job.output_format,
        "quality": job.quality,
        "size": job.size,
        "usage": usage(job, input_sizes, images=count),
    }
    if job.safety_identifier:
        body["safety_identifier"] = job.safety_identifier
    return Response(orjson.dumps(body), media_type="application/json")


# This simulator's own directives (see the module docstring).
_EXTRA_DIRECTIVES = frozenset({"images"})


def _directives(prompt: str) -> Directives:
    try:
        return Directives.parse(prompt, extra=_EXTRA_DIRECTIVES)
    except DirectiveError as exc:
        raise OpenAIError(400, str(exc), param="prompt", code="invalid_sim_directive") from exc


def _images_directive(directives: Directives, n: int) -> int:
    """How many of the ``n`` images to answer: ``[sim:images=K]`` (1 ≤ K ≤ n), else ``n``."""
    arg = directives.extra.get("images")
    if arg is None:
        return n
    if not arg.isdigit() or not 1 <= int(arg) <= n:
        raise OpenAIError(
            400,
            f"[sim:images={arg}] needs a whole number of images from 1 to n ({n}).",
            param="prompt",
            code="invalid_sim_directive",
        )
    return int(arg)


def _first_size(parsed: ParsedRequest) -> tuple[int, int] | None:
    """Best effort, for ``size: auto`` on edits; broken images are reported by _check_edit."""
    if not parsed.images:
        return None
    try:
        return dimensions(parsed.images[0].data)
    except ValueError:
        return None


def _check_edit(parsed: ParsedRequest, job: ImageJob) -> EditInputs:
    if parsed.markup is not None:
        if not MODELS[job.model].markup:
            raise unsupported_parameter("markup")
        if parsed.mask is not None:
            raise invalid_value("markup", "…", why="'markup' cannot be combined with 'mask'.")
    return check_edit_inputs(parsed)


def _renderer(
    cache: RenderCache, job: ImageJob, inputs: EditInputs | None, prompt: str
) -> RenderFn:
    async def render(index: int, progress: float) -> bytes:
        return await cache.render(
            job.width,
            job.height,
            job.output_format,
            prompt=prompt,
            seed=index,
            transparent=job.background == "transparent",
            quality=job.output_compression,
            progress=progress,
            base=inputs.base if inputs else None,
            base_key=inputs.base_key if inputs else "",
        )

    return render


def _fixed(spec: str) -> RenderFn:
    data = fixed_image(spec)

    async def render(index: int, progress: float) -> bytes:
        return data

    return render


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer with the §6 envelope, like the real API."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return OpenAIError(status, f"Invalid URL ({request.method} {request.url.path})").response()


def create_app(
    knobs: Knobs | None = None, *, api_key: str | None = None, require_auth: bool = True
) -> Starlette:
    """The OpenAI simulator.

    Like the real API it wants ``Authorization: Bearer <key>`` (401 otherwise); with ``api_key``
    set the key must match, with None any non-empty key passes. ``require_auth=False`` drops the
    check entirely, to stand in for a self-hosted OpenAI-compatible server without keys.

    ``app.state.sim`` is the ``SimState`` (``.knobs``, ``.log``, ``.reset()``) for in-process
    tests; ``/_sim/*`` exposes the same over HTTP (see ``simulator.admin``).
    """
    state = SimState(knobs)
    sim = _Simulator(state, api_key, require_auth)
    app = Starlette(
        routes=[
            Route("/v1/images/generations", sim.generations, methods=["POST"]),
            Route("/v1/images/edits", sim.edits, methods=["POST"]),
            *admin_routes(state),
        ],
        middleware=[Middleware(_OpenAIHeaders)],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.sim = state
    return app
