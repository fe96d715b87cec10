"""Recraft request validation (reference §2, §3): JSON fields → a resolved :class:`Job`.

Pure functions; every failure is a :class:`RecraftError` (a JSON 400 of the synthetic shape,
or the plain-text 404 for an unknown model id). Choices where the reference is unsure:

* Unknown body fields are refused (400 ``unknown_parameter``); Recraft's own decoder may
  ignore them, but a fake that refuses them catches an adapter sending what the API lacks.
* Parameters a model does not take (``style`` on V4, ``negative_prompt`` on V4, ``controls``
  on Flash, ``image_format`` for SVG output) are refused, not ignored ("rejected or ignored",
  reference §8).
* An unknown ``model`` id answers the plain-text 404 of an unknown route.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from simulator.recraft_errors import (
    INVALID_MODEL,
    INVALID_SIZE,
    INVALID_STYLE,
    PROMPT_TOO_LONG,
    UNKNOWN_PARAMETER,
    bad_value,
    invalid,
    missing,
    not_found,
    unsupported,
)
from simulator.recraft_models import (
    DEFAULT_MODEL,
    DEFAULT_VECTOR_MODEL,
    MODELS,
    RASTER_STYLES,
    STYLES,
    SUBSTYLES,
    VECTOR_STYLES,
    ModelRules,
)

Route = Literal["generations", "vector", "raster", "image_to_image"]
MAX_N = 6  # §2.1 [3P]
MAX_SEED = 2**32 - 1  # random_seed is a uint32 [SPEC]

_COMMON = frozenset(
    {
        "prompt", "model", "n", "response_format", "style", "substyle", "style_id",
        "style_match", "negative_prompt", "controls", "text_layout", "random_seed",
        "image_format", "creativity", "block_nsfw", "calculate_features", "expire",
    }
)  # fmt: skip
GENERATE_FIELDS = _COMMON | {"size", "upscale", "style_reference_urls"}
TRANSFORM_FIELDS = _COMMON | {"image_url", "strength"}
ENUMS: dict[str, tuple[str, ...]] = {
    "response_format": ("url", "b64_json"),
    "image_format": ("webp", "png"),
    "style_match": ("regular", "precise", "flexible"),
    "creativity": ("simple", "standard", "eccentric"),
    "upscale": ("upscale4mp", "upscale16mp"),
}
UPSCALE_PIXELS = {"upscale4mp": 4_000_000, "upscale16mp": 16_000_000}
# Choice: the raster format when `image_format` is omitted (reference §8 open question).
DEFAULT_IMAGE_FORMAT: Literal["png", "webp"] = "webp"


@dataclass(frozen=True)
class Job:
    """A validated generation: what to render and what it costs."""

    model: ModelRules
    prompt: str
    n: int
    width: int
    height: int
    vector: bool
    image_format: Literal["png", "webp"]
    response_format: str
    units: int  # per image
    seed: int
    features: bool = False
    style_id: str | None = None  # set when style references created a style


def validate(fields: dict[str, Any], route: Route) -> Job:
    """Check one request body against the route and the model; raise ``RecraftError``."""
    allowed = TRANSFORM_FIELDS if route == "image_to_image" else GENERATE_FIELDS
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise invalid(UNKNOWN_PARAMETER, f"unknown parameter {unknown[0]}")
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise missing("prompt")
    rules = _model(fields.get("model"), route)
    if len(prompt) > rules.max_prompt:
        raise invalid(
            PROMPT_TOO_LONG,
            f"prompt is too long: {len(prompt)} characters, the limit for {rules.id} is "
            f"{rules.max_prompt}",
        )
    for name, values in ENUMS.items():
        value = fields.get(name)
        if value is not None and value not in values:
            raise bad_value(name, value, " | ".join(values))
    vector = _check_style(fields, rules)
    _check_route(route, rules, vector)
    _check_model_params(fields, rules, vector)
    width, height = _size(fields, rules) if route != "image_to_image" else (0, 0)
    if fields.get("upscale") is not None:
        width, height = _upscaled(width, height, str(fields["upscale"]))
    return Job(
        model=rules,
        prompt=prompt,
        n=_n(fields.get("n")),
        width=width,
        height=height,
        vector=vector,
        image_format=_image_format(fields.get("image_format")),
        response_format=str(fields.get("response_format") or "url"),
        units=rules.vector_units if vector and not rules.vector else rules.units,
        seed=_seed(fields.get("random_seed")),
        features=fields.get("calculate_features") is True,
        style_id=str(uuid.uuid4()) if fields.get("style_reference_urls") else None,
    )


def _image_format(value: object) -> Literal["png", "webp"]:
    return "png" if value == "png" else "webp" if value == "webp" else DEFAULT_IMAGE_FORMAT


def _model(value: object, route: Route) -> ModelRules:
    if value is None:
        return MODELS[DEFAULT_VECTOR_MODEL if route == "vector" else DEFAULT_MODEL]
    if not isinstance(value, str) or value not in MODELS:
        raise not_found()
    return MODELS[value]


def _check_route(route: Route, rules: ModelRules, vector: bool) -> None:
    """``/generations/vector|raster`` constrain the output type (§6.1); i2i is V2/V3 only."""
    if route == "vector" and not vector:
        raise invalid(INVALID_MODEL, f"model {rules.id} does not generate vector images")
    if route == "raster" and vector:
        raise invalid(INVALID_MODEL, f"model {rules.id} does not generate raster images here")
    if route == "image_to_image" and not rules.image_to_image:
        raise invalid(INVALID_MODEL, f"image to image is not available for model {rules.id}")


def _n(value: object) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_N:
        raise bad_value("n", value, f"an integer from 1 to {MAX_N}")
    return value


def _seed(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise bad_value("random_seed", value, f"an integer from 0 to {MAX_SEED}")
    return value


def _size(fields: dict[str, Any], rules: ModelRules) -> tuple[int, int]:
    """``WxH`` or ``w:h`` from the model's own table (§2.4); default 1:1."""
    size = fields.get("size")
    wxh = rules.sizes["1:1"] if size is None else rules.sizes.get(str(size), str(size))
    if not isinstance(size, str | None) or (
        wxh not in rules.sizes.values() and wxh not in rules.extra_sizes
    ):
        allowed = ", ".join([*rules.sizes, *rules.sizes.values(), *rules.extra_sizes])
        raise invalid(
            INVALID_SIZE,
            f"size {size} is not supported for model {rules.id}; supported: {allowed}",
        )
    width, _, height = wxh.partition("x")
    return int(width), int(height)


