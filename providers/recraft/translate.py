"""Pure mapping between :class:`GenerateCall` and the Recraft external API.

No I/O, no ``await``, no httpx. Requests come out as :class:`UpstreamRequest` values; a 2xx
body goes in as bytes and comes out as an :class:`Answer` (what to download or decode); the
fetched files and the answer become one :class:`Completed`. Generations, image-to-image and
the response as Recraft's API documentation describes them (our notes, compiled 2026-11).

Choices where the reference is unsure or silent:

* ``size`` is the catalog's wire spelling (the aspect form ``16:9`` for every family, §2.4).
* ``response_format: "url"`` is sent explicitly: URLs are the documented default; base64
  answers are still read if an operator pins ``b64_json`` in the endpoint's ``fixed``.
* One reference image goes to ``/v1/images/imageToImage`` as a ``data:`` URL in JSON (the form
  the docs recommend), without ``size`` (that endpoint has none); ``strength`` is required
  there and defaults to :data:`DEFAULT_STRENGTH` when the caller gives none.
* ``credits`` (API units charged, 1 000 units = $1, "authoritative for the call", §5) is
  reported as the provider's cost when it is positive and every image arrived; otherwise the
  catalog prices what was delivered. When no file at all can be fetched, positive ``credits``
  are still what Recraft billed: the error carries them (:func:`failed_charge`); without
  ``credits`` the failure carries no charge.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from providers._http import load_json
from providers._media import (
    SVG,
    encode_data_url,
    image_dimensions,
    media_type_for_format,
    sniff_media_type,
)
from providers.errors import InvalidRequest, ProtocolError, ProviderError
from providers.recraft.wire import GenerateImageResponse
from providers.spec import (
    Completed,
    EndpointSpec,
    EnumDescriptor,
    GenerateCall,
    GeneratedImage,
    Usage,
)

GENERATIONS_PATH = "/images/generations"
IMAGE_TO_IMAGE_PATH = "/images/imageToImage"
DEFAULT_STRENGTH = 0.5  # midway; LiteLLM uses 0.2, fal's wrapper 0.5 (§3)
MAX_SEED = 2**32 - 1  # random_seed is a uint32
UNITS_PER_USD = Decimal(1000)
RASTER_FORMATS = frozenset({"png", "webp"})  # image_format (§2.1)
# V2/V3 styles that make a raster model id answer SVG at the vector price (§6.1).
VECTOR_STYLES = frozenset({"vector_illustration", "icon"})
# Set by the adapter from the call; an option may not override them.
RESERVED_OPTIONS = frozenset(
    {"prompt", "model", "n", "size", "response_format", "image_url", "image_format", "random_seed"}
)
IMAGE_TO_IMAGE_ONLY = frozenset({"strength"})


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One ``POST {base_url}{path}`` with a JSON body."""

    path: str
    json: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResultItem:
    """One ``data[]`` entry: a URL to download, or the base64 file itself."""

    image_id: str | None
    url: str | None = None
    b64: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed 2xx body."""

    items: tuple[ResultItem, ...]
    credits: Decimal | None
    upstream_id: str | None


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def is_vector(endpoint: EndpointSpec) -> bool:
    """SVG endpoints advertise ``output_format: svg`` (catalog data, not the model id)."""
    desc = endpoint.parameters.get("output_format")
    return isinstance(desc, EnumDescriptor) and "svg" in desc.values


def build_request(call: GenerateCall) -> UpstreamRequest:
    """Generations without references, image-to-image with one (§2, §3)."""
    _check_options(call)
    params: dict[str, Any] = {
        "prompt": call.prompt,
        "model": call.endpoint.upstream_model,
        "n": call.n,
        "response_format": "url",
    }
    params.update((k, v) for k, v in call.options.items() if v is not None)
    if call.output_format in RASTER_FORMATS:
        params["image_format"] = call.output_format
    if call.seed is not None:
        if not 0 <= call.seed <= MAX_SEED:
            raise InvalidRequest(
                f"seed {call.seed} is out of range for Recraft; allowed: 0..{MAX_SEED}",
                code="invalid_seed",
            )
        params["random_seed"] = call.seed
    if not call.input_images:
        size = wire_size(call)
        if size is not None:
            params["size"] = size
        params.update(call.endpoint.fixed)
        return UpstreamRequest(GENERATIONS_PATH, params)
    if len(call.input_images) > 1:
        raise InvalidRequest(
            f"Recraft image-to-image takes one reference image, got {len(call.input_images)}",
            code="too_many_images",
        )
    ref = call.input_images[0]
    params["image_url"] = encode_data_url(ref.data, ref.media_type)
    params.setdefault("strength", DEFAULT_STRENGTH)
    params.update(call.endpoint.fixed)
    return UpstreamRequest(IMAGE_TO_IMAGE_PATH, params)


def _check_options(call: GenerateCall) -> None:
    reserved = sorted(RESERVED_OPTIONS & call.options.keys())
    if reserved:
        raise InvalidRequest(
            f"option(s) {', '.join(reserved)} are set by the gateway and cannot be passed "
            "to Recraft",
            code="unsupported_parameter",
        )
    if not call.input_images and IMAGE_TO_IMAGE_ONLY & call.options.keys():
        raise InvalidRequest(
            "option strength applies only to image-to-image: add an input reference",
            code="unsupported_parameter",
        )
    style = call.options.get("style")
    if style in VECTOR_STYLES and not is_vector(call.endpoint):
        raise InvalidRequest(
            f"style '{style}' makes Recraft answer SVG at the vector price; use the vector "
            "variant of this model for SVG output",
            code="unsupported_parameter",
        )


def wire_size(call: GenerateCall) -> str | None:
    """``size_wire`` (fixed sizes), else ``WxH``, else omitted (Recraft's default, 1:1)."""
    if call.size_wire:
        return call.size_wire
    if call.width and call.height:
        return f"{call.width}x{call.height}"
    return None


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def parse_answer(body: bytes, *, provider: str = "recraft") -> Answer:
    """A 2xx ``GenerateImageResponse`` body → what to fetch; ProtocolError if unusable."""
    obj = load_json(body, what="Recraft response", provider=provider)
    try:
        response = GenerateImageResponse.model_validate(obj)
    except ValidationError as exc:
        raise ProtocolError(
            f"unexpected Recraft response shape: {exc.error_count()} error(s)", provider=provider
        ) from exc
    items = []
    for item in response.data:
        if not item.url and not item.b64_json:
            raise ProtocolError(
                "Recraft returned an image without url or b64_json", provider=provider
            )
        items.append(ResultItem(item.image_id, url=item.url or None, b64=item.b64_json or None))
    if not items:
        raise ProtocolError("Recraft returned no images", provider=provider)
    upstream_id = next((i.image_id for i in items if i.image_id), None)
    return Answer(tuple(items), response.credits, upstream_id)


def decode_b64(b64: str, *, provider: str = "recraft") -> bytes:
    try:
        return base64.b64decode("".join(b64.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(
            "Recraft returned invalid base64 image data", provider=provider
        ) from exc


def make_image(
    data: bytes, content_type: str | None, *, b64: str | None = None, provider: str = "recraft"
) -> GeneratedImage:
    """The file's true type (magic bytes, else a declared image type) and its size.

    SVG sizes come from the root element's ``width``/``height`` or ``viewBox`` (None if it
    states neither in plain numbers).
    """
    declared = (content_type or "").split(";")[0].strip().lower()
    media_type = sniff_media_type(data)
    if media_type is None and declared.startswith("image/"):
        media_type = media_type_for_format(declared.removeprefix("image/")) or declared
    if media_type is None:
        raise ProtocolError(
            f"Recraft returned a file that is not an image ({declared or 'no type'})",
            provider=provider,
        )
    dims = svg_dimensions(data) if media_type == SVG else image_dimensions(data)
    width, height = dims if dims is not None else (None, None)
    encoded = b64 if b64 is not None else base64.b64encode(data).decode("ascii")
    return GeneratedImage(b64=encoded, media_type=media_type, width=width, height=height)


_SVG_TAG = re.compile(rb"<svg\b([^>]*)>", re.I | re.S)
_NUMBER = r"\s*([0-9]+(?:\.[0-9]+)?)\s*"


def _attribute(attrs: bytes, name: str) -> str | None:
    match = re.search(rb"\b" + name.encode() + rb"\s*=\s*([\"'])(.*?)\1", attrs, re.S)
    return match.group(2).decode("ascii", errors="replace") if match else None


def svg_dimensions(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of an SVG's root element, from plain attributes (no XML parser)."""
    tag = _SVG_TAG.search(data[:65536])
    if tag is None:
        return None
    attrs = tag.group(1)
    sizes = [_attribute(attrs, "width"), _attribute(attrs, "height")]
    numbers = [re.fullmatch(_NUMBER + r"(?:px)?\s*", s or "") for s in sizes]
    if numbers[0] and numbers[1]:
        dims = (round(float(numbers[0].group(1))), round(float(numbers[1].group(1))))
    else:
        box = re.fullmatch((_NUMBER + r",?") * 4, _attribute(attrs, "viewBox") or "")
        if box is None:
            return None
        dims = (round(float(box.group(3))), round(float(box.group(4))))
    return dims if dims[0] > 0 and dims[1] > 0 else None


def completed(
    call: GenerateCall,
    answer: Answer,
    images: list[GeneratedImage],
    failures: list[ProviderError],
) -> Completed:
    """The delivered images with their facts; partial deliveries carry a warning each."""
    warnings = [
        f"{len(failures)} of {len(answer.items)} Recraft images could not be fetched: "
        f"{failures[0].message}"
    ] if failures else []  # fmt: skip
    if call.input_images and call.width and call.height:
        off = [i for i in images if i.width and (i.width, i.height) != (call.width, call.height)]
        if off:
            warnings.append(
                f"Recraft image-to-image keeps the reference's proportions: "
                f"{call.width}x{call.height} was asked, {off[0].width}x{off[0].height} returned"
            )
    cost = None
    if answer.credits is not None and answer.credits > 0 and not failures:
        cost = answer.credits / UNITS_PER_USD
    usage = Usage(
        images=len(images),
        pixels=sum((i.width or 0) * (i.height or 0) for i in images),
        input_images=len(call.input_images),
        input_pixels=sum(_pixels(ref.data) for ref in call.input_images),
        provider_cost_usd=cost,
    )
    return Completed(
        images=tuple(images), usage=usage, upstream_id=answer.upstream_id, warnings=tuple(warnings)
    )


def failed_charge(call: GenerateCall, answer: Answer) -> Usage | None:
    """What Recraft billed for an answer none of whose files could be fetched: its positive
    ``credits``, as the Usage :func:`completed` builds for a full delivery (so pricing gives
    the same cost); None when the answer states no charge."""
    if answer.credits is None or answer.credits <= 0:
        return None
    return Usage(
        images=len(answer.items),
        input_images=len(call.input_images),
        input_pixels=sum(_pixels(ref.data) for ref in call.input_images),
        provider_cost_usd=answer.credits / UNITS_PER_USD,
    )


def _pixels(data: bytes) -> int:
    dims = image_dimensions(data)
    return dims[0] * dims[1] if dims else 0
