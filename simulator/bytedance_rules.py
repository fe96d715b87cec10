"""Seedream per-model validation → a resolved :class:`Job`.

Pure functions: a parsed JSON body goes in, a :class:`Job` comes out, or a
:class:`SeedreamError` (400 ``InvalidParameter`` / ``MissingParameter`` naming ``param``, 404
for an unknown model). Choices where the reference is unsure are marked "Choice".
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from simulator.bytedance_errors import invalid, missing, not_found, unsupported
from simulator.bytedance_inputs import MAX_RATIO, Reference, parse_references
from simulator.render import open_image

OutputFormat = Literal["jpeg", "png"]

TIER_EDGES = {"1K": 1024, "1.5K": 1536, "2K": 2048, "3K": 3072, "4K": 4096}
MAX_TOTAL_IMAGES = 15  # references + generated images (§2)
# Choice: with no `size`, 4.x docs say 2048x2048; used for every model (it fits all ranges).
DEFAULT_SIZE = (2048, 2048)
# Choice: a tier with no ratio hint in the prompt yields "model-chosen dimensions" (§1 gotcha:
# 5.0 pro 1K gave 1248x832); the simulator picks 3:2 landscape, never the square a client
# might assume, so adapters must read the real size from the answer.
TIER_DEFAULT_RATIO = (3, 2)
_RATIO_HINT = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d)?)\s*[:：]\s*(\d{1,2}(?:\.\d)?)(?![\d.])")
_WXH = re.compile(r"^([1-9]\d{0,5})x([1-9]\d{0,5})$")

# Every request field of the API (§2). Anything else is a 400 naming it. Choice: the reference
# does not say whether unknown fields are ignored; rejecting them catches stray fields.
KNOWN_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "image",
        "size",
        "sequential_image_generation",
        "sequential_image_generation_options",
        "stream",
        "response_format",
        "watermark",
        "output_format",
        "optimize_prompt_options",
        "tools",
        "seed",
        "guidance_scale",
        "layer_decomposition",
        "background",
    }
)
# 3.x-only fields, and fields the API has never had (§2: "no n and no quality").
NEVER_ON_4X_5X = ("seed", "guidance_scale", "n", "quality")


@dataclass(frozen=True)
class ModelRules:
    """What one Seedream model accepts (§1 table)."""

    tiers: tuple[str, ...]
    min_pixels: int
    max_pixels: int
    max_references: int
    sequential: bool
    output_formats: tuple[str, ...] = ()  # empty: output_format is rejected (always jpeg)
    stream: bool = True
    fast_mode: bool = False  # optimize_prompt_options.mode "fast"
    tools: bool = False  # tools: [{"type": "web_search"}]
    extra_fields: frozenset[str] = frozenset()

    @property
    def family_5(self) -> bool:
        return bool(self.output_formats)


_V40 = ModelRules(("1K", "2K", "4K"), 921_600, 16_777_216, 14, True, fast_mode=True)
_V45 = ModelRules(("2K", "4K"), 3_686_400, 16_777_216, 14, True)
# Choice: no ceiling is documented for 5.0 lite; "some docs add 4K", so 4096² is taken.
_V50_LITE = ModelRules(
    ("2K", "3K"), 3_686_400, 16_777_216, 14, True, output_formats=("png", "jpeg"), tools=True
)
_V50_PRO = ModelRules(
    ("1K", "1.5K", "2K"),
    921_600,
    4_624_220,
    10,
    False,
    output_formats=("png", "jpeg"),
    stream=False,
    fast_mode=True,
    extra_fields=frozenset({"layer_decomposition", "background"}),
)
MODELS: dict[str, ModelRules] = {
    "seedream-4-0-250828": _V40,
    "seedream-4-5-251128": _V45,
    "seedream-5-0-260128": _V50_LITE,
    "seedream-5-0-lite-260128": _V50_LITE,
    "dola-seedream-5-0-pro-260628": _V50_PRO,
}


@dataclass
class Job:
    """A validated request with every value resolved."""

    model: str  # as the request spelled it (the stream echo repeats it)
    rules: ModelRules
    prompt: str
    width: int
    height: int
    max_images: int  # images to attempt: max_images with "auto", else 1
    sequential: bool
    output_format: OutputFormat
    response_format: str
    watermark: bool
    stream: bool
    references: list[Reference] = field(default_factory=list)
    web_search: bool = False

    def base_image(self) -> tuple[Image.Image | None, str]:
        """The first decoded reference (blended into the render) and a digest of it."""
        for ref in self.references:
            if ref.source == "data":
                digest = hashlib.blake2b(ref.data, digest_size=16).hexdigest()
                return open_image(ref.data), digest
        return None, ""


def validate(body: dict[str, Any], request_id: str, *, prompt_text: str) -> Job:
    """Check ``body`` against its model's rules; ``prompt_text`` is the directive-free prompt."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise missing("model", request_id)
    rules = MODELS.get(model)
    if rules is None:
        raise not_found(model, request_id)
    _check_fields(body, rules, request_id)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise missing("prompt", request_id)
    references = parse_references(body.get("image"), rules.max_references, request_id)
    sequential, max_images = _sequential(body, rules, len(references), request_id)
    width, height = _size(body.get("size"), rules, prompt_text, request_id)
    return Job(
        model=model,
        rules=rules,
        prompt=prompt,
        width=width,
        height=height,
        max_images=max_images,
        sequential=sequential,
        output_format=_output_format(body, rules, request_id),
        response_format=_choice(body, "response_format", ("url", "b64_json"), "url", request_id),
        watermark=_bool(body, "watermark", True, request_id),
        stream=_stream(body, rules, request_id),
        references=references,
        web_search=_tools(body, rules, request_id),
    )


