"""Pure mapping between :class:`GenerateCall` and the OpenAI Images API wire format.

No I/O, no ``await``, no httpx: requests come out as :class:`UpstreamRequest` values, responses,
stream payloads go in as bytes/str; error bodies become exceptions in
:mod:`providers.openai.errors`. Generations, edits, responses and streams as OpenAI's Images
API reference describes them (our notes, compiled 2026-11).

Choices made here where the reference describes the wire but not what a gateway should do:

* drops ``input_fidelity`` from generations with a warning (§3.1: an edits-only field; the
  generations body of §2.1 has no such field, and unknown fields are a 400, §6);
* sends an edit carrying ``moderation`` in the JSON form of §3.3 (references as ``data:`` URLs),
  the only edit form that takes it (§3.1); every other edit is multipart, as the SDK sends;
* bills an answer without ``usage`` (a thin OpenAI-compatible server, or a stream whose
  ``completed`` events lack it) by the catalog's token budget for its quality and size, with a
  warning (§8.3: bill from ``usage`` when present; §8.2 gives the per-image counts), rather
  than at zero tokens;
* answers a stream that ends after fewer than ``n`` ``*.completed`` events with the images that
  did complete and a warning, as a short buffered answer is (§5.1: only an EOF before any
  ``completed`` is an upstream error; the count of events for ``n > 1`` is unverified, §11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError

from providers._http import (
    FLOW_MARK,
    LARGE_JSON_BYTES,
    form_fields,
    lift_b64,
    lift_b64_pieces,
    lifted,
    load_json,
)
from providers._media import (
    b64_image_dimensions,
    encode_data_url,
    extension_for,
    image_dimensions,
    media_type_for_format,
    parse_size,
    sniff_b64_media_type,
)
from providers.errors import InvalidRequest, ProtocolError
from providers.openai.errors import error_from_detail
from providers.openai.wire import (
    ErrorEnvelope,
    ImagesResponse,
    ImageUsage,
    StreamEvent,
)
from providers.spec import (
    B64Flow,
    B64Pieces,
    B64Text,
    Completed,
    GenerateCall,
    GeneratedImage,
    InputImage,
    PartialImage,
    Usage,
)

GENERATIONS_PATH = "/images/generations"
EDITS_PATH = "/images/edits"
MAX_INPUT_IMAGES = 16  # §3.1
# Partial renders asked for when the caller streams without choosing; each costs ~100 tokens.
DEFAULT_PARTIAL_IMAGES = 2
# The values OpenAI takes for the passthrough options (§2.1); anything else is its 400, so the
# gateway says so before sending (and before billing a call that cannot succeed).
_OPTION_VALUES: dict[str, tuple[object, ...]] = {
    "partial_images": (0, 1, 2, 3),
    "moderation": ("low", "auto"),
    "complexity": ("low", "medium", "high"),
}
# Never forwarded from caller options: dall-e-only, rejected by GPT image models (§9.2).
# An operator may still pin them for an OpenAI-compatible server via ``endpoint.fixed``.
FORBIDDEN_OPTIONS = frozenset({"response_format", "style"})
# Set by the adapter itself; an option must not override them.
RESERVED_OPTIONS = frozenset(
    {"model", "prompt", "n", "stream", "image", "image[]", "images", "mask"}
)
# Edits-only parameters (§3.1 table): the generations body (§2.1) has no such field, and OpenAI
# answers a field it does not know with 400 ``unknown_parameter`` (§6). Without input images
# they mean nothing, so they are dropped (with a warning when the caller asked for them).
EDIT_ONLY_PARAMS = frozenset({"input_fidelity"})
# Only the JSON form of edits (§3.3) takes these; the SDK's multipart edit params do not (§3.1).
JSON_EDIT_ONLY_PARAMS = frozenset({"moderation"})
_COMPRESSIBLE = frozenset({"jpeg", "webp"})

FileField = tuple[str, tuple[str, bytes, str]]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One ``POST {base_url}{path}``: a JSON body, or multipart ``data`` + ``files``.

    ``warnings`` are for the caller (what was not sent, and why); the adapter puts them on the
    :class:`Completed`.
    """

    path: str
    json: dict[str, Any] | None = None
    data: dict[str, str | list[str]] | None = None
    files: tuple[FileField, ...] = ()
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def build_request(call: GenerateCall) -> UpstreamRequest:
    """Generations (JSON) when there are no input images, else edits: multipart, or the JSON
    form when the edit carries a parameter only that form takes (``moderation``)."""
    params = build_params(call)
    if not call.input_images:
        warnings = drop_edit_only(params, call)
        return UpstreamRequest(path=GENERATIONS_PATH, json=params, warnings=warnings)
    if len(call.input_images) > MAX_INPUT_IMAGES:
        raise InvalidRequest(
            f"OpenAI accepts at most {MAX_INPUT_IMAGES} input images, got {len(call.input_images)}",
            code="too_many_images",
        )
    if JSON_EDIT_ONLY_PARAMS & params.keys():
        return UpstreamRequest(path=EDITS_PATH, json=json_edit_body(params, call))
    files = image_files(call.input_images)
    if call.mask is not None:
        mask = call.mask
        files += (("mask", (f"mask.{extension_for(mask.media_type)}", mask.data, mask.media_type)),)
    return UpstreamRequest(path=EDITS_PATH, data=form_fields(params), files=files)


