"""BFL model rules: which body fields each model takes, their bounds, output size and price.

Pure functions only. ``validate`` checks a submit body the way BFL's FastAPI app does
(as BFL documents them: unknown keys, types, bounds, multiples of 16) and returns a resolved
:class:`Job`, or raises a 422 listing every problem; ``credits`` applies the §7 formula.
Choices where the reference is unsure are marked "Choice".
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from simulator.bfl_errors import item, validation
from simulator.render import ImageFormat, dimensions, image_format

# Choice: one billed megapixel is 1024x1024. It is the only reading under which the reference's
# two submit examples agree with its formula (§3: 1.98 MP -> 4.5 credits; §8: 1.05 MP, i.e.
# 1024x1024, -> 3.0 credits). input_mp/output_mp are reported in decimal megapixels to two
# places, as in those examples.
BILLED_MP = 1024 * 1024
# §2.1: "product <= 4 MP" (§9: 422 when "> 4 MP"), in the decimal megapixels the answers report
# (§3, §8): 4,000,000 pixels, so 2000x2000 passes and 2048x2048 (4,194,304) is a 422. No edge cap
# beyond that and the 64 px minimum.
FLUX2_MAX_PIXELS = 4_000_000
PRO_BUDGET_PIXELS = 9 * BILLED_MP  # [pro]: input + output <= 9 MP (§2.1)

_FLUX2 = frozenset(
    {"prompt", "width", "height", "seed", "safety_tolerance", "output_format"}
    | {"webhook_url", "webhook_secret"}
)
_KONTEXT = (_FLUX2 - {"width", "height"}) | {"aspect_ratio", "prompt_upsampling"}
_PRO_11 = _FLUX2 | {"prompt_upsampling"}
_ULTRA = (_FLUX2 - {"width", "height"}) | {"aspect_ratio", "raw", "image_prompt_strength"}

Problems = list[dict[str, Any]]


@dataclass(frozen=True)
class ModelRules:
    """What one ``POST /v1/<slug>`` accepts, and what it costs (credits)."""

    fields: frozenset[str]  # accepted keys besides the reference images
    ratio: bool = False  # takes aspect_ratio instead of width/height
    refs: int = 0  # input_image .. input_image_<refs>
    image_prompt: bool = False  # FLUX1.1: one Redux image as `image_prompt`
    multiple: int = 16
    min_edge: int = 64
    max_edge: int | None = None
    max_pixels: int = FLUX2_MAX_PIXELS
    default_size: tuple[int, int] = (1024, 1024)
    ratio_pixels: int = BILLED_MP  # target pixels of the ratio models
    default_ratio: Fraction | None = None
    safety_max: int = 5  # FLUX.2: 0-5; FLUX.1: 0-6
    formats: tuple[ImageFormat, ...] = ("jpeg", "png", "webp")
    default_format: ImageFormat = "jpeg"
    first_mp: Decimal = Decimal(0)  # credits for the first output megapixel
    extra_mp: Decimal = Decimal(0)  # credits for each further output or input megapixel
    flat: Decimal | None = None  # flat credits per image (FLUX.1)
    budget_pixels: int | None = None
    bool_fields: frozenset[str] = field(
        default=frozenset({"disable_pup", "prompt_upsampling", "raw"})
    )


def _flux2(first: str, extra: str, refs: int, *more: str, budget: int | None = None) -> ModelRules:
    return ModelRules(
        _FLUX2 | frozenset(more),
        refs=refs,
        first_mp=Decimal(first),
        extra_mp=Decimal(extra),
        budget_pixels=budget,
    )


def _legacy(fields: frozenset[str], credits: int, **kw: Any) -> ModelRules:
    return ModelRules(fields, safety_max=6, formats=("jpeg", "png"), flat=Decimal(credits), **kw)


MODELS: dict[str, ModelRules] = {
    "flux-2-max": _flux2("7", "3", 8, "disable_pup"),
    "flux-2-pro": _flux2("3", "1.5", 8, "disable_pup", budget=PRO_BUDGET_PIXELS),
    "flux-2-pro-preview": _flux2("3", "1.5", 8, "disable_pup", budget=PRO_BUDGET_PIXELS),
    "flux-2-flex": _flux2(
        "5", "5", 8, "steps", "guidance", "prompt_upsampling", "input_image_blob_path"
    ),
    "flux-2-klein-9b": _flux2("1.5", "0.2", 4),
    "flux-2-klein-9b-preview": _flux2("1.5", "0.2", 4),  # Choice: priced as klein 9B
    "flux-2-klein-4b": _flux2("1.4", "0.1", 4),
    "flux-kontext-pro": _legacy(_KONTEXT, 4, ratio=True, refs=4, default_format="png"),
    "flux-kontext-max": _legacy(_KONTEXT, 8, ratio=True, refs=4, default_format="png"),
    "flux-pro-1.1": _legacy(
        _PRO_11,
        4,
        image_prompt=True,
        multiple=32,
        min_edge=256,
        max_edge=1440,
        max_pixels=1440 * 1440,
        default_size=(1024, 768),
    ),
    "flux-pro-1.1-ultra": _legacy(
        _ULTRA,
        6,
        ratio=True,
        image_prompt=True,
        ratio_pixels=2048 * 2048,  # "about 4 MP"
        default_ratio=Fraction(16, 9),
    ),
}
# Kontext Max allows 6 active tasks per key instead of 24 (§6).
SMALL_CAP_MODELS = frozenset({"flux-kontext-max"})

_REF = re.compile(r"^input_image(?:_([2-9]))?$")
# §2.4: aspect_ratio is 'a string "W:H"', whole numbers ("9:19.5" is refused; "6:13" is it).
_RATIO = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True)
class InputImage:
    """A decoded reference (or a URL the simulator cannot fetch: ``data`` is None)."""

    field: str
    data: bytes | None
    size: tuple[int, int] | None

    def summary(self) -> dict[str, Any]:
        """What the request log shows instead of the bytes."""
        if self.data is None:
            return {"url": True}
        return {
            "base64_bytes": len(self.data),
            "format": image_format(self.data),
            "size": list(self.size) if self.size else None,
        }


@dataclass(frozen=True)
class Job:
    """A validated submit: the image to make."""

    model: str
    prompt: str
    width: int
    height: int
    output_format: ImageFormat
    seed: int | None
    inputs: tuple[InputImage, ...]

    @property
    def input_pixels(self) -> int:
        # Choice: a URL reference the simulator cannot fetch counts as one billed megapixel.
        return sum(i.size[0] * i.size[1] if i.size else BILLED_MP for i in self.inputs)


def credits(job: Job) -> Decimal:
    """§7: first + (ceil(out MP) - 1) * extra + ceil(sum of input MP) * extra; flat for FLUX.1."""
    rules = MODELS[job.model]
    if rules.flat is not None:
        return rules.flat
    out_mp = math.ceil(job.width * job.height / BILLED_MP)
    in_mp = math.ceil(job.input_pixels / BILLED_MP)
    return rules.first_mp + (out_mp - 1) * rules.extra_mp + in_mp * rules.extra_mp


def reported_mp(pixels: int) -> float:
    """Decimal megapixels to two places, as ``input_mp``/``output_mp`` show them."""
    return round(pixels / 1_000_000, 2)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def validate(model: str, body: dict[str, Any]) -> Job:
    """The resolved job, or a 422 listing every problem (as FastAPI does)."""
    rules = MODELS[model]
    problems: Problems = []
    refs: list[InputImage] = []
    for key, value in body.items():
        if _is_ref(rules, key):
            ref = _reference(key, value, problems)
            if ref is not None:
                refs.append(ref)
        elif key not in rules.fields:
            problems.append(
                item("extra_forbidden", ["body", key], "Extra inputs are not permitted", value)
            )
    prompt = body.get("prompt")
    if "prompt" not in body:
        problems.append(item("missing", ["body", "prompt"], "Field required", None))
    elif not isinstance(prompt, str):
        problems.append(
            item("string_type", ["body", "prompt"], "Input should be a valid string", prompt)
        )
    _scalars(rules, body, problems)
    width, height = _ratio_size(rules, body, refs, problems) if rules.ratio else (0, 0)
    if not rules.ratio:
        width, height = _pixel_size(rules, body, refs, problems)
    if rules.budget_pixels is not None and not problems:
        used = width * height + sum(r.size[0] * r.size[1] for r in refs if r.size)
        if used > rules.budget_pixels:
            message = "Value error, input and output images together exceed 9 megapixels"
            problems.append(item("value_error", ["body"], message, None))
    if problems:
        raise validation(problems)
    fmt: ImageFormat = body.get("output_format") or rules.default_format
    return Job(model, str(prompt), width, height, fmt, body.get("seed"), tuple(refs))


def summarise(body: dict[str, Any]) -> dict[str, Any]:
    """The body for the request log: every reference image replaced by a short summary."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if (key == "image_prompt" or _REF.match(key)) and isinstance(value, str):
            ref = _reference(key, value, [])
            out[key] = ref.summary() if ref is not None else {"invalid": True}
        else:
            out[key] = value
    return out