def _check_fields(body: dict[str, Any], rules: ModelRules, request_id: str) -> None:
    for name in body:
        if name in NEVER_ON_4X_5X:
            raise unsupported(name, request_id)
        if name not in KNOWN_FIELDS:
            raise invalid(name, f"unknown parameter {name}", request_id)
        if name in ("layer_decomposition", "background") and name not in rules.extra_fields:
            raise unsupported(name, request_id)
    options = body.get("optimize_prompt_options")
    if options is not None:
        mode = options.get("mode", "standard") if isinstance(options, dict) else None
        if mode not in ("standard", "fast"):
            raise invalid("optimize_prompt_options.mode", "mode must be 'standard'", request_id)
        if mode == "fast" and not rules.fast_mode:
            raise invalid("optimize_prompt_options.mode", "mode must be 'standard'", request_id)


def _choice(
    body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str, request_id: str
) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise invalid(name, f"{value!r} is not one of {', '.join(allowed)}", request_id)
    return str(value)


def _bool(body: dict[str, Any], name: str, default: bool, request_id: str) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise invalid(name, "expected a boolean", request_id)
    return value


def _stream(body: dict[str, Any], rules: ModelRules, request_id: str) -> bool:
    stream = _bool(body, "stream", False, request_id)
    if stream and not rules.stream:
        raise unsupported("stream", request_id)
    return stream


def _output_format(body: dict[str, Any], rules: ModelRules, request_id: str) -> OutputFormat:
    value = body.get("output_format")
    if value is None:
        return "jpeg"
    if not rules.output_formats:
        raise unsupported("output_format", request_id)
    if value == "png":
        return "png"
    if value == "jpeg":
        return "jpeg"
    raise invalid("output_format", f"{value!r} is not one of png, jpeg", request_id)


def _tools(body: dict[str, Any], rules: ModelRules, request_id: str) -> bool:
    tools = body.get("tools")
    if tools is None:
        return False
    if not rules.tools:
        raise unsupported("tools", request_id)
    if not isinstance(tools, list) or any(t != {"type": "web_search"} for t in tools):
        raise invalid("tools", 'only [{"type": "web_search"}] is supported', request_id)
    return bool(tools)