def build_params(call: GenerateCall) -> dict[str, Any]:
    """The request parameters, in the SDK's order (model, prompt, then the rest).

    Precedence, lowest first: caller ``options`` (already allowlisted by the gateway), the
    call's first-class fields, then the endpoint's operator-``fixed`` parameters.
    ``partial_images`` is sent only with ``stream`` (upstream rejects it otherwise; a buffered
    answer carries the same final image). ``seed``/``aspect_ratio``/``resolution`` have no
    OpenAI parameter and are never sent.
    """
    forbidden = sorted((FORBIDDEN_OPTIONS | RESERVED_OPTIONS) & call.options.keys())
    if forbidden:
        raise InvalidRequest(
            f"option(s) {', '.join(forbidden)} cannot be passed to OpenAI image models",
            code="unsupported_parameter",
        )
    for key, allowed in _OPTION_VALUES.items():
        value = call.options.get(key)
        if value is not None and (type(value) is bool or value not in allowed):
            slug = call.endpoint.provider_slug
            raise InvalidRequest(
                f"provider.options.{slug}.{key} must be one of {', '.join(map(str, allowed))}",
                code="invalid_value",
            )
    params: dict[str, Any] = {"model": call.endpoint.upstream_model, "prompt": call.prompt}
    params.update((k, v) for k, v in call.options.items() if v is not None)
    params.pop("partial_images", None)  # only meaningful with stream, re-added below
    params["n"] = call.n
    fields: dict[str, Any] = {
        "size": wire_size(call),
        "quality": call.quality,
        "background": call.background,
        "output_format": call.output_format,
        "safety_identifier": call.user,  # `user` is deprecated in its favour (§2.1)
    }
    if call.output_format in _COMPRESSIBLE:
        fields["output_compression"] = call.output_compression
    params.update((k, v) for k, v in fields.items() if v is not None)
    if call.stream:
        partials = call.options.get("partial_images")
        params["stream"] = True
        params["partial_images"] = DEFAULT_PARTIAL_IMAGES if partials is None else partials
    params.update(call.endpoint.fixed)
    return params


def drop_edit_only(params: dict[str, Any], call: GenerateCall) -> tuple[str, ...]:
    """Remove the edits-only parameters from a generation's ``params``; a warning for each
    the caller asked for (one an operator pinned in ``endpoint.fixed`` goes silently)."""
    dropped = sorted(EDIT_ONLY_PARAMS & params.keys())
    for key in dropped:
        del params[key]
    return tuple(
        f"{key} ignored: OpenAI takes it only on edits (a request with input images)"
        for key in dropped
        if call.options.get(key) is not None
    )


