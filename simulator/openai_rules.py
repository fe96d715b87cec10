"""OpenAI Images API rules: per-model validation (reference §2, §3, §9) and usage (§8.2).

Pure functions only; ``validate`` turns typed request fields into a resolved ``ImageJob`` or
raises ``OpenAIError`` with the §6 envelope. Choices where the reference is unsure are marked
"Choice" and kept as module constants.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from simulator.openai_errors import (
    OpenAIError,
    invalid_type,
    invalid_value,
    missing_parameter,
    model_not_found,
    out_of_range,
    too_long,
    unknown_parameter,
    unsupported_parameter,
)
from simulator.render import ImageFormat

FIXED_SIZES = ("1024x1024", "1536x1024", "1024x1536")
BASE_QUALITIES = ("low", "medium", "high", "auto")
MAX_PROMPT = 32_000
MAX_EDIT_IMAGES = 16
MIN_PIXELS, MAX_PIXELS, MAX_EDGE = 655_360, 8_294_400, 3840

# Choice: the reference does not say what `auto` resolves to; `high` matches observed responses
# of the gpt-image-1 era. Generations with `size: auto` get a square.
AUTO_QUALITY = "high"
AUTO_SIZE = (1024, 1024)
# Choice: the reference has no token counts for the 2.5-only tiers; scale `high`.
TIER_FACTOR = {"xhigh": 1.5, "max": 2.0}

# Reference §8.2, identical for gpt-image-1, -1-mini and -1.5.
OUTPUT_TOKENS: dict[str, dict[str, int]] = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
PARTIAL_IMAGE_TOKENS = 100


@dataclass(frozen=True)
class ModelRules:
    """What one model accepts."""

    free_size: bool
    qualities: tuple[str, ...] = BASE_QUALITIES
    input_fidelity: tuple[str, ...] = ("high", "low")  # empty: parameter unsupported
    markup: bool = False


_FIXED = ModelRules(free_size=False)
_V2 = ModelRules(free_size=True, input_fidelity=())
# Choice: the reference only forbids input_fidelity for gpt-image-2; 2.5/2.6 accept it.
_V25 = ModelRules(
    free_size=True, qualities=(*BASE_QUALITIES[:3], "xhigh", "max", "auto"), markup=True
)
_V26 = ModelRules(free_size=True)  # sizes "assume like 2.5" [INF]; xhigh/max are 2.5-only

MODELS: dict[str, ModelRules] = {
    "gpt-image-1-mini": ModelRules(free_size=False, input_fidelity=("low",)),
    "gpt-image-1.5": _FIXED,
    "chatgpt-image-latest": _FIXED,
    "gpt-image-2": _V2,
    "gpt-image-2-2026-04-21": _V2,
    "gpt-image-2.5-sunburst": _V25,
    "gpt-image-2.5-sunburst-2026-09-08": _V25,
    "gpt-image-2.5-flare": _V25,
    "gpt-image-2.5-flare-2026-09-08": _V25,
    "gpt-image-2.6-sunburst": _V26,
    "gpt-image-2.6-flare": _V26,
}
# Retired models answer like unknown ones (reference §0: exact body unknown, model-not-found shape).
# Choice: a request without `model` used to mean dall-e-2, which is retired: 404 as well.
DEFAULT_MODEL = "dall-e-2"

FIELD_TYPES: dict[str, type] = {
    "prompt": str,
    "model": str,
    "n": int,
    "size": str,
    "quality": str,
    "background": str,
    "output_format": str,
    "output_compression": int,
    "moderation": str,
    "stream": bool,
    "partial_images": int,
    "user": str,
    "safety_identifier": str,
    "complexity": str,
    "frame_count": int,
    "frame_duration_ms": int,
    "svg": dict,
    "input_fidelity": str,
}
# input_fidelity is edits-only (§3.1 table; not among §2.1's generation fields). The SDK's
# multipart edit params have no `moderation` (§3.1); only the JSON form of edits takes it (§3.3).
# A field outside these sets is 400 `unknown_parameter` (§6).
GENERATION_FIELDS = frozenset(FIELD_TYPES) - {"input_fidelity"}
EDIT_FIELDS = frozenset(FIELD_TYPES)
MULTIPART_EDIT_FIELDS = EDIT_FIELDS - {"moderation"}


@dataclass(frozen=True)
class ImageJob:
    """A validated request with every value resolved."""

    model: str
    prompt: str
    n: int
    width: int
    height: int
    quality: str
    background: str
    output_format: ImageFormat
    output_compression: int
    stream: bool
    partial_images: int
    input_fidelity: str
    safety_identifier: str | None
    requested: dict[str, str]
    """The size/quality/background as sent (``auto`` when omitted), echoed in stream events."""

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def coerce_form(fields: dict[str, str]) -> dict[str, Any]:
    """Multipart sends every value as text: turn numbers and booleans back into JSON types."""
    out: dict[str, Any] = {}
    for name, text in fields.items():
        kind = FIELD_TYPES.get(name)
        if kind is int and re.fullmatch(r"-?\d+", text.strip()):
            out[name] = int(text)
        elif kind is bool and text.strip().lower() in ("true", "false"):
            out[name] = text.strip().lower() == "true"
        else:
            out[name] = text
    return out


def validate(
    fields: dict[str, Any],
    *,
    edit: bool,
    first_image: tuple[int, int] | None = None,
    multipart: bool = False,
) -> ImageJob:
    """Check ``fields`` (JSON-typed, without the image parts) against the model's rules;
    ``multipart``: an edit's multipart form, which takes fewer fields than its JSON form."""
    fields = {k: v for k, v in fields.items() if v is not None}
    model = fields.get("model", DEFAULT_MODEL)
    if not isinstance(model, str):
        raise invalid_type("model", str, model)
    rules = MODELS.get(model)
    if rules is None:
        raise model_not_found(model)
    allowed = (MULTIPART_EDIT_FIELDS if multipart else EDIT_FIELDS) if edit else GENERATION_FIELDS
    for name, value in fields.items():
        if name not in allowed:
            raise unknown_parameter(name)
        if not isinstance(value, FIELD_TYPES[name]) or (
            FIELD_TYPES[name] is int and isinstance(value, bool)
        ):
            raise invalid_type(name, FIELD_TYPES[name], value)
    prompt = fields.get("prompt")
    if prompt is None:
        raise missing_parameter("prompt")
    if not prompt:
        raise OpenAIError(
            400,
            "Invalid 'prompt': string too short. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param="prompt",
            code="string_below_min_length",
        )
    if len(prompt) > MAX_PROMPT:
        raise too_long("prompt", "string", len(prompt), MAX_PROMPT)
    n = _ranged(fields, "n", 1, 1, 10)
    quality = _choice(fields, "quality", rules.qualities)
    background = _choice(fields, "background", ("transparent", "opaque", "auto"))
    fmt = _output_format(fields)
    compression = _ranged(fields, "output_compression", 100, 0, 100)
    if fmt == "png" and compression < 100:
        raise OpenAIError(
            400,
            "Compression less than 100 is not supported for PNG output format.",
            param="output_compression",
            code="invalid_value",
        )
    if background == "transparent" and fmt == "jpeg":
        raise invalid_value(
            "background",
            background,
            why="Transparent background requires output_format 'png' or 'webp'.",
        )
    _choice(fields, "moderation", ("low", "auto"))
    _choice(fields, "complexity", ("low", "medium", "high"))
    partials = _ranged(fields, "partial_images", 0, 0, 3)
    fidelity = _input_fidelity(fields, rules)
    width, height = _size(fields.get("size", "auto"), rules, first_image)
    return ImageJob(
        model=model,
        prompt=prompt,
        n=n,
        width=width,
        height=height,
        quality=AUTO_QUALITY if quality == "auto" else quality,
        background="opaque" if background == "auto" else background,
        output_format=fmt,
        output_compression=compression,
        stream=bool(fields.get("stream", False)),
        partial_images=partials,
        input_fidelity=fidelity,
        safety_identifier=fields.get("safety_identifier") or fields.get("user"),
        requested={
            "size": fields.get("size", "auto"),
            "quality": quality,
            "background": background,
        },
    )