def _is_ref(rules: ModelRules, key: str) -> bool:
    if key == "image_prompt":
        return rules.image_prompt
    match = _REF.match(key)
    return match is not None and int(match.group(1) or 1) <= rules.refs


def _reference(key: str, value: Any, problems: Problems) -> InputImage | None:
    """Raw base64 (or a data URL) is decoded; an http(s) URL is accepted but not fetched."""
    if value is None:
        return None
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return InputImage(key, None, None)
    text = value if isinstance(value, str) else ""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    size: tuple[int, int] | None = None
    try:
        data = base64.b64decode(text, validate=True)
        size = dimensions(data) if image_format(data) else None
    except (binascii.Error, ValueError):
        data = b""
    if size is None:
        message = "Value error, expected an image URL or a base64-encoded image"
        problems.append(item("value_error", ["body", key], message, "…"))
        return None
    return InputImage(key, data, size)


def _type_problem(key: str, value: Any, kind: str) -> dict[str, Any] | None:
    is_bool = isinstance(value, bool)
    if kind == "bool":
        ok = is_bool
    elif kind == "int":
        ok = isinstance(value, int) and not is_bool
    else:
        ok = isinstance(value, int | float) and not is_bool
    if ok:
        return None
    name = {"bool": "boolean", "int": "integer", "float": "number"}[kind]
    return item(f"{kind}_type", ["body", key], f"Input should be a valid {name}", value)