def json_edit_body(params: dict[str, Any], call: GenerateCall) -> dict[str, Any]:
    """The JSON form of an edit (§3.3): ``images: [{image_url}]`` and ``mask: {image_url}``,
    as ``data:`` URLs (the gateway has no public URL or Files API id for the references);
    every other parameter as in the multipart form, with JSON types."""
    body: dict[str, Any] = {"model": params["model"], "prompt": params["prompt"]}
    body["images"] = [
        {"image_url": encode_data_url(img.data, img.media_type)} for img in call.input_images
    ]
    if call.mask is not None:
        body["mask"] = {"image_url": encode_data_url(call.mask.data, call.mask.media_type)}
    body.update((k, v) for k, v in params.items() if k not in ("images", "mask"))
    return body


def wire_size(call: GenerateCall) -> str | None:
    """``size_wire`` when the endpoint has fixed sizes, else ``WxH``, else omitted (auto)."""
    if call.size_wire:
        return call.size_wire
    if call.width and call.height:
        return f"{call.width}x{call.height}"
    return None


def image_files(images: tuple[InputImage, ...]) -> tuple[FileField, ...]:
    """``image`` for a single reference, repeated ``image[]`` for several (§3.1)."""
    name = "image" if len(images) == 1 else "image[]"
    return tuple(
        (name, (f"image_{i}.{extension_for(img.media_type)}", img.data, img.media_type))
        for i, img in enumerate(images)
    )


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def parse_images_response(
    body: bytes | list[bytes],
    call: GenerateCall,
    *,
    provider: str = "openai",
    upstream_id: str | None = None,
    secrets: tuple[str, ...] = (),
    warnings: tuple[str, ...] = (),
) -> Completed:
    """A 2xx ``ImagesResponse`` body (or the buffers it arrived in) → :class:`Completed`
    (base64 relayed untouched). ``warnings`` (the request's) come first on it."""
    protocol = partial(ProtocolError, provider=provider, upstream_request_id=upstream_id)
    obj, blobs = _parse(body, what="images response", provider=provider)
    try:
        if isinstance(obj, dict) and obj.get("error"):  # compatible servers: 200 + error body
            detail = ErrorEnvelope.model_validate(obj).error
            raise error_from_detail(
                detail,
                None,
                provider=provider,
                secrets=secrets,
                upstream_request_id=upstream_id,
                model=call.endpoint.upstream_model,
            )
        response = ImagesResponse.model_validate(obj)
    except ValidationError as exc:
        raise protocol(f"unexpected images response shape: {exc.error_count()} error(s)") from exc
    images = []
    for item in response.data or []:
        b64 = lifted(item.b64_json, blobs)
        if b64 is None:
            raise protocol(
                "upstream returned an image URL instead of b64_json; pin "
                "response_format=b64_json in the endpoint's fixed parameters"
            )
        images.append(make_image(b64, response.output_format, response.size, call))
    if not images:
        raise protocol("upstream returned no images")
    if len(images) < call.n:
        warnings += (f"upstream returned {len(images)} of {call.n} requested images",)
    tokens = token_usage(response.usage)
    if response.usage is None:
        tokens, note = estimated_usage(images, response.quality, call)
        warnings += note
    usage = tokens + output_usage(images, call)
    return Completed(images=tuple(images), usage=usage, upstream_id=upstream_id, warnings=warnings)


def _parse(
    body: bytes | str | list[bytes], *, what: str, provider: str
) -> tuple[Any, list[bytes] | list[B64Pieces]]:
    """The JSON document, with large base64 images lifted out (never re-parsed or
    re-serialized: relayed as they came); from a body in buffers, as those buffers."""
    if isinstance(body, list):
        if sum(len(c) for c in body) >= LARGE_JSON_BYTES:
            pieces = lift_b64_pieces(body, "b64_json")
            if pieces is not None:
                return pieces
        body = b"".join(body)
    if len(body) >= LARGE_JSON_BYTES:
        found = lift_b64(body.encode() if isinstance(body, str) else body, "b64_json")
        if found is not None:
            return found
    return load_json(body, what=what, provider=provider), []


def make_image(
    b64: B64Text, output_format: str | None, size: str | None, call: GenerateCall
) -> GeneratedImage:
    """Size from the resolved ``WxH``, else from the image header (``auto`` says nothing)."""
    media_type = image_media_type(b64, output_format, call)
    dims = parse_size(size) or b64_image_dimensions(b64)
    width, height = dims if dims is not None else (None, None)
    return GeneratedImage(b64=b64, media_type=media_type, width=width, height=height)