def _sequential(
    body: dict[str, Any], rules: ModelRules, references: int, request_id: str
) -> tuple[bool, int]:
    """(auto?, images to attempt). References + generated images ≤ 15 (§2)."""
    mode = body.get("sequential_image_generation")
    options = body.get("sequential_image_generation_options")
    if (mode is not None or options is not None) and not rules.sequential:
        param = "sequential_image_generation" if mode is not None else f"{_SEQ}_options"
        raise unsupported(param, request_id)
    if mode not in (None, "auto", "disabled"):
        raise invalid(_SEQ, f"{mode!r} is not one of auto, disabled", request_id)
    max_param = f"{_SEQ}_options.max_images"
    explicit = None
    if options is not None:
        if not isinstance(options, dict):
            raise invalid(f"{_SEQ}_options", "expected an object", request_id)
        explicit = options.get("max_images")
        if explicit is not None and (
            isinstance(explicit, bool)
            or not isinstance(explicit, int)
            or not 1 <= explicit <= MAX_TOTAL_IMAGES
        ):
            raise invalid(max_param, f"must be an integer in [1, {MAX_TOTAL_IMAGES}]", request_id)
    if mode != "auto":
        return False, 1
    if explicit is None:
        return True, max(1, MAX_TOTAL_IMAGES - references)
    if references + explicit > MAX_TOTAL_IMAGES:
        why = (
            f"the number of reference images ({references}) plus max_images ({explicit}) "
            f"must not exceed {MAX_TOTAL_IMAGES}"
        )
        raise invalid(max_param, why, request_id)
    return True, explicit


_SEQ = "sequential_image_generation"


def _size(value: object, rules: ModelRules, prompt: str, request_id: str) -> tuple[int, int]:
    """A tier of this model, or ``WxH`` within its pixel range and the 1:16..16:1 ratios."""
    if value is None:
        return DEFAULT_SIZE
    if not isinstance(value, str):
        raise invalid("size", "expected a string", request_id)
    if value in rules.tiers:
        return tier_size(TIER_EDGES[value] ** 2, rules, prompt)
    if value.upper().endswith("K"):
        raise invalid("size", f"{value} is not one of {', '.join(rules.tiers)}", request_id)
    match = _WXH.match(value)
    if match is None:
        raise invalid("size", f"{value} is neither a resolution tier nor WxH", request_id)
    width, height = int(match.group(1)), int(match.group(2))
    pixels = width * height
    if not rules.min_pixels <= pixels <= rules.max_pixels:
        why = f"total pixels must be within [{rules.min_pixels}, {rules.max_pixels}]"
        raise invalid("size", why, request_id)
    if max(width, height) > MAX_RATIO * min(width, height):
        raise invalid("size", "the aspect ratio must be within [1/16, 16]", request_id)
    return width, height


def tier_size(pixels: int, rules: ModelRules, prompt: str) -> tuple[int, int]:
    """Dimensions for a tier: the prompt's ratio hint (e.g. "16:9"), else the model's choice.

    Edges are multiples of 16 near the tier's area, nudged into the model's pixel range.
    """
    ratio_w, ratio_h = _ratio_hint(prompt) or TIER_DEFAULT_RATIO
    ratio = min(max(ratio_w / ratio_h, 1 / MAX_RATIO), MAX_RATIO)
    target = float(min(max(pixels, rules.min_pixels), rules.max_pixels))
    while True:
        width = max(16, round(math.sqrt(target * ratio) / 16) * 16)
        height = max(16, round(math.sqrt(target / ratio) / 16) * 16)
        if width * height > rules.max_pixels:
            target *= 0.995
        elif width * height < rules.min_pixels:
            target *= 1.005
        else:
            return width, height


def _ratio_hint(prompt: str) -> tuple[float, float] | None:
    match = _RATIO_HINT.search(prompt)
    if match is None:
        return None
    w, h = float(match.group(1)), float(match.group(2))
    return (w, h) if w > 0 and h > 0 else None


__all__ = ["MODELS", "Job", "ModelRules", "validate"]
