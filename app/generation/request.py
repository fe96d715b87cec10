"""The gateway's one internal request: the OpenRouter Image API request, as every door fills it.

``POST /api/v1/images`` parses it directly; chat completions and the OpenAI-compatible images
API translate their own shapes into it.

Strict at our edge: types and bounds are checked here (a wrong type is a 400 naming the
field); enum *values* are checked by the normalizer against the chosen endpoint's descriptors,
so the message can list what that endpoint allows. Unknown top-level keys are ignored, as the
AI SDK provider merges arbitrary extra keys into the body.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

# Canonical enum lists (union of the Python SDK, TS SDK and spec; reference §2.1).
ASPECT_RATIOS = (
    *("1:1", "1:2", "1:4", "1:8", "2:1", "2:3", "2.35:1", "3:2", "3:4", "4:1", "4:3", "4:5"),
    *("5:2", "5:4", "5:7", "7:5", "8:1", "9:16", "16:9", "9:19.5", "19.5:9", "9:20", "20:9"),
    *("9:21", "21:9", "auto"),
)
RESOLUTIONS = ("512", "768", "1K", "1.5K", "2K", "4K")
QUALITIES = ("auto", "low", "medium", "high", "xhigh", "max")
OUTPUT_FORMATS = ("png", "jpeg", "webp", "svg")
BACKGROUNDS = ("auto", "transparent", "opaque")


INT64 = 2**63 - 1
MAX_USER_CHARS = 256
MAX_TRACE_BYTES = 8 * 1024
MAX_OPTIONS_BYTES = 64 * 1024
MAX_DEPTH = 16


def check_json_value(value: object, path: str, depth: int = 0) -> None:
    """Raise ValueError for what JSON encoders or the database would refuse later: lone
    surrogates, NUL characters (Postgres text cannot hold them), integers beyond 64 bits,
    NaN/infinity, non-string keys, deep nesting."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path}: contains a lone UTF-16 surrogate") from None
        if "\x00" in value:
            raise ValueError(f"{path}: contains a NUL character")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -INT64 - 1 <= value <= INT64:
            raise ValueError(f"{path}: integer outside the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: not a finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: keys must be strings")
            check_json_value(key, f"{path}.<key>", depth + 1)
            check_json_value(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_json_value(item, f"{path}.{i}", depth + 1)


class ImageUrl(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: StrictStr = Field(min_length=1)


class InputReference(BaseModel):
    """ContentPartImage: ``{"type": "image_url", "image_url": {"url": ...}}``."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["image_url"]
    image_url: ImageUrl


class SortConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    by: StrictStr | None = None
    partition: StrictStr | None = None


def _price(value: object) -> object:
    """A price as OpenRouter spells it: a decimal string or a JSON number, never a bool."""
    if isinstance(value, bool):
        raise ValueError("a price must be a number or a decimal string")
    if isinstance(value, int | float | str):
        try:
            price = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a decimal number") from exc
        if not price.is_finite() or price < 0:
            raise ValueError("a price must be a finite, non-negative number")
        return price
    raise ValueError("a price must be a number or a decimal string")


Price = Annotated[Decimal, BeforeValidator(_price)]


class MaxPrice(BaseModel):
    """Price ceilings as OpenRouter's chat ``provider.max_price`` spells them (USD):
    ``request`` per request, ``image`` per output image, ``prompt``/``completion`` per million
    text tokens. Endpoints whose quote exceeds a ceiling are skipped."""

    model_config = ConfigDict(extra="ignore")
    request: Price | None = None
    image: Price | None = None
    prompt: Price | None = None
    completion: Price | None = None


class ProviderPreferences(BaseModel):
    """The image API's ``provider`` object (plus ``max_price``, honoured as a price ceiling);
    other chat-only keys (zdr, data_collection, …) are ignored."""

    model_config = ConfigDict(extra="ignore")
    order: list[StrictStr] | None = None
    only: list[StrictStr] | None = None
    ignore: list[StrictStr] | None = None
    allow_fallbacks: StrictBool | None = None
    sort: StrictStr | SortConfig | None = None
    options: dict[str, dict[str, Any] | None] | None = None  # an entry may be null, as any field
    max_price: MaxPrice | None = None


class ImageGenerationRequest(BaseModel):
    """Body of ``POST /api/v1/images``."""

    model_config = ConfigDict(extra="ignore")

    model: StrictStr = Field(min_length=1)
    prompt: StrictStr = Field(max_length=32_000)
    aspect_ratio: StrictStr | None = None
    resolution: StrictStr | None = None
    size: StrictStr | None = None
    n: StrictInt | None = Field(default=None, ge=1, le=10)
    quality: StrictStr | None = None
    output_format: StrictStr | None = None
    background: StrictStr | None = None
    output_compression: StrictInt | None = Field(default=None, ge=0, le=100)
    seed: StrictInt | None = Field(default=None, ge=-INT64, le=INT64)
    input_references: list[InputReference] | None = Field(default=None, max_length=16)
    # Extension: an inpainting mask for the first reference (transparent = edit here), for the
    # endpoints that take one (``POST /v1/images/edits`` fills it from its ``mask`` file).
    mask: InputReference | None = None
    stream: StrictBool | None = None
    provider: ProviderPreferences | None = None
    session_id: StrictStr | None = Field(default=None, max_length=256)
    trace: dict[str, Any] | None = None
    user: StrictStr | None = Field(default=None, max_length=MAX_USER_CHARS)

    @model_validator(mode="after")
    def _storable(self) -> ImageGenerationRequest:
        """Every caller-supplied value can be sent upstream and stored: encodable strings,
        64-bit integers, finite numbers, and bounded free-form fields."""
        for name in (
            "model",
            "aspect_ratio",
            "resolution",
            "size",
            "quality",
            "output_format",
            "background",
            "session_id",
            "user",
        ):
            value = getattr(self, name)
            if value is not None:
                check_json_value(value, name)
        check_json_value(self.trace, "trace")
        if self.trace is not None and len(orjson.dumps(self.trace)) > MAX_TRACE_BYTES:
            raise ValueError(f"trace: larger than {MAX_TRACE_BYTES} bytes once serialized")
        options = self.provider.options if self.provider else None
        check_json_value(options, "provider.options")
        if options is not None and len(orjson.dumps(options)) > MAX_OPTIONS_BYTES:
            raise ValueError(
                f"provider.options: larger than {MAX_OPTIONS_BYTES} bytes once serialized"
            )
        for i, ref in enumerate(self.input_references or ()):
            url = ref.image_url.url
            # a data: URL's payload is checked (base64, ASCII) when it is decoded
            check_json_value(
                url[:64] if url[:5].lower() == "data:" else url, f"input_references.{i}"
            )
        return self