def _upscaled(width: int, height: int, mode: str) -> tuple[int, int]:
    factor = math.sqrt(UPSCALE_PIXELS[mode] / (width * height))
    return round(width * factor), round(height * factor)


def _check_style(fields: dict[str, Any], rules: ModelRules) -> bool:
    """style / substyle / style_id (§2.1); returns whether the output is SVG (§6.1)."""
    style, substyle = fields.get("style"), fields.get("substyle")
    style_id = fields.get("style_id")
    if not rules.styles:
        for name in ("style", "substyle", "negative_prompt"):
            if fields.get(name) is not None:
                raise unsupported(name, rules.id)
    if style is not None and style not in STYLES:
        raise invalid(INVALID_STYLE, f"unknown style {style}")
    if substyle is not None:
        if style is None:
            raise invalid(INVALID_STYLE, "substyle requires style")
        if substyle not in SUBSTYLES[str(style)]:
            raise invalid(INVALID_STYLE, f"substyle {substyle} does not belong to style {style}")
    if rules.vector and style in RASTER_STYLES:
        raise invalid(INVALID_STYLE, f"style {style} is not available for vector model {rules.id}")
    if rules.forced_raster and style in VECTOR_STYLES:
        raise invalid(INVALID_STYLE, f"style {style} is not available for raster model {rules.id}")
    if style_id is not None:
        if not (rules.styles or rules.style_id_required):
            raise unsupported("style_id", rules.id)
        if style is not None:
            raise invalid(INVALID_STYLE, "style and style_id are mutually exclusive")
        _uuid("style_id", style_id)
    elif rules.style_id_required and not fields.get("style_reference_urls"):
        raise missing("style_id")
    return rules.vector or (rules.vector_units > 0 and style in VECTOR_STYLES)


def _uuid(name: str, value: object) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError as exc:
        raise bad_value(name, value, "a uuid") from exc


def _check_model_params(fields: dict[str, Any], rules: ModelRules, vector: bool) -> None:
    if vector:
        for name in ("image_format", "upscale"):
            if fields.get(name) is not None:
                raise unsupported(name, rules.id)
    if fields.get("text_layout") is not None:
        if not rules.text_layout:
            raise unsupported("text_layout", rules.id)
        _check_text_layout(fields["text_layout"])
    if fields.get("controls") is not None:
        if not rules.controls:
            raise unsupported("controls", rules.id)
        check_controls(fields["controls"])
    for name in ("block_nsfw", "calculate_features", "expire"):
        if fields.get(name) is not None and not isinstance(fields[name], bool):
            raise bad_value(name, fields[name], "a boolean")
    refs = fields.get("style_reference_urls")
    if refs is not None and (
        not isinstance(refs, list) or not 1 <= len(refs) <= 10
        or not all(isinstance(r, str) for r in refs)
    ):  # fmt: skip
        raise bad_value("style_reference_urls", "…", "1 to 10 image URLs")


