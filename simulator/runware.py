"""Runware task API simulator, serving Sourceful's Riverflow models: ``POST /v1``.

Speaks the wire format Runware documents (our notes, 2026-11: transport and auth, the
``imageInference`` task, results, errors, ``imageUpload``) and answers with real images.
Base URL for an adapter: ``http://host:port/v1`` (``/runware/v1`` in the combined app).

Each request: parse the JSON array (an object or junk is a 400 ``invalidPayload``) → auth
(``Authorization: Bearer`` or a leading ``authentication`` task; 401 ``invalidApiKey``) →
injected faults (``knobs.fail_next``, then whole-request ``[sim:…]`` directives, then the
balance) → every task on its own (validation, moderation, per-task faults) → latency (scaled by
``thinkingLevel``) → one body holding ``data`` and/or ``errors``. The status is 200 when any task
produced data or every error is a provider-side one (``timeoutProvider``); otherwise the first
error's status (400 validation, 402 credits, …).

Directives, besides the shared ones (see ``simulator.knobs``):

* ``[sim:taskfail]`` / ``[sim:taskfail=N]`` / ``[sim:taskfail=all]``: the first N (or every)
  ``imageInference`` task fails with ``timeoutProvider`` inside a 200, the others succeed;
* ``[sim:prestream]``: error answers use the pre-stream envelope
  ``{"error": {…}, "taskUUID", "taskType"}`` instead of ``{"errors": […]}``;
* ``[sim:strict]``: unknown task keys are rejected (as the ``strict`` config switch does).

``[sim:moderate]`` (or a ``knobs.moderate_words`` word) refuses each task with a 400
``contentPolicyViolation``; ``[sim:moderate=output]`` flags results with ``NSFWContent: true`` when
``safety.checkContent`` was asked, else fails the task with ``providerContentPolicyViolation``.
``[sim:quota]`` is a 402 ``insufficientCredits``; ``[sim:429]`` a 429 ``rateLimitExceeded`` (no
``Retry-After``: Runware documents none); ``[sim:5xx]`` a plain-text body.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.admin import admin_routes
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import DirectiveError, Directives, Knobs, strip_directives
from simulator.render import RenderCache
from simulator.runware_errors import (
    RunwareHTTPError,
    TaskError,
    content_policy,
    for_status,
    insufficient_credits,
    invalid_api_key,
    invalid_payload,
    timeout_provider,
)
from simulator.runware_images import MEDIA_TYPES, decode_image, summarise
from simulator.runware_models import THINKING_LATENCY
from simulator.runware_results import processing_item, render_items, upload_item
from simulator.runware_state import AsyncJob, RunwareConfig, RunwareState, config_routes
from simulator.runware_tasks import InferenceJob, validate_inference

EXTRA_DIRECTIVES = frozenset({"taskfail", "prestream", "strict"})
IMAGE_ROUTE = "runware_image"


@dataclass
class _Plan:
    """The ``[sim:…]`` directives of every ``imageInference`` task of one request."""

    per_task: dict[int, Directives | DirectiveError] = field(default_factory=dict)
    merged: Directives = field(default_factory=Directives)

    @classmethod
    def of(cls, tasks: list[Any]) -> _Plan:
        plan = cls()
        found: dict[str, Any] = {}
        extra: dict[str, str] = {}
        for i, task in enumerate(tasks):
            prompt = task.get("positivePrompt") if isinstance(task, dict) else None
            if not isinstance(prompt, str):
                continue
            try:
                directives = Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
            except DirectiveError as exc:
                plan.per_task[i] = exc
                continue
            plan.per_task[i] = directives
            found.update({k: v for k, v in vars(directives).items() if v and k != "extra"})
            extra.update(directives.extra)
        plan.merged = Directives(**found, extra=extra)
        return plan

    @property
    def prestream(self) -> bool:
        return "prestream" in self.merged.extra


class _Simulator:
    def __init__(self, state: RunwareState, api_key: str | None) -> None:
        self.state = state
        self.api_key = api_key
        self.renders = RenderCache()

    async def api(self, request: Request) -> Response:
        entry = self.state.log.record(
            request.method, request.url.path, dict(request.headers), str(uuid.uuid4())
        )
        raw = await request.body()
        try:
            body: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        entry["body"] = summarise(body) if body is not None else {"unparsed_bytes": len(raw)}
        plan = _Plan.of(body if isinstance(body, list) else [])
        try:
            response = await self._process(request, body, plan)
        except RunwareHTTPError as error:
            response = error.response(prestream=plan.prestream)
        entry["status"] = response.status_code
        return response

    def _authenticate(self, request: Request, body: Any) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key: object = token.strip() if scheme.lower() == "bearer" else None
        leading = body[0] if isinstance(body, list) and body else None
        if not key and isinstance(leading, dict) and leading.get("taskType") == "authentication":
            key = leading.get("apiKey")
        if not isinstance(key, str) or not key:
            raise invalid_api_key()
        if self.api_key is not None and not secrets.compare_digest(key, self.api_key):
            raise invalid_api_key()

    async def _process(self, request: Request, body: Any, plan: _Plan) -> Response:
        self._authenticate(request, body)
        if not isinstance(body, list) or not body or not all(isinstance(t, dict) for t in body):
            raise invalid_payload("The request body must be a non-empty JSON array of tasks.")
        first = next((t.get("taskUUID") for t in body if isinstance(t.get("taskUUID"), str)), None)
        directives = plan.merged
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, first)
        if directives.quota or self.state.out_of_credit():
            raise insufficient_credits(first)
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, first)
        outcomes = [self._task(request, i, task, plan) for i, task in enumerate(body)]
        await _wait(self._latency(outcomes, directives))
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        data, errors = await self._collect(request, outcomes, plan)
        response = _answer(data, errors, prestream=plan.prestream)
        return truncated(bytes(response.body)) if directives.truncate else response

    def _task(self, request: Request, index: int, task: dict[str, Any], plan: _Plan) -> Any:
        """A pending job, ready items, None (an auth task), or the task's TaskError."""
        kind = task.get("taskType")
        task_uuid = task.get("taskUUID") if isinstance(task.get("taskUUID"), str) else None
        try:
            if kind == "authentication" and index == 0:
                return None
            if kind == "imageInference":
                return self._inference(index, task, plan)
            if kind == "getResponse":
                return self._poll(task_uuid)
            if kind == "imageUpload":
                return self._upload(request, task, task_uuid)
            raise TaskError(
                "invalidParameter",
                f"Unsupported taskType '{kind}'.",
                parameter="taskType",
                task_type=kind if isinstance(kind, str) else None,
                task_uuid=task_uuid,
            )
        except TaskError as error:
            return error

    def _inference(self, index: int, task: dict[str, Any], plan: _Plan) -> _Pending:
        directives = plan.per_task.get(index, Directives())
        if isinstance(directives, DirectiveError):
            raise TaskError(
                "invalidPositivePrompt",
                str(directives),
                parameter="positivePrompt",
                task_uuid=task.get("taskUUID") if isinstance(task.get("taskUUID"), str) else None,
            )
        strict = self.state.config.strict or "strict" in directives.extra
        job = validate_inference(task, strict=strict, lookup=self.state.images.data)
        knobs = self.state.knobs
        stage = directives.moderate
        if stage is None and any(w.lower() in job.prompt.lower() for w in knobs.moderate_words):
            stage = knobs.moderation_stage
        if stage == "input":
            raise content_policy(job.task_uuid)
        return _Pending(job, stage == "output", _fails(index, plan))

    def _poll(self, task_uuid: str | None) -> list[dict[str, Any]]:
        job = self.state.jobs.get(task_uuid or "")
        if job is None:
            raise TaskError(
                "taskFailedOrNotFound",
                "The task failed or was not found.",
                parameter="taskUUID",
                task_type="getResponse",
                task_uuid=task_uuid,
            )
        if job.polls_left > 0:
            job.polls_left -= 1
            job.polls += 1
            total = job.polls + job.polls_left + 1
            return [processing_item(task_uuid or "", 100 * job.polls // total)]
        if job.error is not None:
            raise job.error
        return [{**item, "status": "success"} for item in job.items]

    def _upload(self, request: Request, task: dict[str, Any], task_uuid: str | None) -> list[Any]:
        image = task.get("image")
        try:
            decoded = decode_image(image if isinstance(image, str) else "", self.state.images.data)
        except ValueError as exc:
            raise TaskError(
                "invalidParameter",
                f"Invalid image: {exc}.",
                parameter="image",
                task_type="imageUpload",
                task_uuid=task_uuid,
            ) from exc
        if decoded.data is None:  # [INF] the simulator cannot fetch URLs
            raise TaskError(
                "invalidParameter",
                "The simulator cannot fetch image URLs.",
                parameter="image",
                task_type="imageUpload",
                task_uuid=task_uuid,
            )
        image_uuid = str(uuid.uuid4())
        media_type = decoded.media_type or "image/png"
        self.state.images.put(image_uuid, decoded.data, media_type)
        ext = {v: k for k, v in MEDIA_TYPES.items()}.get(media_type, "png")
        url = str(request.url_for(IMAGE_ROUTE, name=f"{image_uuid}.{ext}"))
        return [upload_item(task_uuid or "", image_uuid, url)]

    def _latency(self, outcomes: list[Any], directives: Directives) -> float:
        jobs = [o.job for o in outcomes if isinstance(o, _Pending) and not o.job.asynchronous]
        if directives.sleep_s is not None:
            return directives.sleep_s
        if not jobs:
            return 0.0
        factor = max(THINKING_LATENCY.get(j.thinking or "medium", 1.0) for j in jobs)
        return self.state.knobs.latency_s * factor

    async def _collect(
        self, request: Request, outcomes: list[Any], plan: _Plan
    ) -> tuple[list[dict[str, Any]], list[TaskError]]:
        data: list[dict[str, Any]] = []
        errors: list[TaskError] = []
        for outcome in outcomes:
            if isinstance(outcome, TaskError):
                errors.append(outcome)
            elif isinstance(outcome, list):
                data.extend(outcome)
            elif isinstance(outcome, _Pending):
                items, error = await self._run(request, outcome)
                if outcome.job.asynchronous:
                    self.state.jobs[outcome.job.task_uuid] = AsyncJob(
                        items, error, polls_left=self.state.config.async_polls
                    )
                    data.append({"taskType": "imageInference", "taskUUID": outcome.job.task_uuid})
                elif error is not None:
                    errors.append(error)
                else:
                    data.extend(items)
        return data, errors

    async def _run(
        self, request: Request, pending: _Pending
    ) -> tuple[list[dict[str, Any]], TaskError | None]:
        job = pending.job
        if pending.fail:
            return [], timeout_provider(job.task_uuid)
        if pending.flag_output and not job.check_content:
            return [], content_policy(job.task_uuid, provider=True)
        items = await render_items(
            job,
            prompt=strip_directives(job.prompt),
            cache=self.renders,
            store=self.state.images,
            url_for=lambda name: str(request.url_for(IMAGE_ROUTE, name=name)),
            nsfw=pending.flag_output,
        )
        self.state.charge(job.unit_cost * len(items))
        return items, None

    async def image(self, request: Request) -> Response:
        """``GET /image/ws/0.5/ii/<uuid>.<ext>``: a stored result, public like Runware's CDN."""
        name: str = request.path_params["name"]
        found = self.state.images.get(name.rpartition(".")[0].lower())
        if found is None:
            return Response("Not Found", 404, media_type="text/plain")
        data, media_type = found
        return Response(data, media_type=media_type)


async def _wait(seconds: float) -> None:
    """The simulated latency; a module-level seam so tests can record it instead of waiting."""
    await asyncio.sleep(seconds)


@dataclass
class _Pending:
    """A validated inference task waiting to be rendered."""

    job: InferenceJob
    flag_output: bool  # output-stage moderation
    fail: bool  # [sim:taskfail] picked this task


def _fails(index: int, plan: _Plan) -> bool:
    """Is the inference task at ``index`` among the first N that ``[sim:taskfail]`` fails?"""
    arg = plan.merged.extra.get("taskfail")
    if arg is None:
        return False
    if arg == "all":
        return True
    count = int(arg) if arg.isdigit() else 1
    inference = [i for i, d in plan.per_task.items() if isinstance(d, Directives)]
    return index in sorted(inference)[:count]


def _answer(data: list[dict[str, Any]], errors: list[TaskError], *, prestream: bool) -> Response:
    """``{"data": […], "errors": […]}``; 200 unless nothing succeeded and an error has a status."""
    statuses = [e.status for e in errors if e.status is not None]
    if not data and statuses:
        return RunwareHTTPError(statuses[0], errors).response(prestream=prestream)
    body: dict[str, Any] = {"data": data}
    if errors:
        body["errors"] = [e.item() for e in errors]
    return Response(orjson.dumps(body), media_type="application/json")


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    error = TaskError(
        "notFound" if status == 404 else "methodNotAllowed",
        f"{request.method} {request.url.path} is not an API endpoint.",
        task_type=None,
        status=status,
    )
    return RunwareHTTPError(status, [error]).response()


def create_app(
    knobs: Knobs | None = None, *, api_key: str | None = None, config: RunwareConfig | None = None
) -> Starlette:
    """The Runware simulator.

    With ``api_key`` set the key must match; with None any non-empty key passes.
    ``app.state.sim`` is the :class:`RunwareState` (knobs, log, config, balance, images, jobs);
    ``/_sim/*`` and ``/_sim/runware`` expose the same over HTTP.
    """
    state = RunwareState(knobs, config)
    sim = _Simulator(state, api_key)
    app = Starlette(
        routes=[
            Route("/v1", sim.api, methods=["POST"]),
            Route("/image/ws/0.5/ii/{name}", sim.image, methods=["GET"], name=IMAGE_ROUTE),
            *admin_routes(state),
            *config_routes(state),
        ],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.sim = state
    return app
