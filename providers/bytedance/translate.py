"""Pure mapping between :class:`GenerateCall` and Seedream's ModelArk wire format.

No I/O, no ``await``, no httpx. A call becomes one JSON body for ``POST /images/generations``;
a 200 body or the SSE ``data:`` payloads become images to deliver (base64, or a URL the adapter
downloads), per-image failures and the reported usage; :func:`completed` folds them into a
:class:`Completed`. Request, response and stream as BytePlus ModelArk documents its image
generation API (our notes, compiled 2026-10).

Choices:

* ``size`` is always ``WxH`` (the gateway computed it from the catalog's pixel geometry); a tier
  would let the model pick the ratio from the prompt (§1).
* One image per call: the shipped catalog sets ``max_images_per_call = 1``, so the gateway
  makes ``n`` calls of ``n = 1`` (§7: "N parallel calls with ``disabled`` (deterministic
  count)"; Vercel does the same, §2). Such a call sends no ``sequential_image_generation``
  field at all: its default, ``disabled``, makes exactly one image (§2), and 5.0 pro rejects
  the field even as ``disabled`` (§1, §2 "send each model only the fields it supports").
* ``n > 1`` reaches the adapter only from an endpoint an operator declared with more images
  per call: one call with ``sequential_image_generation: "auto"`` and ``max_images = n``. That
  count is only an upper bound ("the model may return fewer", §2, §7); fewer images come back
  with a warning.
* Per-image failures are dropped with a warning and not billed; only when no image succeeded is
  the call an error (moderation if any failure was moderation).
* Billing counts ``usage.generated_images`` when the answer reports it, else the images
  delivered. ``output_tokens`` is informational and goes into no token counter.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import ValidationError

from providers._http import load_json
from providers._media import (
    b64_image_dimensions,
    image_dimensions,
    media_type_for_format,
    parse_size,
    sniff_b64_media_type,
    sniff_media_type,
)
from providers.bytedance.errors import PROVIDER, error_from_detail, is_moderation
from providers.bytedance.wire import ErrorDetail, ImageItem, ImagesResponse, ImageUsage, StreamEvent
from providers.errors import InvalidRequest, ProtocolError, ProviderError
from providers.spec import Completed, GenerateCall, GeneratedImage, InputImage, Usage

GENERATIONS_PATH = "/images/generations"
MAX_IMAGES_WITH_REFERENCES = 15  # references + generated images per call (§2)
# Sent unless the operator says otherwise (passthrough `watermark`, endpoint `fixed`): the
# default watermark stamps "AI generated" on the image, the default url expires in 24 h (§0).
DEFAULTS: dict[str, Any] = {"response_format": "b64_json", "watermark": False}
# Set from the call itself; an option must not override them.
RESERVED_OPTIONS = frozenset(
    {
        "model",
        "prompt",
        "image",
        "size",
        "stream",
        "output_format",
        "response_format",
        "sequential_image_generation",
        "sequential_image_generation_options",
    }
)
# Fields Seedream 4.x/5.x do not take (a 400 upstream, §2).
FORBIDDEN_OPTIONS = frozenset({"seed", "n", "quality", "guidance_scale"})

SUCCEEDED = "image_generation.partial_succeeded"
FAILED = "image_generation.partial_failed"
# Our code for a data[] item or success event with neither an image nor an error.
EMPTY_ITEM = "EmptyItem"
COMPLETED = "image_generation.completed"


# --------------------------------------------------------------------------------------------
# Request
# --------------------------------------------------------------------------------------------


def build_request(call: GenerateCall) -> dict[str, Any]:
    """The JSON body. Precedence, lowest first: our defaults, caller ``options`` (already
    allowlisted by the gateway), the call's own fields, the endpoint's operator-``fixed``."""
    bad = sorted((RESERVED_OPTIONS | FORBIDDEN_OPTIONS) & call.options.keys())
    if bad:
        raise InvalidRequest(
            f"option(s) {', '.join(bad)} cannot be passed to Seedream", code="unsupported_parameter"
        )
    if len(call.input_images) + call.n > MAX_IMAGES_WITH_REFERENCES:
        raise InvalidRequest(
            f"Seedream takes at most {MAX_IMAGES_WITH_REFERENCES} reference plus generated "
            f"images per call, got {len(call.input_images)} + {call.n}",
            code="too_many_images",
        )
    body: dict[str, Any] = {"model": call.endpoint.upstream_model, "prompt": call.prompt}
    body.update(DEFAULTS)
    body.update((k, v) for k, v in call.options.items() if v is not None)
    size = wire_size(call)
    if size is not None:
        body["size"] = size
    if call.input_images:
        uris = [data_uri(image) for image in call.input_images]
        body["image"] = uris[0] if len(uris) == 1 else uris
    if call.n > 1:  # an operator's multi-image endpoint only; n = 1 leaves the default
        body["sequential_image_generation"] = "auto"
        body["sequential_image_generation_options"] = {"max_images": call.n}
    if call.output_format is not None:  # only the 5.0 family describes output_format
        body["output_format"] = call.output_format
    if call.stream:
        body["stream"] = True
    body.update(call.endpoint.fixed)
    return body


def wire_size(call: GenerateCall) -> str | None:
    """``WxH`` from the call's pixels (or an operator's fixed-size spelling); never a tier."""
    if call.size_wire:
        return call.size_wire
    if call.width and call.height:
        return f"{call.width}x{call.height}"
    return None


def data_uri(image: InputImage) -> str:
    """``data:image/<fmt>;base64,…`` with a lowercase ``<fmt>`` (``image/PNG`` is rejected)."""
    media_type = (image.media_type or sniff_media_type(image.data) or "image/png").lower()
    return f"data:{media_type};base64,{base64.b64encode(image.data).decode('ascii')}"


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One succeeded image as upstream sent it: base64, or a URL to download."""

    index: int
    b64: str | None = None
    url: str | None = None
    size: str | None = None
    output_format: str | None = None


