"""Microsoft MAI image models on Azure AI Foundry: a simulator of ``/mai/v1/images/*``.

Speaks the wire format Microsoft documents for Azure AI Foundry (our notes, 2026-11): ``POST
/mai/v1/images/generations`` (JSON) and ``POST /mai/v1/images/edits`` (multipart), ``api-key``
or ``Authorization: Bearer`` auth, the ``model`` field naming a *deployment*, Azure's
``{"error": {"code", "message"}}`` envelopes, and answers holding exactly one real PNG with
``created``/``model``/``size``/``usage``. Base URL for a client:
``http://host:port/mai/v1`` (the real one is ``https://<resource>.services.ai.azure.com/mai/v1``);
an ``?api-version=…`` query is accepted and ignored.

Order of checks for each request: auth (401) → body parsing (400) → deployment (404) →
per-deployment rate limit (429) → injected faults (``knobs.fail_next``, then ``[sim:…]``
directives) → edit support and inputs (400) → validation (400) → input content filter (400) →
latency → answer (200; an output-filtered answer is ``data: [{}]``).

Provider-specific directives: ``[sim:abuse]`` (403 resource blocked) and
``[sim:filter=<category>]`` (input content filter on ``hate``, ``sexual``, ``violence``,
``self_harm`` or ``jailbreak``). Settings beyond the shared knobs (deployments, strictness,
rate limit, usage shape) are :class:`~simulator.azure_mai_rules.MaiConfig`, at
``app.state.sim.config`` and ``GET/POST /_sim/mai``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.admin import admin_routes
from simulator.azure_mai_errors import (
    FILTER_CATEGORIES,
    MaiError,
    bad_request_body,
    content_filtered,
    deployment_not_found,
    edits_unsupported,
    for_status,
    missing_field,
    rate_limited,
    resource_blocked,
    resource_not_found,
    unauthorized,
    wrong_type,
)
from simulator.azure_mai_inputs import (
    EditInputs,
    ParsedRequest,
    check_edit_inputs,
    parse_edit,
    parse_generation,
)
from simulator.azure_mai_rules import MODELS, Job, MaiConfig, RateWindow, usage_fields, validate
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import DirectiveError, Directives, Knobs, SimState, strip_directives
from simulator.render import RenderCache, b64

EXTRA_DIRECTIVES = frozenset({"abuse", "filter"})
QUOTA_RETRY_S = 60.0  # [sim:quota]: a tier-0 deployment (quota 0) is refused every minute
DEFAULT_FILTER_CATEGORY = "violence"


class MaiState(SimState):
    """Knobs, request log, MAI settings and rate-limit windows of one simulator app."""

    def __init__(self, knobs: Knobs | None = None, config: MaiConfig | None = None) -> None:
        super().__init__(knobs)
        self.config = config if config is not None else MaiConfig()
        self._initial_config = self.config.as_dict()
        self.windows = RateWindow()

    def reset(self) -> None:
        """Knobs and settings back to their creation values; log and rate windows emptied."""
        super().reset()
        self.config.update(dict(self._initial_config))
        self.windows.clear()


class _AzureHeaders:
    """Adds ``apim-request-id`` (and ``x-request-id``, same value) and ``x-ms-region``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["apim-request-id"] = request_id
                headers["x-request-id"] = request_id
                headers["x-ms-region"] = "East US"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Simulator:
    def __init__(self, state: MaiState, api_key: str | None, token: str | None) -> None:
        self.state = state
        self.api_key = api_key
        self.token = token
        self.renders = RenderCache()

    async def generations(self, request: Request) -> Response:
        return await self._handle(request, edit=False)

    async def edits(self, request: Request) -> Response:
        return await self._handle(request, edit=True)

    async def _handle(self, request: Request, *, edit: bool) -> Response:
        headers = dict(request.headers)
        if "api-key" in headers:
            headers["api-key"] = "<redacted>"
        entry = self.state.log.record(
            request.method, request.url.path, headers, request.state.request_id
        )
        entry["query"] = dict(request.query_params)
        try:
            entry["auth"] = self._authenticate(request)
            response = await self._process(request, entry, edit=edit)
        except MaiError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    def _authenticate(self, request: Request) -> str:
        """``api-key`` wins when present; else a bearer token (Entra ID). 401 otherwise."""
        key = request.headers.get("api-key")
        if key is not None:
            if key and (self.api_key is None or secrets.compare_digest(key, self.api_key)):
                return "api-key"
            raise unauthorized()
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            if self.token is not None and secrets.compare_digest(token, self.token):
                return "bearer"
            if self.token is None and self.api_key is None:
                return "bearer"
        raise unauthorized()

    async def _process(self, request: Request, entry: dict[str, Any], *, edit: bool) -> Response:
        parsed = await (parse_edit(request) if edit else parse_generation(request))
        entry["body"] = parsed.log_body
        cfg, knobs = self.state.config, self.state.knobs
        deployment = _deployment(parsed, cfg)
        wait = self.state.windows.admit(deployment, cfg.rpm)
        if wait is not None:
            raise rate_limited(wait)
        prompt = parsed.fields.get("prompt")
        prompt = prompt if isinstance(prompt, str) else ""
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, knobs.retry_after_s)
        directives = _directives(prompt)
        _injected(directives, knobs.retry_after_s)

        model = cfg.deployments[deployment]
        inputs: EditInputs | None = None
        if edit:
            if not MODELS[model].edits:
                raise edits_unsupported(model)
            inputs = check_edit_inputs(parsed, cfg.max_edit_images, cfg.strict_keys)
        job = validate(
            parsed.fields, deployment, cfg, first_image=inputs.sizes[0] if inputs else None
        )
        stage = _moderation_stage(directives, prompt, knobs)
        if stage == "input":
            raise content_filtered(directives.extra.get("filter") or DEFAULT_FILTER_CATEGORY)
        await asyncio.sleep(knobs.latency_s if directives.sleep_s is None else directives.sleep_s)
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        if stage == "output":
            return _json({"created": int(time.time()), "data": [{}]})
        body = await self._success(job, inputs)
        return truncated(body) if directives.truncate else _raw_json(body)

    async def _success(self, job: Job, inputs: EditInputs | None) -> bytes:
        """The §5 body: one PNG at the job's size, ``size`` and ``usage`` to match."""
        image = await self.renders.render(
            job.width,
            job.height,
            "png",
            prompt=strip_directives(job.prompt),
            base=inputs.base if inputs else None,
            base_key=inputs.base_key if inputs else "",
        )
        body: dict[str, Any] = {
            "created": int(time.time()),
            "model": job.model,
            "size": f"{job.width}x{job.height}",
            **usage_fields(job, inputs.sizes if inputs else [], self.state.config),
            "data": [{"b64_json": b64(image)}],
        }
        return orjson.dumps(body)


