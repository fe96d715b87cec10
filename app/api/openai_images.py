"""The OpenAI-compatible images API: a door for the OpenAI SDKs, on every catalog model.

``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart: ``image`` or
repeated ``image[]``, optional ``mask``), also under ``/api/v1``, in OpenAI's request, response,
streaming and error shapes, so ``OpenAI(base_url="http://gateway/v1")`` works unchanged.

Choices where OpenAI's API has no counterpart:

* ``model`` is a catalog id (``openai/gpt-image-1.5``) or a bare id (``gpt-image-1.5``) when
  exactly one catalog model has that slug or upstream id; several is a 400 naming them.
* ``quality`` ``standard``/``hd`` (dall-e) mean ``medium``/``high``; ``size: auto`` is the
  provider's default.
* ``response_format: url`` answers a ``data:`` URL in ``url`` (the gateway stores no images);
  ``b64_json`` (the default) answers base64.
* ``moderation``, ``input_fidelity``, ``complexity``, ``style`` and ``partial_images`` go to the
  endpoints whose passthrough allowlist has them (``style`` to Recraft V3's, whose styles are its
  own, not dall-e's ``vivid``/``natural``); any but ``partial_images`` on a model none of whose
  endpoints takes it is a 400, ``partial_images`` is simply unused there. A stream without
  ``partial_images`` asks for none, OpenAI's own default (each partial is ~100 billed tokens;
  the OpenRouter door's ``stream`` means "send partial images" and asks for two).
* OpenRouter's own fields (``aspect_ratio``, ``resolution``, ``seed``, ``provider``) are
  accepted too, so ``extra_body`` can reach routing and shapes the OpenAI API lacks.
* ``usage`` carries OpenAI's token counts plus ``cost`` (USD), the same figure the ledger
  records. With ``stream: true`` every model answers SSE; a model that cannot stream partial
  images sends keep-alive comments, then its ``*.completed`` event(s).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.datastructures import UploadFile
from starlette.responses import Response

from app.api.serving import Exchange, serve
from app.auth import Principal, authenticate
from app.catalog import Catalog
from app.errors import BadRequest, GatewayError, openai_error_body, openai_error_response
from app.generation import render
from app.generation.request import ImageGenerationRequest, ProviderPreferences
from app.generation.service import Note, Outcome, Partial
from app.state import AppState
from providers._media import extension_for, sniff_media_type, to_data_url
from providers.spec import ModelSpec

router = APIRouter()
Caller = Annotated[Principal, Depends(authenticate)]

QUALITY_ALIASES = {"standard": "medium", "hd": "high"}
PASSTHROUGH = ("moderation", "input_fidelity", "partial_images", "complexity", "style")
MAX_EDIT_IMAGES = 16


class OpenAIImageRequest(BaseModel):
    """The OpenAI images request fields (generations JSON, and edits' text parts)."""

    model_config = ConfigDict(extra="ignore")

    prompt: StrictStr = Field(max_length=32_000)
    model: StrictStr | None = None
    n: StrictInt | None = Field(default=None, ge=1, le=10)
    size: StrictStr | None = None
    quality: StrictStr | None = None
    response_format: Literal["url", "b64_json"] | None = None
    output_format: StrictStr | None = None
    output_compression: StrictInt | None = Field(default=None, ge=0, le=100)
    background: StrictStr | None = None
    moderation: StrictStr | None = None
    input_fidelity: StrictStr | None = None
    stream: StrictBool | None = None
    partial_images: StrictInt | None = Field(default=None, ge=0, le=3)
    user: StrictStr | None = None
    safety_identifier: StrictStr | None = None
    style: StrictStr | None = None
    complexity: StrictStr | None = None
    # OpenRouter fields, reachable through the SDKs' extra_body
    aspect_ratio: StrictStr | None = None
    resolution: StrictStr | None = None
    seed: StrictInt | None = None
    provider: ProviderPreferences | None = None


def resolve_model(name: str | None, catalog: Catalog) -> ModelSpec:
    """A catalog id, or a bare id that names exactly one model."""
    if not name:
        raise BadRequest("model is required (this gateway has no default model)", param="model")
    exact = catalog.get(name)
    if exact is not None:
        return exact
    matches = catalog.named(name)
    if len(matches) == 1:
        return matches[0]
    if matches:
        ids = [m.id for m in matches]
        raise BadRequest(
            f"model '{name}' is ambiguous: use one of {', '.join(ids)}", param="model", allowed=ids
        )
    raise GatewayError(
        404, f"The model '{name}' does not exist on this gateway", metadata={"param": "model"}
    )


def _options(req: OpenAIImageRequest, model: ModelSpec) -> dict[str, dict[str, Any] | None]:
    options = dict((req.provider.options if req.provider else None) or {})
    for key in PASSTHROUGH:
        value = getattr(req, key)
        if value is None:
            continue
        takers = [e for e in model.endpoints if key in e.passthrough]
        if not takers and key != "partial_images":
            raise BadRequest(f"{key} is not supported by {model.id}", param=key, allowed=[])
        for endpoint in takers:
            options[endpoint.provider_slug] = {
                **(options.get(endpoint.provider_slug) or {}),
                key: value,
            }
    if req.stream and req.partial_images is None:  # OpenAI's default: no partial images
        for endpoint in model.endpoints:
            if "partial_images" in endpoint.passthrough:
                mine = options.get(endpoint.provider_slug) or {}
                options[endpoint.provider_slug] = {"partial_images": 0, **mine}
    return options


def to_image_request(
    req: OpenAIImageRequest, catalog: Catalog, references: list[str], mask: str | None
) -> ImageGenerationRequest:
    """The internal request for an OpenAI images call (references as data URLs)."""
    model = resolve_model(req.model, catalog)
    provider = req.provider or ProviderPreferences()
    options = _options(req, model)
    if options:
        provider = provider.model_copy(update={"options": options})
    quality = QUALITY_ALIASES.get(req.quality or "", req.quality)
    fields: dict[str, Any] = {
        "model": model.id,
        "prompt": req.prompt,
        "n": req.n,
        "size": None if req.size in (None, "auto") else req.size,
        "quality": quality,
        "output_format": req.output_format,
        "output_compression": req.output_compression,
        "background": req.background,
        "stream": req.stream,
        "user": req.safety_identifier or req.user,
        "aspect_ratio": req.aspect_ratio,
        "resolution": req.resolution,
        "seed": req.seed,
        "provider": provider,
        "input_references": [{"type": "image_url", "image_url": {"url": url}} for url in references]
        or None,
        "mask": {"type": "image_url", "image_url": {"url": mask}} if mask else None,
    }
    return ImageGenerationRequest.model_validate(fields)


class OpenAIImages:
    """Renders outcomes in OpenAI's ImagesResponse and image streaming event shapes."""

    def __init__(self, *, edit: bool, requested: OpenAIImageRequest) -> None:
        self.route = "openai.edits" if edit else "openai.generations"
        # A partial image's event carries the request's shape (OpenAI's partial events have
        # size, quality and background, ``auto`` where the caller left them so); the completed
        # events carry what was made.
        quality = requested.quality or "auto"
        self.partial_shape = {
            "background": requested.background or "auto",
            "quality": QUALITY_ALIASES.get(quality, quality),
            "size": requested.size or "auto",
        }
        # OpenAI's SDKs wait up to 10 minutes and take a 200 as success: every failure keeps
        # its status here, however late (no whitespace keep-alive before a buffered answer)
        self.commits_early = False
        self.prefix = "image_edit" if edit else "image_generation"
        self.as_url = requested.response_format == "url"

    def error_response(self, err: GatewayError, headers: dict[str, str]) -> Response:
        return openai_error_response(err.status, err.message, err.metadata, headers)

    def late_error(self, err: GatewayError, ex: Exchange) -> bytes:
        return openai_error_body(err.status, err.message, err.metadata)

    @staticmethod
    def _usage(outcome: Outcome) -> dict[str, Any]:
        u = outcome.usage
        prompt = u.input_text_tokens + u.input_image_tokens
        completion = u.output_image_tokens + u.output_text_tokens
        return {
            "input_tokens": prompt,
            "input_tokens_details": {
                "text_tokens": u.input_text_tokens,
                "image_tokens": u.input_image_tokens,
            },
            "output_tokens": completion,
            "output_tokens_details": {
                "text_tokens": u.output_text_tokens,
                "image_tokens": u.output_image_tokens,
            },
            "total_tokens": prompt + completion,
            "cost": float(outcome.cost.total),  # imagegate extension: USD, as the ledger has it
        }

    @staticmethod
    def _shape(outcome: Outcome) -> dict[str, Any]:
        first = outcome.images[0]
        shape: dict[str, Any] = {"output_format": extension_for(first.media_type)}
        if shape["output_format"] == "jpg":
            shape["output_format"] = "jpeg"
        if first.width and first.height:
            shape["size"] = f"{first.width}x{first.height}"
        norm = outcome.normalized
        # OpenAI answers with the values it resolved (never ``auto``); an ``auto`` the request
        # left to the provider is not known here, so it is left out rather than echoed
        if norm.quality and norm.quality != "auto":
            shape["quality"] = norm.quality
        if norm.background and norm.background != "auto":
            shape["background"] = norm.background
        return shape

    def body(self, outcome: Outcome, ex: Exchange) -> render.Body:
        data = [
            {"url": to_data_url(i.b64, i.media_type)} if self.as_url else {"b64_json": i.b64}
            for i in outcome.images
        ]
        payload = {"created": ex.created, "data": data, **self._shape(outcome)}
        payload["usage"] = self._usage(outcome)
        return render.dumps(payload)

    def _event(self, kind: str, payload: dict[str, Any]) -> render.Body:
        name = f"{self.prefix}.{kind}"
        head = f"event: {name}\n".encode()
        frame = render.sse({"type": name, **payload})
        if isinstance(frame, bytes):
            return head + frame
        return [head + frame[0], *frame[1:]]

    def sse_keepalive(self) -> bytes:
        return render.KEEPALIVE

    def sse_progress(self, note: Note, ex: Exchange) -> bytes | None:
        return None

    def sse_partial(self, partial: Partial, ex: Exchange) -> render.Body | None:
        return self._event(
            "partial_image",
            {
                "b64_json": partial.b64,
                "partial_image_index": partial.index,
                "created_at": ex.created,
                "output_format": extension_for(partial.media_type).replace("jpg", "jpeg"),
                **self.partial_shape,
            },
        )

    def sse_outcome(self, outcome: Outcome, ex: Exchange) -> list[render.Body]:
        # the event's size, quality and background are required in OpenAI's SDKs ("auto" is
        # one of their values): what was resolved, else what the request said
        shape = {**self.partial_shape, **self._shape(outcome)}
        zero = {
            "input_tokens": 0,
            "input_tokens_details": {"text_tokens": 0, "image_tokens": 0},
            "output_tokens": 0,
            "total_tokens": 0,
        }
        frames: list[render.Body] = []
        last = len(outcome.images) - 1
        for i, image in enumerate(outcome.images):
            usage = self._usage(outcome) if i == last else zero
            payload = {"b64_json": image.b64, "created_at": ex.created, **shape, "usage": usage}
            frames.append(self._event("completed", payload))
        return frames

    def sse_error(self, err: GatewayError, ex: Exchange) -> bytes:
        return render.joined(
            render.sse(
                {
                    "type": "error",
                    **orjson.loads(openai_error_body(err.status, err.message, err.metadata)),
                }
            )
        )

    def sse_done(self) -> bytes:
        return render.DONE


async def _serve(
    request: Request,
    caller: Principal,
    req: OpenAIImageRequest,
    references: list[str],
    mask: str | None,
    *,
    edit: bool,
) -> Response:
    state: AppState = request.app.state.ig
    door = OpenAIImages(edit=edit, requested=req)
    try:
        internal = to_image_request(req, state.catalog, references, mask)
    except GatewayError as exc:
        return door.error_response(exc, exc.headers)
    except ValueError as exc:  # pydantic: a value of the wrong shape for the internal request
        return door.error_response(BadRequest(f"Invalid request: {exc}"), {})
    stream = bool(req.stream)
    return await serve(
        request, caller, internal, door, sse=lambda _: stream, upstream_stream=stream
    )


@router.post("/v1/images/generations")
@router.post("/api/v1/images/generations")
async def generations(body: OpenAIImageRequest, request: Request, caller: Caller) -> Response:
    return await _serve(request, caller, body, [], None, edit=False)


async def _file_data_url(upload: UploadFile, field: str) -> str:
    data = await upload.read()
    kind = sniff_media_type(data) or upload.content_type or "application/octet-stream"
    if not data:
        raise BadRequest(f"{field} is an empty file", param=field)
    return to_data_url(base64.b64encode(data).decode("ascii"), kind)


@router.post("/v1/images/edits")
@router.post("/api/v1/images/edits")
async def edits(request: Request, caller: Caller) -> Response:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest(
            f"Invalid Content-Type ({content_type or 'none'}): edits take multipart/form-data"
        )
    fields: dict[str, Any] = {}
    references: list[str] = []
    mask: str | None = None
    async with request.form(max_files=MAX_EDIT_IMAGES + 1, max_fields=100) as form:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name in ("image", "image[]"):
                    references.append(await _file_data_url(value, name))
                elif name == "mask":
                    mask = await _file_data_url(value, "mask")
                else:
                    raise BadRequest(f"unexpected file field '{name}'", param=name)
            elif "[" not in name:
                fields[name] = value
    if not references:
        raise BadRequest("image is required: send the image(s) to edit", param="image")
    try:
        req = OpenAIImageRequest.model_validate(_coerce_form(fields))
    except ValueError as exc:
        raise BadRequest(f"Invalid request: {exc}") from exc
    return await _serve(request, caller, req, references, mask, edit=True)


def _coerce_form(fields: dict[str, Any]) -> dict[str, Any]:
    """Multipart text parts as typed values (``"2"`` → 2, ``"true"`` → True)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("n", "output_compression", "partial_images", "seed") and str(value).isdigit():
            out[key] = int(value)
        elif key == "stream" and value in ("true", "false"):
            out[key] = value == "true"
        else:
            out[key] = value
    return out
