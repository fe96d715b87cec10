"""xAI (Grok Imagine) simulator: ``POST /v1/images/generations`` and ``POST /v1/images/edits``.

Speaks the REST wire format xAI documents (our notes, 2026-11): JSON bodies on both routes (an
edit carries ``image: {url, type}`` or ``images: [...]``), ``Authorization: Bearer`` with a bad
key answered **400** ``{code, error}``, axum's ``text/plain`` 415/400/422 for bodies that are not
JSON or do not deserialize, ``data[]`` items with ``b64_json`` (optionally a ``data:`` URI) or a
temporary ``url`` served by the simulator itself, ``mime_type``, ``respect_moderation`` and
``usage.cost_in_usd_ticks``. Base URL: ``http://host:port/v1``.

Order of checks for each request: auth (400) → content type (415) → JSON (400 text) →
deserialization (422 text) → injected faults (``knobs.fail_next``, then ``[sim:…]``) →
validation (404 model, 400 arguments and references) → input block → latency → answer.

Moderation is silent, as on xAI: an **input block** is by default a 200 with an empty ``data``
and a top-level ``block_reason`` (Choice: the field's real name and the block's status are
unknown, §2.3/§7; the wire switches ``input_block`` and ``block_reason_field`` give the other
plausible forms: no ``data`` at all, another field name, a 400 ``{code, error}``); an **output**
refusal is a 200 whose slots carry ``respect_moderation: false`` and no image, still billed
(Choice, after the reference's example). Directives beyond the shared ones:

==========================  ==================================================================
``[sim:block]``             input block (same as ``[sim:moderate]``)
``[sim:moderate=output]``   every slot ``respect_moderation: false``
``[sim:withhold=K]``        the last K slots (default 1) withheld, the others delivered
``[sim:b64=plain]``         ``b64_json`` without the ``data:`` prefix (``=datauri``: with it)
``[sim:noticks]``           no ``usage`` in the answer
==========================  ==================================================================
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.admin import admin_routes
from simulator.faults import DroppedConnection, malformed_json, truncated
from simulator.knobs import DirectiveError, Directives, Knobs, strip_directives
from simulator.render import ImageFormat, RenderCache, b64, open_image
from simulator.xai_errors import (
    PlainError,
    XaiError,
    for_status,
    incorrect_api_key,
    invalid_argument,
    no_credits,
    syntax_error,
    wrong_content_type,
)
from simulator.xai_rules import DEFAULT_MODEL, XaiJob, deserialize, validate
from simulator.xai_state import TempImages, XaiState, XaiWire, wire_routes

EXTRA_DIRECTIVES = frozenset({"block", "withhold", "b64", "noticks"})
BLOCK_REASON = "The prompt was blocked by input moderation."
IMAGE_PATH = "/xai-imgen"
_FORMATS: dict[str, ImageFormat] = {"jpeg": "jpeg", "png": "png", "webp": "webp"}


def log_body(obj: Any) -> Any:
    """The request body for the log, each reference's data URL replaced by a summary."""
    if not isinstance(obj, dict):
        return obj
    body = dict(obj)
    if isinstance(body.get("image"), dict):
        body["image"] = _summarise(body["image"])
    if isinstance(body.get("images"), list):
        body["images"] = [_summarise(ref) for ref in body["images"]]
    return body


def _summarise(ref: Any) -> Any:
    if not isinstance(ref, dict) or not isinstance(ref.get("url"), str):
        return ref
    url: str = ref["url"]
    if not url.startswith("data:"):
        return ref
    head, _, payload = url.partition(",")
    return {**ref, "url": {"data_url": head[5:], "base64_chars": len(payload)}}


