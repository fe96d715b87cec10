"""ByteDance Seedream on BytePlus ModelArk: ``POST /api/v3/images/generations``.

Speaks the wire format BytePlus ModelArk documents (our notes, 2026-10): Bearer auth (401
``AuthenticationError``), a synchronous JSON answer with ``data[]`` (items may be per-image
errors), or with ``stream: true`` SSE ``event:``/``data:`` frames ending in ``data: [DONE]``.
Base URL for an adapter: ``http://host:port/api/v3`` (``/bytedance/api/v3`` in the combined app).

Order of checks: auth (401) → JSON body (400) → injected faults (``knobs.fail_next``, then the
``[sim:…]`` directives) → validation (404 model, 400 ``InvalidParameter`` naming ``param``; plain
JSON even when streaming) → input moderation (400) → latency → answer. When streaming, the
response headers go out only once the first image is done (§4 gotcha 2).

Provider-specific directives, besides the shared ones (``simulator.knobs``):

==============================  ==============================================================
``[sim:fail_images=0,2]``       those images (0-based) fail with
                                ``OutputImageSensitiveContentDetected``; the others succeed
``[sim:item_error=1]``          image 1 fails with ``InternalServiceError`` and the model stops
``[sim:fewer=2]``               with ``sequential_image_generation: auto`` the model makes only 2
``[sim:error=<code>]``          answer with that documented error code (any case), e.g.
                                ``[sim:error=accountoverdueerror]``
``[sim:stream_error]``          streaming: a stream-level ``error`` event after the first image,
                                code ``BadRequest`` as §4 shows it (``=<code>``: that documented
                                code instead, e.g. ``[sim:stream_error=internalserviceerror]``)
==============================  ==============================================================

``[sim:moderate]`` is ``InputTextSensitiveContentDetected``; ``[sim:moderate=output]`` fails every
image with ``OutputImageSensitiveContentDetected``; ``[sim:quota]`` is 403
``AccountOverdueError``; ``[sim:truncate]`` cuts a buffered body in half, or ends a stream before
its ``completed`` event. ``[sim:done]`` is accepted and changes nothing (``[DONE]`` is always sent).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.admin import admin_routes
from simulator.bytedance_errors import (
    SeedreamError,
    canonical_code,
    for_status,
    from_code,
    invalid,
    new_request_id,
    stream_error,
    stream_error_code,
)
from simulator.bytedance_inputs import log_body
from simulator.bytedance_output import (
    DEFAULT_URL_TTL_S,
    DONE,
    Deliver,
    FileStore,
    Plan,
    Renderer,
    b64_delivery,
    buffered_body,
    completed_event,
    image_event,
    stream_error_event,
)
from simulator.bytedance_rules import Job, validate
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import DirectiveError, Directives, Knobs, SimState, strip_directives

EXTRA_DIRECTIVES = frozenset({"fail_images", "item_error", "fewer", "error", "stream_error"})
FILES_PATH = "/ark-content"


class _Simulator:
    def __init__(self, state: SimState, api_key: str | None, files: FileStore) -> None:
        self.state = state
        self.api_key = api_key
        self.files = files
        self.renderer = Renderer()

    async def generations(self, request: Request) -> Response:
        request_id = new_request_id()
        entry = self.state.log.record(
            request.method, request.url.path, dict(request.headers), request_id
        )
        try:
            response = await self._process(request, entry, request_id)
        except SeedreamError as error:
            response = error.response()
        response.headers["x-request-id"] = request_id
        entry["status"] = response.status_code
        return response

    async def file(self, request: Request) -> Response:
        """``url`` mode downloads; past the TTL the object store refuses like TOS does [INF]."""
        found = self.files.get(request.path_params["name"])
        if found == "expired":
            return _xml_error(403, "AccessDenied", "Request has expired")
        if found is None:
            return _xml_error(404, "NoSuchKey", "The specified key does not exist.")
        data, media_type = found
        return Response(data, media_type=media_type)

    def _authenticate(self, request: Request, request_id: str) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        wrong = self.api_key is not None and not secrets.compare_digest(token, self.api_key)
        if scheme.lower() != "bearer" or not token or wrong:
            raise from_code("AuthenticationError", request_id)

    async def _process(self, request: Request, entry: dict[str, Any], request_id: str) -> Response:
        self._authenticate(request, request_id)
        body = await _json_body(request, request_id)
        entry["body"] = log_body(body)
        raw_prompt = body.get("prompt")
        prompt = raw_prompt if isinstance(raw_prompt, str) else ""
        directives = self._faults(prompt, request_id)
        clean = strip_directives(prompt)
        job = validate(body, request_id, prompt_text=clean)
        entry["body"] = log_body(body, job.references)
        knobs = self.state.knobs
        stage = directives.moderate
        if stage is None and any(w.lower() in prompt.lower() for w in knobs.moderate_words):
            stage = knobs.moderation_stage
        if stage == "input":
            raise from_code("InputTextSensitiveContentDetected", request_id)
        await asyncio.sleep(knobs.latency_s if directives.sleep_s is None else directives.sleep_s)
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        plan = _plan(job, directives, stage == "output", request_id)
        deliver = self._url_delivery(request, job) if job.response_format == "url" else b64_delivery

        async def render_one(index: int) -> bytes:
            return await self.renderer.image(job, index, clean)

        if job.stream:
            return await self._stream(job, plan, directives, render_one, deliver, entry, request_id)
        if plan.succeeded == 0:  # the top-level error appears only when no image was made (§3)
            code = "InternalServiceError" if "internal" in plan.outcomes else None
            raise from_code(code or "OutputImageSensitiveContentDetected", request_id)
        payload = orjson.dumps(await buffered_body(job, plan, render_one, deliver))
        if directives.truncate:
            return truncated(payload)
        return Response(payload, media_type="application/json")

    def _faults(self, prompt: str, request_id: str) -> Directives:
        """Injected failures, in ModelArk's own shapes; returns the remaining directives."""
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, request_id)
        try:
            directives = Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
        except DirectiveError as exc:
            raise invalid("prompt", str(exc), request_id) from exc
        if directives.quota:
            raise from_code("AccountOverdueError", request_id)
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, request_id)
        if "error" in directives.extra:
            code = canonical_code(directives.extra["error"])
            if code is None:
                why = f"unknown error code in [sim:error={directives.extra['error']}]"
                raise invalid("prompt", why, request_id)
            raise from_code(code, request_id)
        wanted = directives.extra.get("stream_error")
        if wanted is not None and stream_error_code(wanted) is None:
            why = f"unknown error code in [sim:stream_error={wanted}]"
            raise invalid("prompt", why, request_id)
        return directives

    def _url_delivery(self, request: Request, job: Job) -> Deliver:
        base = str(request.url).split("/api/v3/", 1)[0]

        def deliver(data: bytes) -> dict[str, str]:
            name = self.files.put(data, job.output_format)
            return {"url": f"{base}{FILES_PATH}/{name}"}

        return deliver

    async def _stream(
        self,
        job: Job,
        plan: Plan,
        directives: Directives,
        render_one: Any,
        deliver: Deliver,
        entry: dict[str, Any],
        request_id: str,
    ) -> Response:
        """SSE whose headers wait for the first image (§4 gotcha 2)."""
        knobs = self.state.knobs
        truncate = knobs.truncate_stream or directives.truncate
        wanted = directives.extra.get("stream_error")
        error_code = stream_error_code(wanted) if wanted is not None else None

        async def frames() -> AsyncIterator[bytes]:
            for index, outcome in enumerate(plan.outcomes):
                if index:
                    await asyncio.sleep(knobs.partial_delay_s)
                yield await image_event(job, index, outcome, render_one, deliver)
                if error_code is not None:
                    yield stream_error_event(stream_error(error_code, request_id))
                    return
            if truncate:
                return
            yield completed_event(job, plan)
            yield DONE

        events = frames()
        first = await anext(events)
        return StreamingResponse(
            _tracked(first, events, entry),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )


def _plan(job: Job, directives: Directives, all_moderated: bool, request_id: str) -> Plan:
    extra = directives.extra
    try:
        moderated = frozenset(int(i) for i in extra.get("fail_images", "").split(",") if i)
        internal_at = int(extra["item_error"]) if "item_error" in extra else None
        fewer = int(extra["fewer"]) if "fewer" in extra else None
    except ValueError as exc:
        raise invalid("prompt", f"bad simulator directive argument: {exc}", request_id) from exc
    return Plan.make(
        job.max_images,
        moderated=moderated,
        internal_at=internal_at,
        fewer=fewer if job.sequential else None,
        all_moderated=all_moderated,
    )


async def _tracked(
    first: bytes, rest: AsyncIterator[bytes], entry: dict[str, Any]
) -> AsyncIterator[bytes]:
    """Relay the stream, noting in the log whether the client stayed to the end."""
    entry["stream"] = "open"
    try:
        yield first
        async for frame in rest:
            yield frame
        entry["stream"] = "finished"
    finally:
        if entry["stream"] != "finished":
            entry["stream"] = "client_closed"


async def _json_body(request: Request, request_id: str) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise invalid("body", "the request body is not valid JSON", request_id) from exc
    if not isinstance(body, dict):
        raise invalid("body", "the request body must be a JSON object", request_id)
    return body


def _xml_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer with the ModelArk envelope."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = f"The requested path {request.url.path} was not found. Request id: {new_request_id()}"
    kind = "NotFound" if status == 404 else "MethodNotAllowed"
    return SeedreamError(status, kind, message, type=kind).response()


def create_app(
    knobs: Knobs | None = None, *, api_key: str | None = None, url_ttl_s: float = DEFAULT_URL_TTL_S
) -> Starlette:
    """The Seedream simulator.

    With ``api_key`` set the Bearer token must match; with None any non-empty token passes.
    ``app.state.sim`` is the ``SimState``; ``app.state.files`` the url-mode store (its
    ``ttl_s`` can be changed in-process to test expiry).
    """
    state = SimState(knobs)
    files = FileStore(ttl_s=url_ttl_s)
    sim = _Simulator(state, api_key, files)
    app = Starlette(
        routes=[
            Route("/api/v3/images/generations", sim.generations, methods=["POST"]),
            Route(FILES_PATH + "/{name}", sim.file, methods=["GET"]),
            *admin_routes(state),
        ],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.sim = state
    app.state.files = files
    return app