def _ranged(fields: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value: int = fields.get(name, default)
    if not low <= value <= high:
        raise out_of_range(name, value, low, high)
    return value


def _choice(fields: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value: str = fields.get(name, "auto" if "auto" in allowed else allowed[0])
    if value not in allowed:
        raise invalid_value(name, value, list(allowed))
    return value


def _output_format(fields: dict[str, Any]) -> ImageFormat:
    fmt = fields.get("output_format", "png")
    if fmt in ("gif", "svg"):
        # Choice: gif/svg need preview access (reference §2.1); the simulator has none.
        raise invalid_value(
            "output_format", fmt, why="This format requires preview access for your organization."
        )
    for preview_only in ("frame_count", "frame_duration_ms", "svg"):
        if preview_only in fields:
            raise unsupported_parameter(preview_only)
    if fmt == "png":
        return "png"
    if fmt == "jpeg":
        return "jpeg"
    if fmt == "webp":
        return "webp"
    raise invalid_value("output_format", fmt, ["png", "jpeg", "webp"])


def _input_fidelity(fields: dict[str, Any], rules: ModelRules) -> str:
    if "input_fidelity" not in fields:
        return "low"
    if not rules.input_fidelity:
        raise unsupported_parameter("input_fidelity")
    value: str = fields["input_fidelity"]
    if value not in rules.input_fidelity:
        raise invalid_value("input_fidelity", value, list(rules.input_fidelity))
    return value


def _size(size: str, rules: ModelRules, first_image: tuple[int, int] | None) -> tuple[int, int]:
    if size == "auto":
        return _auto_size(rules, first_image)
    if not rules.free_size:
        if size not in FIXED_SIZES:
            # Order as in the verbatim upstream message.
            raise invalid_value("size", size, ["1024x1024", "1024x1536", "1536x1024", "auto"])
        width, _, height = size.partition("x")
        return int(width), int(height)
    match = re.fullmatch(r"([1-9]\d{0,4})x([1-9]\d{0,4})", size)
    if match is None:
        raise invalid_value("size", size, why="Expected 'auto' or 'WIDTHxHEIGHT'.")
    w, h = int(match[1]), int(match[2])
    problem = _free_size_problem(w, h)
    if problem:
        raise invalid_value("size", size, why=problem)
    return w, h


def _free_size_problem(w: int, h: int) -> str:
    if w % 16 or h % 16:
        return "Width and height must both be multiples of 16."
    if max(w, h) > 3 * min(w, h):
        return "The aspect ratio must be between 1:3 and 3:1."
    if max(w, h) > MAX_EDGE:
        return f"The longest edge must be at most {MAX_EDGE} pixels."
    if not MIN_PIXELS <= w * h <= MAX_PIXELS:
        return f"The total pixel count must be between {MIN_PIXELS} and {MAX_PIXELS}."
    return ""


def _auto_size(rules: ModelRules, first_image: tuple[int, int] | None) -> tuple[int, int]:
    """Choice: generations get a square; edits follow the first input image's shape."""
    if first_image is None:
        return AUTO_SIZE
    iw, ih = first_image
    ratio = min(3.0, max(1 / 3, iw / ih))
    if not rules.free_size:
        return (1536, 1024) if ratio > 1.2 else (1024, 1536) if ratio < 1 / 1.2 else AUTO_SIZE
    # Same shape at about one megapixel, on the 16-pixel grid, inside the model limits.
    h = math.sqrt(AUTO_SIZE[0] * AUTO_SIZE[1] / ratio)
    w16, h16 = round(h * ratio / 16) * 16, round(h / 16) * 16
    while w16 * h16 < MIN_PIXELS:
        w16, h16 = w16 + 16, h16 + 16
    return w16, h16


# ---------------------------------------------------------------------------------------------
# Usage (reference §8.2, §5.3)


def output_tokens(quality: str, width: int, height: int) -> int:
    """§8.2 counts; other sizes scale the square count by area (Choice)."""
    base = quality if quality in OUTPUT_TOKENS else "high"
    table = OUTPUT_TOKENS[base]
    size = f"{width}x{height}"
    tokens = table[size] if size in table else table["1024x1024"] * width * height / 1024**2
    return round(tokens * TIER_FACTOR.get(quality, 1.0))


def text_tokens(prompt: str) -> int:
    """Choice: ~4/3 tokens per word plus a fixed overhead ("a red fox, flat vector" → 12)."""
    return math.ceil(len(prompt.split()) * 4 / 3) + 5


def image_tokens(width: int, height: int, fidelity: str) -> int:
    """Choice: the GPT-4o vision tile rule (fit 2048², shortest side 768, 85 + 170/tile);
    ``high`` input fidelity doubles it."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    tiles = math.ceil(w * scale / 512) * math.ceil(h * scale / 512)
    return (85 + 170 * tiles) * (2 if fidelity == "high" else 1)


def usage(
    job: ImageJob,
    input_images: list[tuple[int, int]],
    *,
    images: int,
    partials: int = 0,
    with_input: bool = True,
    details: bool = True,
) -> dict[str, Any]:
    """The ``usage`` object for ``images`` outputs (+100 tokens per partial image)."""
    text = text_tokens(job.prompt) if with_input else 0
    image_in = sum(image_tokens(w, h, job.input_fidelity) for w, h in input_images)
    image_in = image_in if with_input else 0
    out = images * output_tokens(job.quality, job.width, job.height) + partials * (
        PARTIAL_IMAGE_TOKENS
    )
    result: dict[str, Any] = {
        "input_tokens": text + image_in,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens": out,
        "total_tokens": text + image_in + out,
    }
    if details:
        result["output_tokens_details"] = {"text_tokens": 0, "image_tokens": out}
    return result