def _deployment(parsed: ParsedRequest, cfg: MaiConfig) -> str:
    name = parsed.fields.get("model")
    if name is None or name == "":
        raise missing_field("model")
    if not isinstance(name, str):
        raise wrong_type("model", "a string")
    if name not in cfg.deployments:
        raise deployment_not_found()
    return name


def _directives(prompt: str) -> Directives:
    try:
        directives = Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
    except DirectiveError as exc:
        raise bad_request_body(str(exc)) from exc
    category = directives.extra.get("filter")
    if category is not None and category not in FILTER_CATEGORIES:
        raise bad_request_body(
            f"[sim:filter={category}]: category must be one of {list(FILTER_CATEGORIES)}"
        )
    return directives


def _injected(directives: Directives, retry_after_s: float) -> None:
    """Faults a prompt asks for that come before any validation."""
    if directives.quota:
        raise rate_limited(QUOTA_RETRY_S)
    if directives.fail_status is not None:
        raise for_status(directives.fail_status, retry_after_s)
    if "abuse" in directives.extra:
        raise resource_blocked()


def _moderation_stage(directives: Directives, prompt: str, knobs: Knobs) -> str | None:
    if "filter" in directives.extra:
        return "input"
    if directives.moderate is not None:
        return directives.moderate
    lowered = prompt.lower()
    if any(word.lower() in lowered for word in knobs.moderate_words):
        return knobs.moderation_stage
    return None


def _json(payload: Any, status: int = 200) -> Response:
    return _raw_json(orjson.dumps(payload), status)


def _raw_json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def config_routes(state: MaiState) -> list[Route]:
    """``GET /_sim/mai`` → settings; ``POST /_sim/mai`` with a JSON object changes them."""

    async def get_config(_: Request) -> Response:
        return _json(state.config.as_dict())

    async def set_config(request: Request) -> Response:
        try:
            changes = orjson.loads(await request.body())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of settings")
            state.config.update(changes)
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            return _json({"error": str(exc)}, status=400)
        return _json(state.config.as_dict())

    return [
        Route("/_sim/mai", get_config, methods=["GET"]),
        Route("/_sim/mai", set_config, methods=["POST"]),
    ]


async def _not_found(_: Request, __: Exception) -> Response:
    """Unknown paths and methods answer with Azure's 404 envelope."""
    return resource_not_found().response()


def create_app(
    knobs: Knobs | None = None,
    *,
    api_key: str | None = None,
    token: str | None = None,
    config: MaiConfig | None = None,
) -> Starlette:
    """The MAI simulator.

    Auth: an ``api-key`` header must equal ``api_key`` (any non-empty key when None); a
    bearer token must equal ``token`` (any non-empty token when both are None). ``config``
    sets the deployments and switches; by default every base model is deployed under its own
    name (``MAI-Image-2.5`` …). ``app.state.sim`` is the :class:`MaiState`.
    """
    state = MaiState(knobs, config)
    sim = _Simulator(state, api_key, token)
    app = Starlette(
        routes=[
            Route("/mai/v1/images/generations", sim.generations, methods=["POST"]),
            Route("/mai/v1/images/edits", sim.edits, methods=["POST"]),
            *admin_routes(state),
            *config_routes(state),
        ],
        middleware=[Middleware(_AzureHeaders)],
        exception_handlers={404: _not_found, 405: _not_found},
    )
    app.state.sim = state
    return app
