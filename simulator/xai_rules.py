"""xAI image request rules: deserialization, validation, sizes and prices.

Pure functions. :func:`deserialize` reads a JSON body the way xAI's Rust front end does (serde
with unknown fields denied): a missing ``prompt``, a mistyped value, an unknown enum value or an
unknown field (``output_format``, ``background``, ``stream`` …) is a 422 in serde's words.
:func:`validate` then applies the API's own rules (400 ``{code, error}``: ``size``/``style`` not
supported, ``n`` 1–10, ``quality`` only on ``grok-imagine-image-2.0``, references) and resolves
the output size. Choices where the reference is silent are marked "Choice".
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from simulator.render import dimensions, image_format
from simulator.xai_errors import XaiError, data_error, invalid_argument, model_not_found
from simulator.xai_errors import not_supported as argument_not_supported

ASPECT_RATIOS = (
    *("1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2"),
    *("9:19.5", "19.5:9", "9:20", "20:9", "1:2", "2:1", "auto"),
)
RESOLUTIONS = ("1k", "2k")
# Choice: the proto also has HIGH, but neither the SDK nor the docs expose it.
QUALITIES = ("low", "medium")
RESPONSE_FORMATS = ("url", "b64_json")
DEFAULT_MODEL = "grok-imagine-image"  # the REST schema's default (§0)
QUALITY_MODEL = "grok-imagine-image-2.0"  # the only model that takes `quality` (§2.1)
MAX_N = 10
MAX_REFERENCES = 3  # docs.x.ai: "up to 3 reference images per request"
TICKS_PER_USD = 10_000_000_000  # 1 tick = 1e-10 USD
# Target pixels per tier ("~1 MP / ~4 MP", §2.1); edges are rounded to multiples of 16 (Choice).
TIER_PIXELS = {"1k": 1024 * 1024, "2k": 2048 * 2048}

# Per-image prices the simulator charges in ``usage.cost_in_usd_ticks``: the catalog's prices
# (providers/xai/models.toml, reference §4), output by (quality, resolution) for 2.0.
OUTPUT_PRICES: dict[str, dict[tuple[str, str], Decimal]] = {
    "grok-imagine-image": {},
    "grok-imagine-image-quality": {},
    QUALITY_MODEL: {
        ("low", "1k"): Decimal("0.032"),
        ("medium", "1k"): Decimal("0.048"),
        ("low", "2k"): Decimal("0.048"),
        ("medium", "2k"): Decimal("0.08"),
    },
}
FLAT_PRICES = {"grok-imagine-image": Decimal("0.02"), "grok-imagine-image-quality": Decimal("0.05")}
# Edits bill each input image too (§4 [DOCS]); price not published, the catalog's assumption.
INPUT_PRICES = {
    "grok-imagine-image": Decimal("0.02"),
    "grok-imagine-image-quality": Decimal("0.05"),
    QUALITY_MODEL: Decimal("0.02"),
}
MODELS = frozenset(INPUT_PRICES)

# --------------------------------------------------------------------------------------------
# Deserialization (serde_json + #[serde(deny_unknown_fields)])
# --------------------------------------------------------------------------------------------

STRING, U32, ANY, REF, REFS = "string", "u32", "any", "ref", "refs"
FieldKind = str | tuple[str, ...]  # a tuple is an enum's variants

GENERATION_FIELDS: dict[str, FieldKind] = {
    "prompt": STRING,
    "model": STRING,
    "n": U32,
    "response_format": RESPONSE_FORMATS,
    "aspect_ratio": ASPECT_RATIOS,
    "resolution": RESOLUTIONS,
    "quality": QUALITIES,
    "user": STRING,
    "size": ANY,  # known, so that it gets the API's own 400 rather than a 422
    "style": ANY,
}
EDIT_FIELDS: dict[str, FieldKind] = {**GENERATION_FIELDS, "image": REF, "images": REFS}
REFERENCE_FIELDS: dict[str, FieldKind] = {
    "url": STRING,
    "file_id": STRING,
    "type": ("image_url",),  # optional: many clients omit it (§2.2)
    "detail": STRING,
}
REQUIRED = ("prompt",)


def _location(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line} column {column}"


def _at_key(text: str, key: str) -> str:
    found = text.find(f'"{key}"')
    return _location(text, found + len(key) + 2 if found >= 0 else len(text))


def _at_end(text: str) -> str:
    end = text.rfind("}")
    return _location(text, end if end >= 0 else len(text))


def _unexpected(value: object) -> str:
    """serde's ``Unexpected`` display of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def _one_of(names: tuple[str, ...] | list[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return "one of " + ", ".join(quoted)


