"""Recraft external API simulator (``https://external.api.recraft.ai``).

Routes (§1): ``POST /v1/images/generations`` (and its ``/vector`` and ``/raster`` variants),
``POST /v1/images/imageToImage``, ``POST /v1/images/vectorize``, ``GET /v1/users/me``,
``GET /v1/models``, ``GET /ping``, ``GET /status``, plus ``GET /img/<image_id>.<ext>``: the
stand-in for the image host (``img.recraft.ai``) that result URLs point at; it answers 403 to a
request carrying ``Authorization`` (the key must never reach the delivery host). Anything else is
the plain-text ``404 page not found`` of Go's ``net/http``. Base URL for clients:
``http://host:port/v1`` (mounted: ``http://host:port/recraft/v1``).

Order of checks for each API request: auth (401 text) → JSON body (400) → injected faults
(``knobs.fail_next``, then ``[sim:…]`` directives) → validation (404 text for an unknown model,
JSON 400s) → input moderation → latency → transport faults → output moderation → answer.

Provider-specific directives: ``[sim:expired]`` (every result URL is already gone; with
``=1`` only the first), ``[sim:foreign]`` (result URLs on a host that is not Recraft's) and
``[sim:credits=N]`` (report N API units charged instead of the price list's).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import replace
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.admin import admin_routes
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import DirectiveError, Directives, Knobs, SimState, strip_directives
from simulator.recraft_errors import (
    INVALID_JSON,
    INVALID_PARAMETER,
    RecraftError,
    bad_value,
    credentials_on_image_host,
    for_status,
    invalid,
    method_not_allowed,
    moderated,
    not_enough_credits,
    not_found,
    unauthorized,
)
from simulator.recraft_media import (
    SVG_TYPE,
    ImageStore,
    InputImage,
    log_body,
    read_input,
    render_svg,
)
from simulator.recraft_models import MODELS, VECTORIZE_UNITS
from simulator.recraft_rules import Job, check_strength, check_vectorize, nearest_size, validate
from simulator.recraft_rules import Route as ApiRoute
from simulator.render import RenderCache, b64, open_image

EXTRA_DIRECTIVES = frozenset({"expired", "foreign", "credits"})
FOREIGN_HOST = "https://cdn.example.net"
START_BALANCE = 1_000_000  # API units on the simulated account (GET /v1/users/me)
USER_ID = "6f1c7c5e-3b1f-4a8e-9d0e-5c2a7b9e4d10"


class _Simulator:
    def __init__(self, state: SimState, api_key: str | None) -> None:
        self.state = state
        self.api_key = api_key
        self.renders = RenderCache()
        self.store = ImageStore()
        self.spent = 0

    # --- routes ---------------------------------------------------------------------------

    async def generations(self, request: Request) -> Response:
        return await self._handle(request, "generations")

    async def vector(self, request: Request) -> Response:
        return await self._handle(request, "vector")

    async def raster(self, request: Request) -> Response:
        return await self._handle(request, "raster")

    async def image_to_image(self, request: Request) -> Response:
        return await self._handle(request, "image_to_image")

    async def vectorize(self, request: Request) -> Response:
        async def answer(fields: dict[str, Any]) -> Response:
            return await self._vectorize(request, fields)

        return await self._logged(request, answer)

    async def users_me(self, request: Request) -> Response:
        async def answer(_: dict[str, Any]) -> Response:
            return _json(
                {
                    "id": USER_ID,
                    "email": "simulator@recraft.invalid",
                    "name": "Recraft simulator",
                    "credits": START_BALANCE - self.spent,
                }
            )

        return await self._logged(request, answer, body=False)

    async def models(self, request: Request) -> Response:
        async def answer(_: dict[str, Any]) -> Response:
            return _json({"data": [_model_entry(m) for m in MODELS]})

        return await self._logged(request, answer, body=False)

    async def image_file(self, request: Request) -> Response:
        """The image host: public, no key needed (``img.recraft.ai`` URLs are signed links).

        A request carrying ``Authorization`` is refused with a 403: the key must never go to
        the delivery host, and this makes a client that sends it fail loudly."""
        entry = self.state.log.record(
            "GET", request.url.path, dict(request.headers), secrets.token_hex(8)
        )
        image_id, _, _ext = str(request.path_params["name"]).partition(".")
        stored = self.store.get(image_id)
        if "authorization" in request.headers:
            response = credentials_on_image_host().response()
        elif stored is None:
            response = not_found().response()
        else:
            response = Response(
                stored[0], media_type=stored[1], headers={"cache-control": "private"}
            )
        entry["status"] = response.status_code
        return response

    # --- request handling -----------------------------------------------------------------

    async def _logged(
        self,
        request: Request,
        answer: Any,
        *,
        body: bool = True,
    ) -> Response:
        """Log, authenticate, read the JSON body, answer; render ``RecraftError``s."""
        entry = self.state.log.record(
            request.method, request.url.path, dict(request.headers), secrets.token_hex(8)
        )
        try:
            self._authenticate(request)
            _check_billing(request)
            fields = await _json_body(request) if body else {}
            entry["body"] = log_body(fields) if body else None
            response: Response = await answer(fields)
        except RecraftError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    async def _handle(self, request: Request, route: ApiRoute) -> Response:
        async def answer(fields: dict[str, Any]) -> Response:
            return await self._generate(request, fields, route)

        return await self._logged(request, answer)

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        if self.api_key is not None and not secrets.compare_digest(token, self.api_key):
            raise unauthorized()

    def _faults(self, prompt: str) -> Directives:
        """Injected failures, in order: ``fail_next``, then the prompt's directives."""
        knobs = self.state.knobs
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, knobs.retry_after_s)
        try:
            directives = Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
        except DirectiveError as exc:
            raise invalid(INVALID_PARAMETER, str(exc)) from exc
        if directives.quota:
            raise not_enough_credits(40, 0)
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, knobs.retry_after_s)
        return directives

    async def _generate(
        self, request: Request, fields: dict[str, Any], route: ApiRoute
    ) -> Response:
        prompt = fields.get("prompt")
        directives = self._faults(prompt if isinstance(prompt, str) else "")
        job = validate(fields, route)
        source: InputImage | None = None
        if route == "image_to_image":
            check_strength(fields)
            source = read_input(fields.get("image_url"), self.store)
            width, height = nearest_size(job.model, source.width, source.height)
            job = replace(job, width=width, height=height)
        credits = _credits(directives, job.units * job.n)
        knobs = self.state.knobs
        stage = directives.moderate
        if stage is None and any(w.lower() in job.prompt.lower() for w in knobs.moderate_words):
            stage = knobs.moderation_stage
        if stage == "input":
            raise moderated("input")
        await asyncio.sleep(knobs.latency_s if directives.sleep_s is None else directives.sleep_s)
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        if stage == "output":
            raise moderated("output")
        files = await self._render(job, source)
        items = [self._item(request, job, data, i, directives) for i, data in enumerate(files)]
        self.spent += credits
        body: dict[str, Any] = {"created": int(time.time()), "credits": credits, "data": items}
        if job.style_id is not None:
            body["style_id"] = job.style_id
        return _answer(body, directives)

    async def _render(self, job: Job, source: InputImage | None) -> list[bytes]:
        prompt = strip_directives(job.prompt)
        if job.vector:
            return [
                render_svg(job.width, job.height, prompt=prompt, seed=job.seed + i)
                for i in range(job.n)
            ]
        base = open_image(source.data) if source is not None else None
        base_key = hashlib.sha256(source.data).hexdigest() if source is not None else ""
        return list(
            await asyncio.gather(
                *(
                    self.renders.render(
                        job.width,
                        job.height,
                        job.image_format,
                        prompt=prompt,
                        seed=job.seed + i,
                        base=base,
                        base_key=base_key,
                    )
                    for i in range(job.n)
                )
            )
        )

    def _item(
        self, request: Request, job: Job, data: bytes, index: int, directives: Directives
    ) -> dict[str, Any]:
        """One ``data[]`` entry: ``image_id`` plus ``url`` (served by us) or ``b64_json``."""
        image_id = str(uuid.uuid4())
        item: dict[str, Any] = {"image_id": image_id}
        if job.response_format == "b64_json":
            item["b64_json"] = b64(data)
        else:
            item["url"] = self._publish(request, image_id, data, job, index, directives)
        if job.features:
            item["features"] = {"nsfw_score": 0.02}
        return item

    def _publish(
        self,
        request: Request,
        image_id: str,
        data: bytes,
        job: Job,
        index: int,
        directives: Directives,
    ) -> str:
        ext = "svg" if job.vector else job.image_format
        expired = directives.extra.get("expired")
        if expired is None or (expired not in ("", "all") and index + 1 != _int(expired)):
            self.store.put(image_id, data, SVG_TYPE if job.vector else f"image/{ext}")
        if "foreign" in directives.extra:
            return f"{FOREIGN_HOST}/img/{image_id}.{ext}"
        return f"{_host_base(request)}/img/{image_id}.{ext}"

    async def _vectorize(self, request: Request, fields: dict[str, Any]) -> Response:
        """``POST /v1/images/vectorize``: raster in, SVG out, singular ``image`` (§3)."""
        response_format = check_vectorize(fields)
        source = read_input(fields.get("image_url"), self.store)
        data = render_svg(source.width, source.height, prompt="vectorized", seed=0)
        image_id = str(uuid.uuid4())
        image: dict[str, Any] = {"image_id": image_id}
        if response_format == "b64_json":
            image["b64_json"] = b64(data)
        else:
            self.store.put(image_id, data, SVG_TYPE)
            image["url"] = f"{_host_base(request)}/img/{image_id}.svg"
        self.spent += VECTORIZE_UNITS
        return _json({"created": int(time.time()), "credits": VECTORIZE_UNITS, "image": image})