def image_media_type(b64: B64Text, output_format: str | None, call: GenerateCall) -> str:
    """Resolved format, else magic bytes, else the requested format, else PNG."""
    return (
        media_type_for_format(output_format)
        or sniff_b64_media_type(b64)
        or media_type_for_format(call.output_format)
        or "image/png"
    )


def token_usage(usage: ImageUsage | None) -> Usage:
    """Token facts. Without ``*_details`` OpenAI-compatible servers are read as all-text input
    and all-image output, which is what GPT image models bill."""
    if usage is None:
        return Usage()
    if usage.input_tokens_details is not None:
        text_in = usage.input_tokens_details.text_tokens
        image_in = usage.input_tokens_details.image_tokens
    else:
        text_in, image_in = usage.input_tokens, 0
    if usage.output_tokens_details is not None:
        image_out = usage.output_tokens_details.image_tokens
        text_out = usage.output_tokens_details.text_tokens
    else:
        image_out, text_out = usage.output_tokens, 0
    return Usage(
        input_text_tokens=text_in,
        input_image_tokens=image_in,
        output_image_tokens=image_out,
        output_text_tokens=text_out,
    )


def estimated_usage(
    images: list[GeneratedImage], quality: str | None, call: GenerateCall, partials: int = 0
) -> tuple[Usage, tuple[str, ...]]:
    """Output tokens for an answer without ``usage`` (§8.3: bill from ``usage`` *when present*;
    else the published per-image counts, §8.2): the catalog's token budget for the resolved
    quality (else the requested one; ``auto`` takes the unconditioned, highest budget), per
    image and per megapixel of the image returned, plus its tokens per partial image. Without a
    budget nothing can be estimated and the answer is left unpriced, as before."""
    if not any(line.unit == "token" for line in call.endpoint.pricing):
        # Priced per image (an operator's endpoint that took a catalog model's budgets):
        # tokens bill nothing, so an estimate would only be a misleading warning.
        return Usage(), ()
    quality = quality if quality and quality != "auto" else call.quality
    budget = call.endpoint.token_budget({"quality": quality})
    if budget is None:
        return Usage(), ()
    out = budget.partial_image_tokens * partials
    for image in images:
        out += budget.image_tokens((image.width or 0) * (image.height or 0))
    note = (
        f"upstream reported no usage; {out} output image tokens estimated from the catalog's "
        "published per-image counts",
    )
    return Usage(output_image_tokens=out), note


def output_usage(images: list[GeneratedImage], call: GenerateCall) -> Usage:
    """Counts and pixels of what came back, and of the references that went up."""
    input_pixels = 0
    for ref in call.input_images:
        dims = image_dimensions(ref.data)
        if dims is not None:
            input_pixels += dims[0] * dims[1]
    return Usage(
        images=len(images),
        pixels=sum((img.width or 0) * (img.height or 0) for img in images),
        input_images=len(call.input_images),
        input_pixels=input_pixels,
    )


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


# The start of a partial-image event, up to its b64_json value (``type`` comes first, §5.1).
_PARTIAL_START = re.compile(
    rb'^data: ?\{\s*"type"\s*:\s*"image_(?:generation|edit)\.partial_image"'
)


def is_partial_start(line: bytes) -> bool:
    """Whether an event line cut before its ``b64_json`` value is a partial image's."""
    return _PARTIAL_START.match(line) is not None


