"""MAI image rules: deployments, per-model limits, request validation, usage, rate limits.

Pure functions and small state holders.
``validate`` turns typed request fields into a resolved :class:`Job` or raises ``MaiError``.
Choices where the reference is unsure are marked "Choice" and kept as module constants or
:class:`MaiConfig` switches.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator.azure_mai_errors import (
    edge_too_small,
    missing_field,
    not_multiple,
    too_many_pixels,
    unknown_field,
    unsupported_value,
    wrong_type,
)

MIN_EDGE = 768
DEFAULT_EDGE = 1024  # width/height left out: 1024x1024 (what every client defaults to, §3)
CAP_1MP = 1_048_576
CAP_2_36MP = 2_359_296
# Lenient sizing still renders something sane.
RENDER_MAX_EDGE = 4096
MAX_PROMPT_CHARS = 128_000  # "32,000 tokens" of context; characters are cheaper to count
EXTENDED_OPTIONS = ("auto_aspect_ratio", "web_grounding")  # 2.6 only (§3)
KNOWN_FIELDS = frozenset({"model", "prompt", "width", "height", *EXTENDED_OPTIONS})
# Choice: what auto_aspect_ratio picks when the prompt names a shape (no reference image).
_SHAPE_WORDS = (
    (re.compile(r"\b(panorama|panoramic|banner)\b", re.I), 21 / 9),
    (re.compile(r"\b(landscape|wide|widescreen|cinematic)\b", re.I), 16 / 9),
    (re.compile(r"\b(portrait|tall|vertical|poster)\b", re.I), 9 / 16),
)


@dataclass(frozen=True)
class ModelRules:
    """What one MAI base model accepts (§1)."""

    edits: bool
    max_pixels: int
    extended: bool = False  # takes auto_aspect_ratio / web_grounding


MODELS: dict[str, ModelRules] = {
    "MAI-Image-2": ModelRules(edits=False, max_pixels=CAP_1MP),
    "MAI-Image-2e": ModelRules(edits=False, max_pixels=CAP_1MP),
    "MAI-Image-2.5": ModelRules(edits=True, max_pixels=CAP_1MP),
    "MAI-Image-2.5-Flash": ModelRules(edits=True, max_pixels=CAP_1MP),
    "MAI-Image-2.5-Pro": ModelRules(edits=True, max_pixels=CAP_1MP),
    "MAI-Image-2.6": ModelRules(edits=True, max_pixels=CAP_2_36MP, extended=True),
    "MAI-Image-2.6-Flash": ModelRules(edits=True, max_pixels=CAP_2_36MP, extended=True),
}

UsageShape = Literal["usage", "none", "legacy"]


def default_deployments() -> dict[str, str]:
    """Each base model deployed under its own name, as the catalog's defaults expect."""
    return {name: name for name in MODELS}