def _host_base(request: Request) -> str:
    """Where this app is reachable, mount prefix included (``request.base_url`` drops it)."""
    url = request.url
    return f"{url.scheme}://{url.netloc}{request.scope.get('root_path', '')}".rstrip("/")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def _credits(directives: Directives, default: int) -> int:
    raw = directives.extra.get("credits")
    if raw is None:
        return default
    value = _int(raw)
    if value < 0:
        raise invalid(INVALID_PARAMETER, f"[sim:credits={raw}] needs a whole number of units")
    return value


def _answer(body: dict[str, Any], directives: Directives) -> Response:
    encoded = orjson.dumps(body)
    if directives.truncate:
        return truncated(encoded)
    return Response(encoded, media_type="application/json")


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _model_entry(model_id: str) -> dict[str, Any]:
    rules = MODELS[model_id]
    return {
        "id": model_id,
        "name": model_id,
        "created": 1_730_000_000,
        "input_modalities": ["text", "image"] if rules.image_to_image else ["text"],
        "output_modalities": ["image"],
        "pricing": {"image": str(rules.units / 1000)},
    }


def _check_billing(request: Request) -> None:
    billing = request.query_params.get("billing")
    if billing is not None and billing not in ("api", "subscription"):
        raise bad_value("billing", billing, "api | subscription")