def _bound_problem(key: str, value: float, low: float | None, high: float | None) -> Any:
    if low is not None and value < low:
        message = f"Input should be greater than or equal to {low:g}"
        return item("greater_than_equal", ["body", key], message, value, ge=low)
    if high is not None and value > high:
        message = f"Input should be less than or equal to {high:g}"
        return item("less_than_equal", ["body", key], message, value, le=high)
    return None


def _scalars(rules: ModelRules, body: dict[str, Any], problems: Problems) -> None:
    numbers: dict[str, tuple[str, float | None, float | None]] = {
        "seed": ("int", None, None),
        "safety_tolerance": ("int", 0, rules.safety_max),
        "steps": ("int", 1, 50),
        "guidance": ("float", 1.5, 10),
        "image_prompt_strength": ("float", 0, 1),
    }
    for key in rules.fields & body.keys():
        value = body[key]
        if value is None:
            continue
        if key in rules.bool_fields:
            problem = _type_problem(key, value, "bool")
        elif key in numbers:
            kind, low, high = numbers[key]
            problem = _type_problem(key, value, kind) or _bound_problem(key, value, low, high)
        else:
            continue
        if problem is not None:
            problems.append(problem)
    fmt = body.get("output_format")
    if fmt is not None and fmt not in rules.formats:
        allowed = ", ".join(f"'{f}'" for f in rules.formats[:-1]) + f" or '{rules.formats[-1]}'"
        problems.append(item("enum", ["body", "output_format"], f"Input should be {allowed}", fmt))


def _edge_problem(rules: ModelRules, key: str, value: Any) -> dict[str, Any] | None:
    problem = _type_problem(key, value, "int")
    if problem is None:
        problem = _bound_problem(key, value, rules.min_edge, rules.max_edge)
    if problem is None and value % rules.multiple:
        message = f"Input should be a multiple of {rules.multiple}"
        problem = item("multiple_of", ["body", key], message, value, multiple_of=rules.multiple)
    return problem


def _pixel_size(
    rules: ModelRules, body: dict[str, Any], refs: list[InputImage], problems: Problems
) -> tuple[int, int]:
    """width/height as given; 0 or null lets the model pick (the first reference's size)."""
    first = refs[0].size if refs and refs[0].size else None
    default = _matching(first, rules) if first else rules.default_size
    edges = []
    for key, fallback in zip(("width", "height"), default, strict=True):
        value = body.get(key)
        if value is None or value == 0:
            edges.append(fallback)
            continue
        problem = _edge_problem(rules, key, value)
        if problem is not None:
            problems.append(problem)
        edges.append(value if problem is None else fallback)
    width, height = edges
    if width * height > rules.max_pixels:
        message = f"Value error, width * height must be at most {rules.max_pixels} pixels"
        problems.append(item("value_error", ["body"], message, {"width": width, "height": height}))
    return width, height


def _matching(size: tuple[int, int], rules: ModelRules) -> tuple[int, int]:
    """A reference's size, shrunk under the pixel cap and snapped to the multiple."""
    scale = min(1.0, math.sqrt(rules.max_pixels / (size[0] * size[1])))
    width, height = (
        max(rules.min_edge, int(edge * scale) // rules.multiple * rules.multiple) for edge in size
    )
    return width, height


def _ratio_size(
    rules: ModelRules, body: dict[str, Any], refs: list[InputImage], problems: Problems
) -> tuple[int, int]:
    """About ``ratio_pixels`` at the ratio (default: the model's, the first reference's, 1:1)."""
    raw = body.get("aspect_ratio")
    value = rules.default_ratio or (Fraction(*refs[0].size) if refs and refs[0].size else None)
    if raw is not None:
        match = _RATIO.match(raw) if isinstance(raw, str) else None
        value = None
        if match and int(match.group(1)) and int(match.group(2)):
            value = Fraction(int(match.group(1)), int(match.group(2)))
        if value is None or not Fraction(9, 21) <= value <= Fraction(21, 9):
            message = (
                'Value error, aspect ratio must be "W:H" in whole numbers between 21:9 and 9:21'
            )
            problems.append(item("value_error", ["body", "aspect_ratio"], message, raw))
            return 1024, 1024
    ratio = float(value or 1)
    width = round(math.sqrt(rules.ratio_pixels * ratio) / 16) * 16
    height = round(math.sqrt(rules.ratio_pixels / ratio) / 16) * 16
    return width, height