class StreamAccumulator:
    """Folds the SSE ``data:`` payloads of one streaming call into events.

    ``feed`` returns a :class:`PartialImage` for each ``*.partial_image``, collects each
    ``*.completed`` (image + usage, summed over events) and raises for an ``error`` payload —
    as the SDK does, any payload with a truthy ``error`` key. Unknown types are skipped.
    ``finish`` raises :class:`ProtocolError` when no image completed (§5.1: EOF before any
    ``completed`` is an upstream error); with some but fewer than ``n`` it answers those, with a
    warning, billed by the usage their events carried: how many ``completed`` events OpenAI
    sends for ``n > 1`` is unverified (§5.2, §11), and the images that came are made and billed.
    """

    def __init__(
        self,
        call: GenerateCall,
        *,
        provider: str = "openai",
        upstream_id: str | None = None,
        secrets: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        self._call = call
        self._provider = provider
        self._upstream_id = upstream_id
        self._secrets = secrets
        self._warnings = warnings
        self._images: list[GeneratedImage] = []
        self._tokens = Usage()
        self._usage_seen = False  # any completed event carried ``usage`` (required, §5.2)
        self._quality: str | None = None
        self._partials = 0
        self._flowing = False  # a partial relayed cut-through whose event is not complete yet

    @property
    def done(self) -> bool:
        """All ``n`` images have completed: no need to read further."""
        return len(self._images) >= self._call.n

    def flowing(self, flow: B64Flow) -> PartialImage:
        """A partial image whose base64 is still arriving (relayed as it does); its event,
        once complete, comes to :meth:`feed` with the value reading ``FLOW_MARK``."""
        self._flowing = True
        self._partials += 1
        # the event's output_format comes after its image: the format is told from the bytes
        media_type = image_media_type(flow.head, None, self._call)
        return PartialImage(index=self._partials - 1, b64=flow, media_type=media_type)

    def feed(self, data: str) -> PartialImage | None:
        """Consume one ``data:`` payload; a partial image is returned for relaying."""
        obj, blobs = _parse(data, what="stream event", provider=self._provider)
        if not isinstance(obj, dict):
            raise self._protocol("stream event is not a JSON object")
        try:
            event = StreamEvent.model_validate(obj)
        except ValidationError as exc:
            message = f"unexpected stream event shape: {exc.error_count()} error(s)"
            raise self._protocol(message) from exc
        if obj.get("error") or event.type == "error":
            raise error_from_detail(
                event.error,
                None,
                provider=self._provider,
                secrets=self._secrets,
                upstream_request_id=self._upstream_id,
                fallback="upstream reported an error mid-stream",
                model=self._call.endpoint.upstream_model,
            )
        kind = event.type.rpartition(".")[2]  # image_generation.* and image_edit.* alike
        flowed, self._flowing = self._flowing, False
        if flowed != (event.b64_json == FLOW_MARK) or (flowed and kind != "partial_image"):
            raise self._protocol(f"{event.type} event does not match the image relayed from it")
        if flowed:
            return None  # relayed while it arrived
        if kind not in ("partial_image", "completed"):
            return None
        b64 = lifted(event.b64_json, blobs)
        if not b64:
            raise self._protocol(f"{event.type} event without b64_json")
        if kind == "completed":
            image = make_image(b64, event.output_format, event.size, self._call)
            self._images.append(image)
            self._tokens = self._tokens + token_usage(event.usage)
            self._usage_seen = self._usage_seen or event.usage is not None
            self._quality = self._quality or event.quality
            return None
        index = event.partial_image_index
        self._partials += 1
        return PartialImage(
            index=self._partials - 1 if index is None else index,
            b64=b64,
            media_type=image_media_type(b64, event.output_format, self._call),
        )

    def finish(self) -> Completed:
        """The aggregate :class:`Completed` of the images that completed (a warning when fewer
        than ``n``), or ProtocolError for a stream that ended before any did."""
        count, wanted = len(self._images), self._call.n
        if not count:
            raise self._protocol(f"stream ended after 0 of {wanted} completed image(s)")
        warnings = self._warnings
        if count < wanted:
            warnings += (f"upstream streamed {count} of {wanted} requested images",)
        tokens = self._tokens
        if not self._usage_seen:
            tokens, note = estimated_usage(
                self._images, self._quality, self._call, partials=self._partials
            )
            warnings += note
        usage = tokens + output_usage(self._images, self._call)
        return Completed(
            images=tuple(self._images),
            usage=usage,
            upstream_id=self._upstream_id,
            warnings=warnings,
        )

    def _protocol(self, message: str) -> ProtocolError:
        return ProtocolError(
            message, provider=self._provider, upstream_request_id=self._upstream_id
        )