class _Simulator:
    def __init__(self, state: XaiState, api_key: str | None) -> None:
        self.state = state
        self.api_key = api_key
        self.renders = RenderCache()
        self.images = TempImages()

    async def generations(self, request: Request) -> Response:
        return await self._handle(request, edit=False)

    async def edits(self, request: Request) -> Response:
        return await self._handle(request, edit=True)

    async def image(self, request: Request) -> Response:
        """A temporary result URL (not logged: it is not an API call)."""
        found = self.images.get(request.path_params["name"])
        if found is None:
            return Response(b"Not Found", status_code=404, media_type="text/plain")
        data, media_type = found
        return Response(data, media_type=media_type)

    async def _handle(self, request: Request, *, edit: bool) -> Response:
        entry = self.state.log.record(
            request.method, request.url.path, dict(request.headers), secrets.token_hex(8)
        )
        try:
            response = await self._process(request, entry, edit=edit)
        except XaiError as error:
            response = error.response(self.state.wire.code_style)
        except PlainError as error:
            response = error.response()
        entry["status"] = response.status_code
        return response

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise incorrect_api_key(token)
        if self.api_key is not None and token != self.api_key:
            raise incorrect_api_key(token)

    async def _fields(self, request: Request, entry: dict[str, Any], *, edit: bool) -> Any:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            raise wrong_content_type()
        raw = await request.body()
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise syntax_error(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
        entry["body"] = log_body(obj)
        return deserialize(raw.decode("utf-8", errors="replace"), obj, edit=edit)

    async def _process(self, request: Request, entry: dict[str, Any], *, edit: bool) -> Response:
        self._authenticate(request)
        fields = await self._fields(request, entry, edit=edit)
        knobs = self.state.knobs
        prompt: str = fields["prompt"]
        model = str(fields.get("model", DEFAULT_MODEL))
        fault = self.state.take_fault()
        if fault is not None:
            raise for_status(fault, model, knobs.retry_after_s)
        directives = _directives(prompt)
        if directives.quota:
            raise no_credits()
        if directives.fail_status is not None:
            raise for_status(directives.fail_status, model, knobs.retry_after_s)
        job = validate(fields, edit=edit)
        stage = directives.moderate or ("input" if "block" in directives.extra else None)
        if stage is None and any(w.lower() in prompt.lower() for w in knobs.moderate_words):
            stage = knobs.moderation_stage
        wire = XaiWire(**self.state.wire.as_dict())  # one request sees one set of switches
        if stage == "input":
            return _blocked(wire)
        await asyncio.sleep(knobs.latency_s if directives.sleep_s is None else directives.sleep_s)
        if directives.reset:
            return DroppedConnection()
        if directives.malformed:
            return malformed_json()
        withheld = job.n if stage == "output" else _withheld(directives, job.n)
        body = await self._images_body(request, job, wire, directives, withheld)
        response = _json(body)
        return truncated(bytes(response.body)) if directives.truncate else response

    async def _images_body(
        self,
        request: Request,
        job: XaiJob,
        wire: XaiWire,
        directives: Directives,
        withheld: int,
    ) -> dict[str, Any]:
        """``{created, data, usage}`` (§2.3); the last ``withheld`` slots carry no image."""
        fmt = _FORMATS[wire.image_format]
        media_type = f"image/{fmt}"
        delivered = job.n - withheld
        rendered = await asyncio.gather(*(self._render(job, fmt, i) for i in range(delivered)))
        prefixed = {"plain": False, "datauri": True}.get(
            directives.extra.get("b64", ""), wire.b64_data_uri
        )
        data: list[dict[str, Any]] = []
        for image in rendered:
            item: dict[str, Any] = {}
            if job.response_format == "url":
                item["url"] = self._url(request, image, media_type, wire.url_ttl_s)
            else:
                encoded = b64(image)
                item["b64_json"] = f"data:{media_type};base64,{encoded}" if prefixed else encoded
            data.append(item | {"revised_prompt": "", "respect_moderation": True})
        data += [{"revised_prompt": "", "respect_moderation": False} for _ in range(withheld)]
        if wire.send_mime_type:
            data = [item | {"mime_type": media_type} for item in data]
        body: dict[str, Any] = {"created": int(time.time())} if wire.send_created else {}
        body["data"] = data
        if "noticks" not in directives.extra:
            body["usage"] = {"cost_in_usd_ticks": job.ticks}
        return body

    async def _render(self, job: XaiJob, fmt: ImageFormat, index: int) -> bytes:
        base = job.references[0].data if job.references else None
        return await self.renders.render(
            job.width,
            job.height,
            fmt,
            prompt=strip_directives(job.prompt),
            seed=index,
            quality=90,
            base=open_image(base) if base is not None else None,
            base_key=hashlib.blake2b(base, digest_size=16).hexdigest() if base else "",
        )

    def _url(self, request: Request, image: bytes, media_type: str, ttl_s: float) -> str:
        name = self.images.put(image, media_type, ttl_s)
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return f"{str(request.base_url).rstrip('/')}{root}{IMAGE_PATH}/{name}"


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _blocked(wire: XaiWire) -> Response:
    """An input block in the form ``wire.input_block`` chooses (see :class:`XaiWire`)."""
    if wire.input_block == "error_400":
        raise invalid_argument(BLOCK_REASON)
    body: dict[str, Any] = {"created": int(time.time())} if wire.send_created else {}
    if wire.input_block == "empty_data":
        body["data"] = []
    if wire.block_reason_field:
        body[wire.block_reason_field] = BLOCK_REASON
    if wire.input_block == "empty_data":
        body["usage"] = {"cost_in_usd_ticks": 0}
    return _json(body)


def _directives(prompt: str) -> Directives:
    try:
        directives = Directives.parse(prompt, extra=EXTRA_DIRECTIVES)
    except DirectiveError as exc:
        raise invalid_argument(str(exc)) from exc
    b64_mode = directives.extra.get("b64")
    if b64_mode is not None and b64_mode not in ("plain", "datauri"):
        raise invalid_argument("[sim:b64=…] takes plain or datauri")
    for name in ("block", "noticks"):
        if directives.extra.get(name):
            raise invalid_argument(f"[sim:{name}] takes no argument")
    withhold = directives.extra.get("withhold")
    if withhold and not withhold.isdigit():
        raise invalid_argument("[sim:withhold=K] takes a count")
    return directives


def _withheld(directives: Directives, n: int) -> int:
    arg = directives.extra.get("withhold")
    if arg is None:
        return 0
    return min(n, int(arg) if arg else 1)


async def _bare_status(_: Request, exc: Exception) -> Response:
    """Unknown paths and methods: axum's default empty 404/405."""
    status = int(getattr(exc, "status_code", 404))
    return Response(b"", status_code=status)


def create_app(knobs: Knobs | None = None, *, api_key: str | None = None) -> Starlette:
    """The xAI simulator.

    It wants ``Authorization: Bearer <key>`` (400 "Incorrect API key provided" otherwise); with
    ``api_key`` set the key must match, with None any non-empty key passes.
    ``app.state.sim`` is the :class:`XaiState` (``.knobs``, ``.wire``, ``.log``, ``.reset()``);
    ``/_sim/*`` exposes the same over HTTP, ``/_sim/xai`` the wire switches.
    """
    state = XaiState(knobs)
    sim = _Simulator(state, api_key)
    app = Starlette(
        routes=[
            Route("/v1/images/generations", sim.generations, methods=["POST"]),
            Route("/v1/images/edits", sim.edits, methods=["POST"]),
            Route(IMAGE_PATH + "/{name}", sim.image, methods=["GET"]),
            *admin_routes(state),
            *wire_routes(state),
        ],
        exception_handlers={404: _bare_status, 405: _bare_status},
    )
    app.state.sim = state
    return app
