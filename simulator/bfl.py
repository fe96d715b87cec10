"""Black Forest Labs (FLUX) API simulator: submit, poll the cluster's ``polling_url``, download.

Speaks the wire format Black Forest Labs documents (our notes, 2026-10): ``POST /v1/<model>``
with ``x-key`` answers ``{id, polling_url, cost, input_mp, output_mp}``; ``GET <polling_url>``
answers a ``ResultResponse`` whose ``status`` moves from ``Pending`` through ``Generating`` to a
terminal status; ``Ready`` carries ``result.sample``, a signed URL on an unauthenticated delivery
route that expires. Base URL for an adapter: ``http://host:port/v1`` (``/bfl/v1`` in the combined
app).

To catch adapters that rebuild URLs instead of using them as given (§4), the tasks belong to a
cluster: ``polling_url`` is ``/<cluster>/v1/get_result?id=…`` on the *other* loopback alias
(``localhost`` for ``127.0.0.1`` and back), and the global ``/v1/get_result`` does not know them.
The delivery route refuses any request carrying ``x-key`` (403), like a signed blob URL must
never receive the API key.

Order of checks on submit: model (404) → auth (401) → JSON (422) → injected faults
(``knobs.fail_next``, ``[sim:…]`` directives) → validation (422) → active-task cap (429) →
credits (402) → answer (which ``[sim:reset]``, ``[sim:malformed]``, ``[sim:truncate]`` break).

Directives beyond the shared ones (``simulator.knobs``): ``[sim:queued]`` (show the unknown
status ``Queued`` instead of ``Pending``), ``[sim:error]``, ``[sim:failed]``, ``[sim:notfound]``
(terminal statuses), ``[sim:pollfail=503]`` or ``[sim:pollfail=503*3]`` (the next poll(s) answer
that HTTP status; ``[sim:pollfail=reset*2]`` drops the connection after the headers instead),
``[sim:http202]`` (polls answer HTTP 202 while in progress; ``[sim:http202=bare]`` with only
``{"id": …}``, no status, ``[sim:http202=empty]`` with no body), ``[sim:noid]`` (``polling_url``
without its ``id`` query). ``[sim:sleep=S]`` keeps the task ``Pending`` S
seconds; ``[sim:moderate]`` is ``Request Moderated``, ``[sim:moderate=output]`` ``Content
Moderated``; ``[sim:quota]`` is a 402.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.admin import admin_routes
from simulator.bfl_errors import (
    BflError,
    detail,
    for_status,
    insufficient_credits,
    item,
    not_authenticated,
    not_found,
    too_many_active_tasks,
    validation,
)
from simulator.bfl_rules import MODELS, SMALL_CAP_MODELS, Job, credits, reported_mp, summarise
from simulator.bfl_rules import validate as validate_job
from simulator.bfl_tasks import (
    HTTP202,
    IN_PROGRESS,
    POLL_RESET,
    BflKnobs,
    Task,
    TaskStore,
    as_bfl_knobs,
    http202_mode,
    outcome_for,
    parse_directives,
    poll_faults,
)
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import Directives, Knobs, SimState, strip_directives
from simulator.render import RenderCache, open_image

_ALIASES = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class BflSimState(SimState):
    """Knobs, request log and the tasks; ``reset`` forgets the tasks too."""

    def __init__(self, knobs: BflKnobs) -> None:
        super().__init__(knobs)
        self.bfl: BflKnobs = knobs
        self.tasks = TaskStore()

    def reset(self) -> None:
        super().reset()
        self.tasks.clear()


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _blob_error(status: int, code: str, message: str) -> Response:
    """The delivery host answers like a blob store ([INF]: Azure's XML error body)."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


class _Simulator:
    def __init__(self, state: BflSimState, api_key: str | None) -> None:
        self.state = state
        self.api_key = api_key
        self.renders = RenderCache()
        self.secret = secrets.token_bytes(16)

    # -- plumbing ------------------------------------------------------------------------------

    def _record(self, request: Request) -> dict[str, Any]:
        headers = {k: ("<redacted>" if k == "x-key" else v) for k, v in request.headers.items()}
        return self.state.log.record(
            request.method, request.url.path, headers, "req_" + secrets.token_hex(8)
        )

    def _authenticate(self, request: Request) -> str:
        key = request.headers.get("x-key", "").strip()
        if not key:
            raise not_authenticated()
        if self.api_key is not None and not secrets.compare_digest(key, self.api_key):
            raise not_authenticated()
        return key

    def _origin(self, request: Request, port_number: int | None = None) -> str:
        """Scheme, host (the other loopback alias when ``host_alias``), port (``port_number``
        when given, else the client's) and mount path."""
        url = request.url
        host = url.hostname or "127.0.0.1"
        if self.state.bfl.host_alias:
            host = _ALIASES.get(host, host)
        if ":" in host:
            host = f"[{host}]"
        port_number = port_number or url.port
        port = f":{port_number}" if port_number else ""
        return f"{url.scheme}://{host}{port}{request.scope.get('root_path', '')}"

    # -- submit --------------------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        entry = self._record(request)
        try:
            response = await self._submit(request, entry)
        except BflError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    async def _submit(self, request: Request, entry: dict[str, Any]) -> Response:
        model = request.path_params["model"]
        if model not in MODELS:
            raise not_found()
        key = self._authenticate(request)
        body = await _json_body(request)
        entry["body"] = summarise(body)
        prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else ""
        knobs = self.state.bfl
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, knobs.retry_after_s)
        directives = parse_directives(str(prompt))
        if directives.quota:
            raise insufficient_credits(knobs.credits or 0, 1)
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, knobs.retry_after_s)
        job = validate_job(model, body)
        self._check_cap(key, model)
        cost = self._charge(job)
        task = self._task(key, job, directives)
        self.state.tasks.add(task)
        answer = _json(self._submit_answer(request, task, cost, directives))
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        return truncated(bytes(answer.body)) if directives.truncate else answer

    def _check_cap(self, key: str, model: str) -> None:
        knobs = self.state.bfl
        retry = max(knobs.retry_after_s, 1.0)
        if model in SMALL_CAP_MODELS:
            limit = knobs.kontext_max_active_tasks
            if self.state.tasks.active(key, SMALL_CAP_MODELS) >= limit:
                raise too_many_active_tasks(limit, retry)
        if self.state.tasks.active(key) >= knobs.max_active_tasks:
            raise too_many_active_tasks(knobs.max_active_tasks, retry)

    def _charge(self, job: Job) -> float:
        cost = float(credits(job))
        knobs = self.state.bfl
        if knobs.credits is not None:
            if knobs.credits - cost < 0:
                raise insufficient_credits(knobs.credits, cost)
            knobs.credits -= cost
        return cost

    def _task(self, key: str, job: Job, directives: Directives) -> Task:
        knobs = self.state.bfl
        extra = directives.extra
        return Task(
            id=str(uuid.uuid4()),
            key=key,
            job=job,
            cluster=knobs.polling_cluster,
            outcome=outcome_for(job.prompt, directives, knobs),
            created=time.monotonic(),
            pending_s=knobs.latency_s if directives.sleep_s is None else directives.sleep_s,
            generating_s=knobs.generating_s,
            ttl_s=knobs.result_ttl_s,
            queued="queued" in extra or random.random() < knobs.unknown_status_rate,
            http202=http202_mode(extra),
            poll_faults=poll_faults(extra.get("pollfail")),
        )

    def _submit_answer(
        self, request: Request, task: Task, cost: float, directives: Directives
    ) -> dict[str, Any]:
        cluster = f"/{task.cluster}" if task.cluster else ""
        origin = self._origin(request, self.state.bfl.polling_port)
        polling_url = f"{origin}{cluster}/v1/get_result"
        if "noid" not in directives.extra:
            polling_url += f"?id={task.id}"
        answer: dict[str, Any] = {"id": task.id, "polling_url": polling_url}
        reported = self.state.bfl.report_cost
        answer["cost"] = cost if reported else None
        answer["input_mp"] = reported_mp(task.job.input_pixels) if reported else None
        answer["output_mp"] = reported_mp(task.job.width * task.job.height) if reported else None
        return answer

    # -- poll ----------------------------------------------------------------------------------

    async def poll_global(self, request: Request) -> Response:
        return self._poll(request, "")

    async def poll_cluster(self, request: Request) -> Response:
        return self._poll(request, request.path_params["cluster"])

    def _poll(self, request: Request, cluster: str) -> Response:
        entry = self._record(request)
        try:
            response = self._result(request, cluster)
        except BflError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    def _result(self, request: Request, cluster: str) -> Response:
        key = self._authenticate(request)
        task_id = request.query_params.get("id")
        if not task_id:
            raise validation([item("missing", ["query", "id"], "Field required", None)])
        task = self.state.tasks.get(task_id)
        if task is None or task.cluster != cluster or task.key != key:
            return _json(_result_body(task_id, "Task not found"))
        fault = self.state.tasks.take_poll_fault(task)
        if fault == POLL_RESET:
            return DroppedConnection()
        if fault is not None:
            raise for_status(fault, self.state.bfl.retry_after_s)
        now = time.monotonic()
        status = task.status(now)
        body = _result_body(task.id, status, progress=task.progress(now))
        if status == "Ready":
            body["result"] = self._result_payload(request, task)
        elif status in ("Request Moderated", "Content Moderated"):
            body["details"] = {"Moderation Reasons": list(task.reasons)}
        elif status in ("Error", "Failed"):
            body["details"] = {"error": "Internal error while generating the image"}
        if task.http202 is not None and status in IN_PROGRESS:
            return _accepted(task.http202, body)
        return _json(body)

    def _result_payload(self, request: Request, task: Task) -> dict[str, Any]:
        expires = datetime.fromtimestamp(
            time.time() - (time.monotonic() - task.finishes) + task.ttl_s, UTC
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
        ext = task.job.output_format
        sample = (
            f"{self._origin(request)}/delivery/results/{task.id}/sample.{ext}"
            f"?se={expires}&sig={self._sign(task.id)}"
        )
        started = time.time() - (time.monotonic() - task.created)
        duration = task.finishes - task.created
        return {
            "sample": sample,
            "prompt": strip_directives(task.job.prompt),
            "seed": task.job.seed if task.job.seed is not None else _seed(task.id),
            "start_time": round(started, 3),
            "end_time": round(started + duration, 3),
            "duration": round(duration, 3),
        }

    def _sign(self, task_id: str) -> str:
        return hmac.new(self.secret, task_id.encode(), hashlib.sha256).hexdigest()[:32]

    # -- delivery ------------------------------------------------------------------------------

    async def delivery(self, request: Request) -> Response:
        entry = self._record(request)
        response = await self._deliver(request)
        entry["status"] = response.status_code
        return response

    async def _deliver(self, request: Request) -> Response:
        if "x-key" in request.headers:
            return _blob_error(
                403, "AuthenticationFailed", "This signed URL must not carry an API key."
            )
        task = self.state.tasks.get(request.path_params["task_id"])
        sig = request.query_params.get("sig", "")
        if task is None or not hmac.compare_digest(sig, self._sign(task.id)):
            return _blob_error(403, "AuthenticationFailed", "Signature did not match.")
        now = time.monotonic()
        if task.status(now) != "Ready":
            return _blob_error(404, "BlobNotFound", "The specified blob does not exist.")
        if task.expired(now):
            return _blob_error(
                403, "AuthenticationFailed", "Signed expiry time has passed; the URL expired."
            )
        job = task.job
        base = next((i.data for i in job.inputs if i.data is not None), None)
        data = await self.renders.render(
            job.width,
            job.height,
            job.output_format,
            prompt=strip_directives(job.prompt),
            seed=_seed(task.id) if job.seed is None else job.seed,
            base=open_image(base) if base is not None else None,
            base_key=hashlib.blake2b(base, digest_size=16).hexdigest() if base else "",
        )
        return Response(data, media_type=_MIME[job.output_format])


def _accepted(mode: HTTP202, body: dict[str, Any]) -> Response:
    """A 202 poll answer: the full ``ResultResponse``, only its ``id``, or no body."""
    if mode == "empty":
        return Response(b"", status_code=202)
    return _json(body if mode == "full" else {"id": body["id"]}, 202)


def _result_body(task_id: str, status: str, progress: float | None = None) -> dict[str, Any]:
    return {
        "id": task_id,
        "status": status,
        "result": None,
        "progress": progress,
        "details": None,
        "preview": None,
    }


def _seed(task_id: str) -> int:
    return int(task_id.replace("-", "")[:8], 16)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        problem = item("json_invalid", ["body", exc.pos], "JSON decode error", {}, error=exc.msg)
        raise validation([problem]) from exc
    if not isinstance(body, dict):
        message = "Input should be a valid dictionary or object to extract fields from"
        raise validation([item("model_attributes_type", ["body"], message, body)])
    return body


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods: FastAPI's plain ``{"detail": …}``."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = "Method Not Allowed" if status == 405 else "Not Found"
    return detail(status, message).response()


def create_app(knobs: Knobs | None = None, *, api_key: str | None = None) -> Starlette:
    """The BFL simulator.

    Like the real API it wants ``x-key: <key>`` on submit and poll (401 ``Not authenticated``
    otherwise); with ``api_key`` set the key must match, with None any non-empty key passes.
    ``app.state.sim`` is the :class:`BflSimState` (``.knobs`` = ``.bfl``, ``.log``,
    ``.tasks``, ``.reset()``); ``/_sim/*`` exposes knobs and log over HTTP.
    """
    state = BflSimState(as_bfl_knobs(knobs))
    sim = _Simulator(state, api_key)
    app = Starlette(
        routes=[
            Route("/v1/get_result", sim.poll_global, methods=["GET"]),
            Route("/v1/{model}", sim.submit, methods=["POST"]),
            Route("/{cluster}/v1/get_result", sim.poll_cluster, methods=["GET"]),
            Route("/delivery/results/{task_id}/{filename}", sim.delivery, methods=["GET"]),
            *admin_routes(state),
        ],
        exception_handlers={404: _http_error, 405: _http_error},
    )
    app.state.sim = state
    return app