@dataclass(slots=True)
class Answer:
    """What one call produced, before URLs are downloaded."""

    deliveries: list[Delivery] = field(default_factory=list)
    failures: list[ErrorDetail] = field(default_factory=list)
    usage: ImageUsage | None = None


def read_images_response(
    body: bytes,
    *,
    provider: str = PROVIDER,
    upstream_id: str | None = None,
    secrets: tuple[str, ...] = (),
) -> Answer:
    """A 200 JSON body → deliveries and per-image failures (a top-level ``error`` raises)."""
    protocol = partial(ProtocolError, provider=provider, upstream_request_id=upstream_id)
    obj = load_json(body, what="images response", provider=provider)
    if not isinstance(obj, dict):
        raise protocol("images response is not a JSON object")
    try:
        response = ImagesResponse.model_validate(obj)
    except ValidationError as exc:
        raise protocol(f"unexpected images response shape: {exc.error_count()} error(s)") from exc
    answer = Answer(usage=response.usage)
    for index, item in enumerate(response.data or []):
        _read_item(answer, index, item)
    nothing = not answer.deliveries and response.error is None and answer.failures
    if nothing and all(failure.code == EMPTY_ITEM for failure in answer.failures):
        raise protocol("no data[] item has an image or an error")
    if not answer.deliveries and response.error is not None:
        raise error_from_detail(
            response.error,
            None,
            provider=provider,
            secrets=secrets,
            upstream_request_id=upstream_id,
        )
    return answer


def _read_item(answer: Answer, index: int, item: ImageItem) -> None:
    """An image, a failure, or an item with neither: counted as a failure, so the images that
    did arrive (already billed upstream) are kept (§3: "do not fail the whole request")."""
    if item.b64_json or item.url:
        answer.deliveries.append(
            Delivery(index, item.b64_json, item.url, item.size, item.output_format)
        )
    elif item.error is not None:
        answer.failures.append(item.error)
    else:
        answer.failures.append(empty_item(f"data[{index}]"))


def empty_item(where: str) -> ErrorDetail:
    """The failure recorded for an item or event that carries neither an image nor an error."""
    return ErrorDetail(code=EMPTY_ITEM, message=f"{where} has neither an image nor an error")


def make_image(
    b64: str, size: str | None, output_format: str | None, call: GenerateCall
) -> GeneratedImage:
    """Media type from the bytes (4.x: JPEG), size from ``size`` or the image header."""
    media_type = (
        sniff_b64_media_type(b64)
        or media_type_for_format(output_format)
        or media_type_for_format(call.output_format)
        or "image/jpeg"
    )
    dims = parse_size(size) or b64_image_dimensions(b64)
    width, height = dims if dims is not None else (None, None)
    return GeneratedImage(b64=b64, media_type=media_type, width=width, height=height)


def completed(
    call: GenerateCall,
    images: list[GeneratedImage],
    failures: list[ErrorDetail],
    reported: ImageUsage | None,
    *,
    provider: str = PROVIDER,
    upstream_id: str | None = None,
    secrets: tuple[str, ...] = (),
    extra_warnings: tuple[str, ...] = (),
) -> Completed:
    """The images that succeeded, billed alone; none at all is an error."""
    if not images:
        raise _all_failed(failures, provider, upstream_id, secrets)
    warnings = list(extra_warnings)
    if failures:
        codes = ", ".join(sorted({f.code or "unknown" for f in failures}))
        warnings.append(
            f"{len(failures)} of {len(images) + len(failures)} images failed upstream ({codes}) "
            "and are not billed"
        )
    elif len(images) < call.n:
        warnings.append(f"upstream returned {len(images)} of {call.n} requested images")
    billed = (
        reported.generated_images if reported and reported.generated_images is not None else None
    )
    usage = Usage(
        images=len(images) if billed is None else billed,
        pixels=sum((i.width or 0) * (i.height or 0) for i in images),
        input_images=len(call.input_images),
        input_pixels=_input_pixels(call),
    )
    return Completed(
        images=tuple(images), usage=usage, upstream_id=upstream_id, warnings=tuple(warnings)
    )