def deserialize(text: str, obj: Any, *, edit: bool) -> dict[str, Any]:
    """The typed request fields; :class:`PlainError` 422 as serde would word it."""
    fields = EDIT_FIELDS if edit else GENERATION_FIELDS
    struct = "ImageEditRequest" if edit else "ImageGenerationRequest"
    return _struct(text, obj, fields, struct, REQUIRED, _at_end(text))


def _struct(
    text: str,
    obj: Any,
    fields: dict[str, FieldKind],
    name: str,
    required: tuple[str, ...],
    where: str,
) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise data_error(f"invalid type: {_unexpected(obj)}, expected struct {name} at {where}")
    out: dict[str, Any] = {}
    for key, value in obj.items():
        kind = fields.get(key)
        if kind is None:
            expected = _one_of(list(fields))
            raise data_error(f"unknown field `{key}`, expected {expected} at {_at_key(text, key)}")
        if value is None and key not in required:
            continue  # Option<T>: null is None
        out[key] = _typed(text, key, kind, value)
    for key in required:
        if key not in out:
            raise data_error(f"missing field `{key}` at {where}")
    return out


def _typed(text: str, key: str, kind: FieldKind, value: Any) -> Any:
    where = _at_key(text, key)
    if isinstance(kind, tuple):
        if not isinstance(value, str):
            raise data_error(
                f"invalid type: {_unexpected(value)}, expected variant identifier at {where}"
            )
        if value not in kind:
            raise data_error(f"unknown variant `{value}`, expected {_one_of(kind)} at {where}")
        return value
    if kind == STRING and not isinstance(value, str):
        raise data_error(f"invalid type: {_unexpected(value)}, expected a string at {where}")
    if kind == U32:
        if isinstance(value, bool) or not isinstance(value, int):
            raise data_error(f"invalid type: {_unexpected(value)}, expected u32 at {where}")
        if not 0 <= value <= 2**32 - 1:
            raise data_error(f"invalid value: {_unexpected(value)}, expected u32 at {where}")
    if kind == REF:
        return _struct(text, value, REFERENCE_FIELDS, "ImageUrl", (), where)
    if kind == REFS:
        if not isinstance(value, list):
            raise data_error(f"invalid type: {_unexpected(value)}, expected a sequence at {where}")
        return [_struct(text, v, REFERENCE_FIELDS, "ImageUrl", (), where) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

_DATA_URL = re.compile(r"data:([\w/+.-]+)?(?:;[\w=.-]+)*;base64,(.*)", re.DOTALL)


@dataclass(frozen=True)
class Reference:
    """A decoded input image of an edit."""

    data: bytes
    media_type: str
    size: tuple[int, int]


@dataclass(frozen=True)
class XaiJob:
    """A validated request with every value resolved."""

    model: str
    prompt: str
    n: int
    response_format: str
    aspect_ratio: str  # resolved: never "auto"
    resolution: str
    quality: str | None  # 2.0 only (default medium)
    width: int
    height: int
    references: tuple[Reference, ...] = ()
    user: str | None = None

    @property
    def output_price(self) -> Decimal:
        if self.model in FLAT_PRICES:
            return FLAT_PRICES[self.model]
        return OUTPUT_PRICES[self.model][(self.quality or "medium", self.resolution)]

    @property
    def ticks(self) -> int:
        """``usage.cost_in_usd_ticks``: n outputs plus each input image (Choice: withheld
        images are billed too, as in the reference's moderated-slot example)."""
        cost = self.n * self.output_price + len(self.references) * INPUT_PRICES[self.model]
        return int(cost * TICKS_PER_USD)


def validate(fields: dict[str, Any], *, edit: bool) -> XaiJob:
    """Apply the API's rules to deserialized fields; raises :class:`XaiError`."""
    model = fields.get("model", DEFAULT_MODEL)
    if model not in MODELS:
        raise model_not_found(model)
    for unsupported in ("size", "style"):
        if unsupported in fields:
            raise argument_not_supported(unsupported)
    # Choice: the schema mirror says other models ignore `quality`, a gateway says it is
    # refused; the stricter answer catches an adapter that sends it where it means nothing.
    if "quality" in fields and model != QUALITY_MODEL:
        raise argument_not_supported("quality")
    n = fields.get("n", 1)
    if not 1 <= n <= MAX_N:
        raise invalid_argument(f"n must be between 1 and {MAX_N}, got {n}.")
    if not fields["prompt"].strip():
        raise invalid_argument("prompt must not be empty.")
    refs = references(fields) if edit else ()
    resolution = fields.get("resolution", "1k")
    ratio = fields.get("aspect_ratio", "auto")
    if ratio == "auto":
        ratio = nearest_ratio(*refs[0].size) if refs else "1:1"
    width, height = output_size(ratio, resolution)
    return XaiJob(
        model=model,
        prompt=fields["prompt"],
        n=n,
        response_format=fields.get("response_format", "url"),
        aspect_ratio=ratio,
        resolution=resolution,
        quality=fields.get("quality", "medium") if model == QUALITY_MODEL else None,
        width=width,
        height=height,
        references=refs,
        user=fields.get("user"),
    )


def references(fields: dict[str, Any]) -> tuple[Reference, ...]:
    """``image`` (one) or ``images`` (one to three), each a data URL (§2.2)."""
    single, many = fields.get("image"), fields.get("images")
    if single is not None and many is not None:
        raise invalid_argument("Provide either image or images, not both.")
    if single is None and many is None:
        raise invalid_argument("An image edit needs a source image: set image or images.")
    refs: list[dict[str, Any]] = [single] if single is not None else list(many or ())
    if not 1 <= len(refs) <= MAX_REFERENCES:
        raise invalid_argument(
            f"Between 1 and {MAX_REFERENCES} reference images are supported, got {len(refs)}."
        )
    return tuple(_reference(i, ref) for i, ref in enumerate(refs))


def _reference(index: int, ref: dict[str, Any]) -> Reference:
    if "file_id" in ref:
        raise invalid_argument(
            f"Image {index}: file_id references need the Files API, which the simulator does not "
            "have; send the image as a data URL."
        )
    url = ref.get("url")
    if url is None:
        raise invalid_argument(f"Image {index}: set url or file_id.")
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise invalid_argument(
            f"Image {index}: failed to fetch {url[:60]!r} (the simulator has no network access; "
            "send a data URL)."
        )
    try:
        data = base64.b64decode(match[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_argument(f"Image {index}: the data URL is not valid base64.") from exc
    fmt = image_format(data)
    try:
        size = dimensions(data) if fmt is not None else None
    except ValueError:
        size = None
    if fmt is None or size is None:
        raise invalid_argument(
            f"Image {index}: unsupported or corrupt image; use PNG, JPEG or WebP."
        )
    return Reference(data=data, media_type=f"image/{fmt}", size=size)


def nearest_ratio(width: int, height: int) -> str:
    """The supported ratio closest to an input image's (Choice: what ``auto`` means on edits)."""
    goal = Fraction(width, height)

    def distance(name: str) -> Fraction:
        w, h = (Fraction(x) for x in name.split(":"))
        ratio = w / h
        return max(ratio, goal) / min(ratio, goal)

    return min((r for r in ASPECT_RATIOS if r != "auto"), key=distance)


def output_size(ratio: str, resolution: str) -> tuple[int, int]:
    """Pixels for a ratio at a tier: about 1 or 4 MP, edges multiples of 16 (Choice).

    The short edge is fitted first and the long edge follows from it, so the rounding error
    of the ratio stays small.
    """
    w, h = (Fraction(x) for x in ratio.split(":"))
    long_over_short = max(w, h) / min(w, h)
    short = _multiple_of_16(math.sqrt(TIER_PIXELS[resolution] / long_over_short))
    long = _multiple_of_16(short * long_over_short)
    return (long, short) if w >= h else (short, long)


def _multiple_of_16(value: float | Fraction) -> int:
    return max(16, 16 * math.floor(value / 16 + Fraction(1, 2)))


__all__ = [
    "ASPECT_RATIOS",
    "MODELS",
    "Reference",
    "XaiError",
    "XaiJob",
    "deserialize",
    "output_size",
    "validate",
]
