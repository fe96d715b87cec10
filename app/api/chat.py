"""``POST /api/v1/chat/completions``: image generation through chat completions (a door).

OpenRouter clients generate images with a chat request whose ``modalities`` include
``"image"``; the images come back in ``choices[0].message.images[]`` as data URLs. This door
translates such a request into the one internal request and renders the outcome as a chat
completion (or chunks). Choices where OpenRouter's documents are silent:

* **Prompt**: the text parts of the system/developer messages, then those of the *last* user
  message, joined by blank lines. Earlier user and assistant turns are not sent (image models
  here take one prompt). **References**: the image parts of the last user message.
* **image_config**: ``aspect_ratio`` and ``image_size`` (``0.5K`` = ``512``) map to the public
  fields, as do ``resolution``, ``size``, ``quality``, ``output_format``, ``background``,
  ``output_compression``, ``n`` and ``seed``; ``image_size: "1K"``, the documented default, is
  dropped for a model without tiers rather than refused. Recraft's ``rgb_colors`` and
  ``background_rgb_color`` become its ``controls``. Any other key is a provider passthrough key,
  forwarded to the endpoints whose allowlist (``allowed_passthrough_parameters``) has it, and
  a 400 when no endpoint of the model takes it. A top-level ``seed`` is used when
  ``image_config`` has none.
* **Streaming**: keep-alive comments while the image is made, then one chunk with
  ``delta.content`` and ``delta.images``, one with ``finish_reason: "stop"``, and a final usage
  chunk with ``choices: []``. Partial images of streaming models are never sent (a chat client
  would show them as final images).
* A request without the image modality, or for a model this gateway does not serve, gets a 4xx
  that says this gateway serves image generation.
* The door answers at ``/v1/chat/completions`` too, where an OpenAI SDK whose ``base_url`` is
  the OpenAI images API's (``http://host/v1``) sends its chat requests; there, as on every
  ``/v1`` route, errors are in OpenAI's shape and keep their status however late they come
  (no keep-alive bytes before a buffered answer; a stream still sends its comments).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.responses import Response

from app.api.serving import Exchange, serve
from app.auth import Principal, authenticate
from app.catalog import Catalog
from app.errors import (
    BadRequest,
    GatewayError,
    error_body,
    error_response,
    openai_error_body,
    openai_error_response,
)
from app.generation import render
from app.generation.request import (
    ImageGenerationRequest,
    ImageUrl,
    InputReference,
    ProviderPreferences,
)
from app.generation.service import Note, Outcome, Partial
from app.state import AppState
from providers._media import to_data_url

router = APIRouter()
Caller = Annotated[Principal, Depends(authenticate)]

PUBLIC_CONFIG_KEYS = (
    "aspect_ratio",
    "resolution",
    "size",
    "quality",
    "output_format",
    "background",
    "output_compression",
    "n",
    "seed",
)
M = TypeVar("M", bound=BaseModel)
# The SDKs type image_config values as string | number | list, so the Python SDK sends an
# integer as a float (`"n": 2.0`): a whole float is read as the integer it stands for.
INTEGER_CONFIG_KEYS = frozenset({"n", "seed", "output_compression"})
IMAGE_SIZES = {"0.5K": "512", "512": "512", "1K": "1K", "2K": "2K", "4K": "4K"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImagePart(_Lenient):
    type: Literal["image_url"]
    image_url: ImageUrl


class TextPart(_Lenient):
    type: Literal["text"]
    text: StrictStr


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | list[dict[str, Any]] | None = None


class ChatRequest(_Lenient):
    """The fields of a chat completion request this door reads; the rest is ignored."""

    model: StrictStr | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    modalities: list[StrictStr] | None = None
    image_config: dict[str, Any] | None = None
    provider: ProviderPreferences | None = None
    stream: StrictBool | None = None
    seed: StrictInt | None = None
    user: StrictStr | None = None
    session_id: StrictStr | None = Field(default=None, max_length=256)


def _parts(message: ChatMessage, index: int) -> tuple[list[str], list[InputReference]]:
    if message.content is None:
        return [], []
    if isinstance(message.content, str):
        return [message.content], []
    texts: list[str] = []
    images: list[InputReference] = []
    for j, raw in enumerate(message.content):
        kind = raw.get("type")
        where = f"messages.{index}.content.{j}"
        if kind == "text":
            texts.append(_validated(TextPart, raw, where).text)
        elif kind == "image_url":
            part = _validated(ImagePart, raw, where)
            images.append(InputReference(type="image_url", image_url=part.image_url))
        else:
            raise BadRequest(
                f"{where}: content part type {kind!r} is not supported; this gateway serves "
                "image generation and reads text and image_url parts",
                param=where,
                allowed=["text", "image_url"],
            )
    return texts, images


def _validated(model: type[M], raw: dict[str, Any], where: str) -> M:
    try:
        return model.model_validate(raw)
    except ValueError as exc:
        raise BadRequest(f"{where}: invalid content part ({exc})", param=where) from exc


def prompt_and_references(messages: list[ChatMessage]) -> tuple[str, list[InputReference]]:
    """System/developer text, then the last user message's text; its images as references."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
    if last_user is None:
        raise BadRequest("messages must contain a user message with the prompt", param="messages")
    texts: list[str] = []
    for i, message in enumerate(messages):
        if message.role in ("system", "developer"):
            texts += _parts(message, i)[0]
    user_texts, references = _parts(messages[last_user], last_user)
    prompt = "\n\n".join(t for t in [*texts, *user_texts] if t.strip())
    return prompt, references