async def _json_body(request: Request) -> dict[str, Any]:
    """JSON only: the simulator does not take the multipart form of the API (our choice)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        raise invalid(INVALID_JSON, "expected Content-Type: application/json")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise invalid(INVALID_JSON, f"invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise invalid(INVALID_JSON, "the JSON body must be an object")
    return body


async def _ping(_: Request) -> Response:
    return Response(b"", status_code=200)


async def _status(_: Request) -> Response:
    return _json({"service": True, "generation": True})


async def _http_error(_: Request, exc: Exception) -> Response:
    """Go ``net/http`` answers: plain-text 404 for unknown paths, 405 for wrong methods."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return (method_not_allowed() if status == 405 else not_found()).response()


def create_app(knobs: Knobs | None = None, *, api_key: str | None = None) -> Starlette:
    """The Recraft simulator.

    Wants ``Authorization: Bearer <token>``; with ``api_key`` set the token must match, with
    None any non-empty token passes. ``app.state.sim`` is the ``SimState``; ``/_sim/*`` exposes
    it over HTTP (see ``simulator.admin``); ``app.state.recraft`` is the simulator itself.
    """
    state = SimState(knobs)
    sim = _Simulator(state, api_key)
    app = Starlette(
        routes=[
            Route("/v1/images/generations", sim.generations, methods=["POST"]),
            Route("/v1/images/generations/vector", sim.vector, methods=["POST"]),
            Route("/v1/images/generations/raster", sim.raster, methods=["POST"]),
            Route("/v1/images/imageToImage", sim.image_to_image, methods=["POST"]),
            Route("/v1/images/vectorize", sim.vectorize, methods=["POST"]),
            Route("/v1/users/me", sim.users_me, methods=["GET"]),
            Route("/v1/models", sim.models, methods=["GET"]),
            Route("/ping", _ping, methods=["GET"]),
            Route("/status", _status, methods=["GET"]),
            Route("/img/{name}", sim.image_file, methods=["GET"]),
            *admin_routes(state),
        ],
        exception_handlers={404: _http_error, 405: _http_error},
    )
    app.state.sim = state
    app.state.recraft = sim
    return app