@dataclass
class MaiConfig:
    """Simulator switches beyond the shared knobs (``GET/POST /_sim/mai``)."""

    deployments: dict[str, str] = field(default_factory=default_deployments)
    """Deployment name → base model name (the ``model`` field is the deployment name)."""
    strict_sizes: bool = True
    """Sides under 768 and products over the model's cap are 400s; off: rendered as asked."""
    multiple_of: int = 0
    """Non-zero: width and height must be multiples of it (pollinations claims 16; unknown)."""
    strict_keys: bool = False
    """400 for unknown keys and for 2.6-only options on other models; off: ignored."""
    max_edit_images: int = 5
    """``image`` parts accepted per edit ("up to five images"); 1 mimics cautious clients."""
    rpm: int = 12
    """Requests per minute per deployment (tier 6); 0: unlimited."""
    usage_shape: UsageShape = "usage"
    """``usage``: the ``usage`` object; ``none``: no usage; ``legacy``: root num_output_tokens."""
    echo_output_image_tokens: bool = False
    """Also send ``usage.output_image_tokens`` (seen in LiteLLM fixtures)."""

    def update(self, changes: dict[str, Any]) -> None:
        """Apply JSON-ish changes, rejecting unknown fields and wrong types (``ValueError``)."""
        staged = copy.deepcopy(self)
        names = {f.name for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in names:
                raise ValueError(f"unknown setting {name!r}; known: {sorted(names)}")
            setattr(staged, name, _coerce(name, value))
        for name in changes:
            setattr(self, name, getattr(staged, name))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, value: Any) -> Any:
    if name == "deployments":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and v in MODELS for k, v in value.items()
        ):
            raise ValueError(f"deployments must map names to one of {sorted(MODELS)}")
        return dict(value)
    if name in ("multiple_of", "max_edit_images", "rpm"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
        if name == "max_edit_images" and not 1 <= value <= 16:
            raise ValueError("max_edit_images must be 1..16")
        return value
    if name == "usage_shape":
        if value not in ("usage", "none", "legacy"):
            raise ValueError("usage_shape must be 'usage', 'none' or 'legacy'")
        return value
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a boolean")
    return value


@dataclass(frozen=True)
class Job:
    """A validated request: what to render and bill."""

    deployment: str
    model: str
    prompt: str
    width: int
    height: int
    auto_aspect_ratio: bool = False
    web_grounding: bool = False


def validate(
    fields: dict[str, Any],
    deployment: str,
    cfg: MaiConfig,
    *,
    first_image: tuple[int, int] | None = None,
) -> Job:
    """Check one request's fields against its deployment's model; resolve its size."""
    model = cfg.deployments[deployment]
    rules = MODELS[model]
    prompt = fields.get("prompt")
    if prompt is None or prompt == "":
        raise missing_field("prompt")
    if not isinstance(prompt, str):
        raise wrong_type("prompt", "a string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise unsupported_value("'prompt' exceeds the maximum context length of 32000 tokens.")
    if cfg.strict_keys:
        for key in fields:
            if key not in KNOWN_FIELDS or (key in EXTENDED_OPTIONS and not rules.extended):
                raise unknown_field(key)
    options = {name: _boolean(fields, name) for name in EXTENDED_OPTIONS}
    width, height = _dimension(fields, "width"), _dimension(fields, "height")
    _check_size(width, height, rules, cfg)
    auto = options["auto_aspect_ratio"] and rules.extended
    if auto:
        width, height = auto_size(width, height, prompt, first_image, rules.max_pixels)
    return Job(
        deployment=deployment,
        model=model,
        prompt=prompt,
        width=width,
        height=height,
        auto_aspect_ratio=auto,
        web_grounding=options["web_grounding"] and rules.extended,
    )


def _boolean(fields: dict[str, Any], name: str) -> bool:
    value = fields.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise wrong_type(name, "a boolean")
    return value


def _dimension(fields: dict[str, Any], name: str) -> int:
    value = fields.get(name)
    if value is None:
        return DEFAULT_EDGE
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(name, "an integer")
    return value


def _check_size(width: int, height: int, rules: ModelRules, cfg: MaiConfig) -> None:
    if not cfg.strict_sizes:
        for name, value in (("width", width), ("height", height)):
            if not 1 <= value <= RENDER_MAX_EDGE:
                raise unsupported_value(f"'{name}' must be 1..{RENDER_MAX_EDGE} pixels.")
        return
    for name, value in (("width", width), ("height", height)):
        if value < MIN_EDGE:
            raise edge_too_small(name, MIN_EDGE)
    if width * height > rules.max_pixels:
        raise too_many_pixels(width, height, rules.max_pixels)
    if cfg.multiple_of:
        for name, value in (("width", width), ("height", height)):
            if value % cfg.multiple_of:
                raise not_multiple(name, cfg.multiple_of)


def auto_size(
    width: int,
    height: int,
    prompt: str,
    first_image: tuple[int, int] | None,
    max_pixels: int,
) -> tuple[int, int]:
    """What ``auto_aspect_ratio`` picks: the reference image's ratio, else a shape the prompt
    names, else the requested ratio; about the requested pixel count, multiples of 16, every
    side >= 768 and the product under the cap."""
    ratio = width / height
    if first_image is not None:
        ratio = first_image[0] / first_image[1]
    else:
        for pattern, value in _SHAPE_WORDS:
            if pattern.search(prompt):
                ratio = value
                break
    ratio = min(max(ratio, MIN_EDGE**2 / max_pixels), max_pixels / MIN_EDGE**2)
    pixels = min(width * height, max_pixels)
    w = max(MIN_EDGE, int(math.sqrt(pixels * ratio)) // 16 * 16)
    h = max(MIN_EDGE, int(pixels / w) // 16 * 16)
    while w * h > max_pixels:  # rounding up to the minimum side can overshoot the cap
        if w >= h:
            w -= 16
        else:
            h -= 16
    return w, h


# --------------------------------------------------------------------------------------------
# Usage (§5): tokens the answer reports
# --------------------------------------------------------------------------------------------


def text_tokens(prompt: str) -> int:
    """About 1.3 tokens per word, rounded half up."""
    return (len(prompt.split()) * 13 + 5) // 10


def image_tokens(size: tuple[int, int]) -> int:
    """One token per started 1024 pixels of an input image (Choice: the rule is unknown)."""
    return max(1, math.ceil(size[0] * size[1] / 1024))


def output_tokens(width: int, height: int) -> int:
    """``w*h/1024`` rounded half up: 1024 at 1024x1024, 576 at 768x768 (§5)."""
    return (width * height + 512) // 1024


def usage_fields(job: Job, input_sizes: list[tuple[int, int]], cfg: MaiConfig) -> dict[str, Any]:
    """The usage part of a success body in the configured shape."""
    out = output_tokens(job.width, job.height)
    if cfg.usage_shape == "none":
        return {}
    if cfg.usage_shape == "legacy":
        return {"num_output_tokens": out}
    usage: dict[str, int] = {
        "num_output_tokens": out,
        "num_input_text_tokens": text_tokens(job.prompt),
        "num_input_image_tokens": sum(image_tokens(s) for s in input_sizes),
    }
    if cfg.echo_output_image_tokens:
        usage["output_image_tokens"] = out
    return {"usage": usage}


# --------------------------------------------------------------------------------------------
# Rate limits (§6): requests per minute per deployment
# --------------------------------------------------------------------------------------------


class RateWindow:
    """Sliding one-minute windows of request times, one per deployment."""

    WINDOW_S = 60.0

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, deployment: str, rpm: int, now: float | None = None) -> float | None:
        """Record a request; None when admitted, else the seconds until a slot frees."""
        if rpm <= 0:
            return None
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._times.setdefault(deployment, deque())
            while times and now - times[0] >= self.WINDOW_S:
                times.popleft()
            if len(times) >= rpm:
                return self.WINDOW_S - (now - times[0])
            times.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._times.clear()