def _whole(value: Any) -> Any:
    """``2.0`` → ``2``; anything else (``2.5``, a string, a bool) unchanged, for validation."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def _config_fields(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public request fields, passthrough keys) from ``image_config``."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in config.items():
        if key == "image_size":
            fields["resolution"] = (
                IMAGE_SIZES.get(value, value) if isinstance(value, str) else value
            )
        elif key in PUBLIC_CONFIG_KEYS:
            fields[key] = _whole(value) if key in INTEGER_CONFIG_KEYS else value
        else:
            extra[key] = value
    return fields, extra


def _recraft_colors(extra: dict[str, Any]) -> None:
    """OpenRouter's ``rgb_colors`` (``[[r,g,b], …]``) and ``background_rgb_color`` (``[r,g,b]``)
    as Recraft's own ``controls`` (``colors: [{rgb}]``, ``background_color: {rgb}``), the
    passthrough key its endpoints take; in place."""
    colors = extra.pop("rgb_colors", None)
    background = extra.pop("background_rgb_color", None)
    if colors is None and background is None:
        return
    controls = dict(extra.get("controls") or {}) if isinstance(extra.get("controls"), dict) else {}
    if colors is not None:
        if not isinstance(colors, list) or not colors or not all(_is_rgb(c) for c in colors):
            raise BadRequest(
                "image_config.rgb_colors must be a list of [r, g, b] triples (0-255)",
                param="image_config.rgb_colors",
            )
        controls["colors"] = [{"rgb": list(c)} for c in colors]
    if background is not None:
        if not _is_rgb(background):
            raise BadRequest(
                "image_config.background_rgb_color must be one [r, g, b] triple (0-255)",
                param="image_config.background_rgb_color",
            )
        controls["background_color"] = {"rgb": list(background)}
    extra["controls"] = controls


def _is_rgb(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
    )


def _passthrough_options(
    model_id: str, extra: dict[str, Any], catalog: Catalog
) -> dict[str, dict[str, Any]]:
    """Each passthrough key under the slugs of the endpoints that take it; 400 if none does."""
    model = catalog.get(model_id)
    if model is None or not extra:
        return {}
    options: dict[str, dict[str, Any]] = {}
    for key, value in extra.items():
        takers = [e for e in model.endpoints if key in e.passthrough]
        if not takers:
            allowed = [
                "aspect_ratio",
                "image_size",
                *PUBLIC_CONFIG_KEYS[1:],
                *sorted({k for e in model.endpoints for k in e.passthrough}),
            ]
            raise BadRequest(
                f"image_config.{key} is not a parameter of {model_id}; allowed: "
                + ", ".join(allowed),
                param=f"image_config.{key}",
                allowed=allowed,
            )
        for endpoint in takers:
            options.setdefault(endpoint.provider_slug, {})[key] = value
    return options


def to_image_request(chat: ChatRequest, catalog: Catalog) -> ImageGenerationRequest:
    """The internal request for a chat completion that asks for images."""
    if not chat.model:
        raise BadRequest("model is required (this gateway has no default model)", param="model")
    if catalog.get(chat.model) is None:
        raise GatewayError(
            404,
            f"Model '{chat.model}' not found: this gateway serves image generation models only "
            "(GET /api/v1/models lists them)",
            metadata={"param": "model"},
        )
    modalities = chat.modalities or []
    if "image" not in modalities:
        raise BadRequest(
            "This gateway serves image generation: ask for images with "
            '"modalities": ["image", "text"] (or ["image"])',
            param="modalities",
            allowed=[["image", "text"], ["image"]],
        )
    unsupported = [m for m in modalities if m not in ("image", "text")]
    if unsupported:
        raise BadRequest(
            f"modalities {unsupported} are not served by this gateway; allowed: image, text",
            param="modalities",
            allowed=["image", "text"],
        )
    prompt, references = prompt_and_references(chat.messages)
    fields, extra = _config_fields(chat.image_config or {})
    model = catalog.get(chat.model)
    if model is not None and any("controls" in e.passthrough for e in model.endpoints):
        _recraft_colors(extra)
    # ``image_size`` defaults to 1K (OpenRouter's image_config table): a client that sends the
    # default explicitly is served by a model without tiers too
    tiered = model is None or any("resolution" in e.parameters for e in model.endpoints)
    if fields.get("resolution") == "1K" and not tiered:
        del fields["resolution"]
    if "seed" not in fields and chat.seed is not None:
        fields["seed"] = chat.seed
    provider = chat.provider or ProviderPreferences()
    options = dict(provider.options or {})
    for slug, keys in _passthrough_options(chat.model, extra, catalog).items():
        options[slug] = {**(options.get(slug) or {}), **keys}
    if options:
        provider = provider.model_copy(update={"options": options})
    try:
        return ImageGenerationRequest.model_validate(
            {
                **fields,
                "model": chat.model,
                "prompt": prompt,
                "input_references": references or None,
                "provider": provider,
                "stream": chat.stream,
                "user": chat.user,
                "session_id": chat.session_id,
            }
        )
    except ValueError as exc:
        raise BadRequest(f"Invalid image_config: {exc}", param="image_config") from exc


class ChatCompletions:
    """Renders outcomes as chat completions and chat completion chunks."""

    route = "chat"

    def __init__(self, *, openai_errors: bool = False) -> None:
        # at /v1/chat/completions, the OpenAI SDKs' door: OpenAI's error shape, and (as on the
        # OpenAI images routes) no early commit, since those SDKs read any 200 as a success
        self.openai_errors = openai_errors
        self.commits_early = not openai_errors

    def error_response(self, err: GatewayError, headers: dict[str, str]) -> Response:
        render = openai_error_response if self.openai_errors else error_response
        return render(err.status, err.message, err.metadata, headers)

    def late_error(self, err: GatewayError, ex: Exchange) -> bytes:
        render = openai_error_body if self.openai_errors else error_body
        return render(err.status, err.message, err.metadata)

    @staticmethod
    def _images(outcome: Outcome) -> list[dict[str, Any]]:
        return [
            {"type": "image_url", "image_url": {"url": to_data_url(i.b64, i.media_type)}}
            for i in outcome.images
        ]

    @staticmethod
    def _usage(outcome: Outcome) -> dict[str, Any]:
        usage = render.usage_json(outcome)
        usage["completion_tokens_details"] = {
            "reasoning_tokens": 0,
            "image_tokens": outcome.usage.output_image_tokens,
        }
        return usage

    def body(self, outcome: Outcome, ex: Exchange) -> bytes:
        message = {
            "role": "assistant",
            "content": outcome.text,
            "refusal": None,
            "images": self._images(outcome),
        }
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "native_finish_reason": "stop",
            "logprobs": None,
            "message": message,
        }
        return orjson.dumps(
            {
                **self._head(ex, "chat.completion"),
                "system_fingerprint": None,  # required (nullable) in the SDKs' completion
                "provider": outcome.endpoint.provider_name,  # as OpenRouter's answers name it
                "choices": [choice],
                "usage": self._usage(outcome),
            }
        )

    @staticmethod
    def _head(ex: Exchange, kind: str) -> dict[str, Any]:
        return {"id": ex.generation_id, "object": kind, "created": ex.created, "model": ex.model}

    def _chunk(self, ex: Exchange, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        # No ``system_fingerprint`` in chunks: optional there, and @openrouter/sdk's chunk
        # schema takes a string or nothing (a null fails every chunk of the stream).
        chunk = {**self._head(ex, "chat.completion.chunk"), "choices": choices, **extra}
        return render.joined(render.sse(chunk))

    def sse_keepalive(self) -> bytes:
        return render.KEEPALIVE

    def sse_progress(self, note: Note, ex: Exchange) -> bytes | None:
        return None

    def sse_partial(self, partial: Partial, ex: Exchange) -> bytes | None:
        return None  # a chat client would show a partial as a final image

    def sse_outcome(self, outcome: Outcome, ex: Exchange) -> list[bytes]:
        delta = {"role": "assistant", "content": outcome.text, "images": self._images(outcome)}
        return [
            self._chunk(ex, [{"index": 0, "delta": delta, "finish_reason": None}]),
            self._chunk(
                ex,
                [
                    {
                        "index": 0,
                        "delta": {},
                        "finish_reason": "stop",
                        "native_finish_reason": "stop",
                    }
                ],
            ),
            self._chunk(
                ex, [], usage=self._usage(outcome), provider=outcome.endpoint.provider_name
            ),
        ]

    def sse_error(self, err: GatewayError, ex: Exchange) -> bytes:
        error = {
            "code": err.status,
            "message": err.message,
            "metadata": {**(err.metadata or {}), "error_type": _error_type(err.status)},
        }
        choice = {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}
        return self._chunk(ex, [choice], error=error)

    def sse_done(self) -> bytes:
        return render.DONE


def _error_type(status: int) -> str:
    """OpenRouter's ``ApiErrorType`` for a failure of this status."""
    return {
        400: "invalid_request",
        402: "payment_required",
        403: "content_policy_violation",
        404: "not_found",
        413: "payload_too_large",  # reference images over the limit, fetched after the commit
        422: "invalid_request",
        429: "rate_limit_exceeded",
        529: "provider_overloaded",
    }.get(status, "provider_unavailable")


@router.post("/api/v1/chat/completions")
@router.post("/v1/chat/completions")
async def chat_completions(body: ChatRequest, request: Request, caller: Caller) -> Response:
    state: AppState = request.app.state.ig
    door = ChatCompletions(openai_errors=request.url.path.startswith("/v1/"))
    try:
        internal = to_image_request(body, state.catalog)
    except GatewayError as exc:
        return door.error_response(exc, exc.headers)
    stream = bool(body.stream)
    return await serve(request, caller, internal, door, sse=lambda _: stream, upstream_stream=False)