def _check_text_layout(value: object) -> None:
    ok = isinstance(value, list) and all(
        isinstance(item, dict)
        and isinstance(item.get("text"), str)
        and isinstance(item.get("bbox"), list)
        and all(_is_point(p) for p in item["bbox"])
        for item in value
    )
    if not ok:
        raise bad_value("text_layout", "…", "[{text, bbox: [[x, y], …]}]")


def _is_point(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )


def _is_color(value: object) -> bool:
    if not isinstance(value, dict) or set(value) - {"rgb", "std", "weight"}:
        return False
    rgb = value.get("rgb")
    return (
        isinstance(rgb, list)
        and len(rgb) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)
    )


def check_controls(value: object) -> None:
    """``UserControls`` (§2.2): colors, background_color, artistic_level 0-5, no_text."""
    if not isinstance(value, dict) or set(value) - {
        "colors", "background_color", "artistic_level", "no_text",
    }:  # fmt: skip
        raise bad_value("controls", value, "{colors, background_color, artistic_level, no_text}")
    colors = value.get("colors")
    if colors is not None and not (isinstance(colors, list) and all(_is_color(c) for c in colors)):
        raise bad_value("controls.colors", colors, '[{"rgb": [r, g, b]}, …]')
    background = value.get("background_color")
    if background is not None and not _is_color(background):
        raise bad_value("controls.background_color", background, '{"rgb": [r, g, b]}')
    level = value.get("artistic_level")
    if level is not None and (
        isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 5
    ):
        raise bad_value("controls.artistic_level", level, "an integer from 0 to 5")
    no_text = value.get("no_text")
    if no_text is not None and not isinstance(no_text, bool):
        raise bad_value("controls.no_text", no_text, "a boolean")


def check_strength(fields: dict[str, Any]) -> float:
    """``strength`` is required on image-to-image, a number from 0 to 1 (§3)."""
    value = fields.get("strength")
    if value is None:
        raise missing("strength")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_value("strength", value, "a number from 0 to 1")
    return float(value)


def nearest_size(rules: ModelRules, width: int, height: int) -> tuple[int, int]:
    """The model's size closest in aspect to an input image (image-to-image keeps its shape)."""
    sizes = [tuple(int(v) for v in s.split("x")) for s in rules.sizes.values()]
    target = width / height
    best = min(sizes, key=lambda s: abs(math.log((s[0] / s[1]) / target)))
    return best[0], best[1]


_ON_OFF = ("on", "off")
VECTORIZE_ENUMS: dict[str, tuple[str, ...]] = {
    "svg_compression": _ON_OFF,
    "limit_num_shapes": _ON_OFF,
    "color_reduction": _ON_OFF,
    "return_gradients": _ON_OFF,
    "small_shape_filter": _ON_OFF,
    "shape_stacking": ("cut_out", "hierarchical"),
    "response_format": ("url", "b64_json"),
}
VECTORIZE_FIELDS = frozenset(
    {*VECTORIZE_ENUMS, "image_url", "max_num_shapes", "strict_color_palette", "expire"}
)


def check_vectorize(fields: dict[str, Any]) -> str:
    """``POST /v1/images/vectorize`` options (§3); returns the response format."""
    unknown = sorted(set(fields) - VECTORIZE_FIELDS)
    if unknown:
        raise invalid(UNKNOWN_PARAMETER, f"unknown parameter {unknown[0]}")
    for name, values in VECTORIZE_ENUMS.items():
        value = fields.get(name)
        if value is not None and value not in values:
            raise bad_value(name, value, " | ".join(values))
    shapes = fields.get("max_num_shapes")
    if shapes is not None and (
        isinstance(shapes, bool) or not isinstance(shapes, int) or not 0 < shapes <= MAX_SEED
    ):
        raise bad_value("max_num_shapes", shapes, "a positive integer")
    palette = fields.get("strict_color_palette")
    if palette is not None and not (
        isinstance(palette, list) and all(_is_color({"rgb": c}) for c in palette)
    ):
        raise bad_value("strict_color_palette", palette, "[[r, g, b], …]")
    return str(fields.get("response_format") or "url")