def _all_failed(
    failures: list[ErrorDetail], provider: str, upstream_id: str | None, secrets: tuple[str, ...]
) -> ProviderError:
    if all(f.code == EMPTY_ITEM for f in failures):
        return ProtocolError(
            "upstream returned no images", provider=provider, upstream_request_id=upstream_id
        )
    real = [f for f in failures if f.code != EMPTY_ITEM]  # an empty item says nothing
    worst = next((f for f in real if is_moderation(f.code)), real[0])
    return error_from_detail(
        worst,
        None,
        provider=provider,
        secrets=secrets,
        upstream_request_id=upstream_id,
        fallback="every image failed upstream",
    )


def _input_pixels(call: GenerateCall) -> int:
    total = 0
    for ref in call.input_images:
        dims = image_dimensions(ref.data)
        if dims is not None:
            total += dims[0] * dims[1]
    return total


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


class StreamAccumulator:
    """Folds the SSE ``data:`` payloads of one streaming call.

    ``feed`` returns a :class:`Delivery` for each ``partial_succeeded`` (the adapter turns it
    into an image, records it with :meth:`add` and relays it at once), records each
    ``partial_failed`` without aborting, and stops at ``completed`` (the only event with usage)
    or at a stream-level ``error``. ``finish`` raises :class:`ProtocolError` for a stream that
    ended without ``completed`` (truncated), charged with the images already delivered (they
    were generated, so the upstream bills them).
    """

    def __init__(
        self,
        call: GenerateCall,
        *,
        provider: str = PROVIDER,
        upstream_id: str | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._call = call
        self._provider = provider
        self._upstream_id = upstream_id
        self._secrets = secrets
        self.images: list[GeneratedImage] = []
        self._failures: list[ErrorDetail] = []
        self._usage: ImageUsage | None = None
        self._completed = False
        self._stream_error: ErrorDetail | None = None

    @property
    def done(self) -> bool:
        """``completed`` or a stream-level error arrived: nothing more to read."""
        return self._completed or self._stream_error is not None

    def feed(self, data: str) -> Delivery | None:
        obj = load_json(data, what="stream event", provider=self._provider)
        if not isinstance(obj, dict):
            raise self._protocol("stream event is not a JSON object")
        try:
            event = StreamEvent.model_validate(obj)
        except ValidationError as exc:
            raise self._protocol(
                f"unexpected stream event shape: {exc.error_count()} error(s)"
            ) from exc
        if event.type == SUCCEEDED:
            if not (event.b64_json or event.url):
                self._failures.append(empty_item(f"{SUCCEEDED} event"))
                return None
            index = len(self.images) if event.image_index is None else event.image_index
            return Delivery(index, event.b64_json, event.url, event.size, event.output_format)
        if event.type == FAILED:
            self._failures.append(event.error or ErrorDetail(message="an image failed upstream"))
        elif event.type == COMPLETED:
            self._usage, self._completed = event.usage, True
        elif event.error is not None:  # stream-level error: {"error": {...}} (or type "error")
            self._stream_error = event.error
        return None

    def add(self, image: GeneratedImage) -> None:
        self.images.append(image)

    def finish(self) -> Completed:
        """The aggregate, or an error: truncated stream, or nothing succeeded."""
        if self._stream_error is not None:
            if not self.images:
                raise error_from_detail(
                    self._stream_error,
                    None,
                    provider=self._provider,
                    secrets=self._secrets,
                    upstream_request_id=self._upstream_id,
                )
            note = f"the stream stopped with an upstream error ({self._stream_error.code})"
            return self._completed_with(None, (note,))
        if not self._completed:
            error = self._protocol(
                f"stream ended before {COMPLETED} (truncated after {len(self.images)} image(s))"
            )
            if self.images:  # generated, so billed upstream (§4): the failure carries the charge
                error.charge = Usage(
                    images=len(self.images),
                    pixels=sum((i.width or 0) * (i.height or 0) for i in self.images),
                )
            raise error
        return self._completed_with(self._usage, ())

    def _completed_with(self, usage: ImageUsage | None, notes: tuple[str, ...]) -> Completed:
        return completed(
            self._call,
            self.images,
            self._failures,
            usage,
            provider=self._provider,
            upstream_id=self._upstream_id,
            secrets=self._secrets,
            extra_warnings=notes,
        )

    def _protocol(self, message: str) -> ProtocolError:
        return ProtocolError(
            message, provider=self._provider, upstream_request_id=self._upstream_id
        )
