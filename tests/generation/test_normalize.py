"""Table-driven tests of descriptor-driven normalization.

The endpoints below mirror each provider's documented rules (its published API docs); they are
built here on purpose, so these tests do not depend on the shipped models.toml files.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from app.errors import BadRequest
from app.generation.geometry import pixel_problems
from app.generation.normalize import Normalized, fit, normalize, split_batches
from app.generation.ratios import (
    PUBLIC_RATIOS,
    TIER_EDGES,
    nearest_tier,
    parse_ratio,
    ratio_label,
    rel_diff,
)
from app.generation.request import RESOLUTIONS, ImageGenerationRequest
from providers.spec import EndpointSpec, EnumDescriptor, FreePixels

PRICE = {"billable": "output_image", "unit": "image", "cost_usd": "0.01", "source": "test"}


def endpoint(
    slug: str, geometry: dict[str, Any], parameters: dict[str, Any], **extra: Any
) -> EndpointSpec:
    return EndpointSpec.model_validate(
        {
            "provider_slug": slug,
            "provider_name": slug.title(),
            "adapter": slug,
            "upstream_model": "upstream",
            "parameters": parameters,
            "geometry": geometry,
            "max_images_per_call": extra.pop("max_images_per_call", 1),
            "pricing": [{**PRICE, "as_of": "2026-11-24"}],
            **extra,
        }
    )


def enum(*values: str) -> dict[str, Any]:
    return {"type": "enum", "values": list(values)}


def rng(lo: int, hi: int) -> dict[str, Any]:
    return {"type": "range", "min": lo, "max": hi}


def enum_of(words: str) -> dict[str, Any]:
    return enum(*words.split())


BOOL = {"type": "boolean"}
GPT_RATIOS = enum_of(
    "1:1 2:3 3:2 3:4 4:3 4:5 5:4 5:7 7:5 9:16 16:9 1:2 2:1 9:19.5 19.5:9 9:20 20:9 9:21 21:9"
)
GEMINI_RATIOS = enum_of("1:1 2:3 3:2 3:4 4:3 4:5 5:4 9:16 16:9 21:9 1:4 4:1 1:8 8:1")
XAI_RATIOS = enum_of("1:1 3:4 4:3 9:16 16:9 2:3 3:2 9:19.5 19.5:9 9:20 20:9 1:2 2:1 auto")
RECRAFT_V4 = {  # recraft.md §2.4, V4 column; the wire spelling is the aspect form
    "1024x1024": "1:1",
    "1536x768": "2:1",
    "768x1536": "1:2",
    "1280x832": "3:2",
    "832x1280": "2:3",
    "1216x896": "4:3",
    "896x1216": "3:4",
    "1152x896": "5:4",
    "896x1152": "4:5",
    "832x1344": "6:10",
    "1280x896": "14:10",
    "896x1280": "10:14",
    "1344x768": "16:9",
    "768x1344": "9:16",
}
# recraft.md §2.4: OpenAI's sizes outside the V4 table, served as V4's size for that ratio
OPENAI_V4 = {
    "1536x1024": "1280x832",
    "1024x1536": "832x1280",
    "1792x1024": "1344x768",
    "1024x1792": "768x1344",
}
# xai.md §5.2: "anything else → nearest ratio from the 13 supported; >~1.5 MP → 2k"
XAI_GEOMETRY = {
    "mode": "ratio",
    "tiers": {"1K": "1k", "2K": "2k"},
    "nearest_ratio": True,
    "tier_above_megapixels": {"2K": "1.5"},
}
OPENAI_COMMON = {
    "n": rng(1, 10),
    "output_format": enum("png", "jpeg", "webp"),
    "output_compression": rng(0, 100),
    "input_references": rng(0, 16),
}

# model id → endpoint
ENDPOINTS: dict[str, EndpointSpec] = {
    "openai/gpt-image-1.5": endpoint(  # openai.md §2.2: three sizes
        "openai",
        {"mode": "sizes", "sizes": ["1024x1024", "1536x1024", "1024x1536"]},
        {
            **OPENAI_COMMON,
            "aspect_ratio": enum("1:1", "3:2", "2:3", "auto"),
            "quality": enum("auto", "low", "medium", "high"),
            "background": enum("auto", "transparent", "opaque"),
        },
        max_images_per_call=10,
        passthrough=["moderation"],
    ),
    "openai/gpt-image-2": endpoint(  # any WxH, multiples of 16, ratio ≤ 3, 655 360..8 294 400 px
        "openai",
        {
            "mode": "pixels",
            "multiple": 16,
            "max_edge": 3840,
            "min_pixels": 655_360,
            "max_pixels": 8_294_400,
            "max_ratio": "3",
            "tier_megapixels": {"1K": "1.048576", "2K": "4.194304", "4K": "8.2944"},
        },
        {
            **OPENAI_COMMON,
            "resolution": enum("1K", "2K", "4K"),
            "aspect_ratio": GPT_RATIOS,
            "quality": enum("auto", "low", "medium", "high"),
            "background": enum("auto", "opaque"),  # transparent is "preview" on gpt-image-2
        },
        max_images_per_call=10,
    ),
    "google/gemini-3.1-flash-image": endpoint(  # google.md §1: 512..4K (uppercase K), 14 ratios
        "google-ai-studio",
        {
            "mode": "ratio",
            "tiers": {"512": "512", "1K": "1K", "2K": "2K", "4K": "4K"},
            "default_ratio": "1:1",
        },
        {
            "n": rng(1, 4),
            "seed": BOOL,
            "resolution": enum("512", "1K", "2K", "4K"),
            "aspect_ratio": GEMINI_RATIOS,
            "input_references": rng(0, 14),
        },
    ),
    "google/gemini-2.5-flash-image": endpoint(  # no tier knob, no n
        "google-ai-studio",
        {"mode": "ratio", "tiers": {}},
        {"aspect_ratio": enum("1:1", "2:3", "3:2", "16:9", "9:16")},
    ),
    "black-forest-labs/flux.2-pro": endpoint(  # bfl.md §2.1: ≥ 64, multiples of 16, ≤ 4 MP
        "black-forest-labs",
        {
            "mode": "pixels",
            "multiple": 16,
            "min_edge": 64,
            "max_edge": 62_496,  # no edge cap but what 4 MP over a 64 px edge allows
            "max_pixels": 4_000_000,  # decimal megapixels (§3: "to two decimals")
            "max_ratio": "976.5",
            "tier_megapixels": {"1K": "1.048576", "2K": "4"},
        },
        {
            "n": rng(1, 4),
            "seed": BOOL,
            "resolution": enum("1K", "2K"),
            "aspect_ratio": BOOL,
            "output_format": enum("jpeg", "png", "webp"),
            "input_references": rng(0, 8),
        },
        passthrough=["safety_tolerance", "disable_pup"],
    ),
    "bytedance-seed/seedream-4.5": endpoint(  # bytedance.md §1: 2K/4K, 3 686 400..16 777 216 px
        "seed",
        {
            "mode": "pixels",
            "multiple": 16,
            "min_edge": 14,
            "min_pixels": 3_686_400,
            "max_pixels": 16_777_216,
            "tier_megapixels": {"2K": "4.194304", "4K": "16.777216"},
            "default_tier": "2K",
        },
        {
            "n": rng(1, 10),
            "resolution": enum("2K", "4K"),
            "aspect_ratio": enum("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9"),
            "input_references": rng(0, 14),
        },
        passthrough=["optimize_prompt_options"],
    ),
    "recraft/recraft-v4": endpoint(  # recraft.md §2.4: fixed sizes, sent in aspect form
        "recraft",
        {"mode": "sizes", "sizes": list(RECRAFT_V4), "wire": RECRAFT_V4, "aliases": OPENAI_V4},
        {
            "n": rng(1, 10),
            "aspect_ratio": enum_of("1:1 2:1 1:2 3:2 2:3 4:3 3:4 5:4 4:5 16:9 9:16 7:5 5:7"),
            "output_format": enum("png", "webp"),
        },
        max_images_per_call=6,
        passthrough=["controls"],
    ),
    "x-ai/grok-imagine-image": endpoint(  # xai.md §2.1: ratio + 1k/2k; §5.2: nearest ratio
        "xai",
        XAI_GEOMETRY,
        {
            "n": rng(1, 10),
            "resolution": enum("1K", "2K"),
            "aspect_ratio": XAI_RATIOS,
            "input_references": rng(0, 3),
        },
        max_images_per_call=10,
    ),
    "x-ai/grok-imagine-image-2.0": endpoint(  # the only xAI model with quality
        "xai",
        XAI_GEOMETRY,
        {
            "n": rng(1, 10),
            "resolution": enum("1K", "2K"),
            "aspect_ratio": XAI_RATIOS,
            "quality": enum("low", "medium"),
        },
        max_images_per_call=10,
    ),
}

FREE_PIXEL_MODELS = [m for m, e in ENDPOINTS.items() if isinstance(e.geometry, FreePixels)]


def run(model: str, **fields: Any) -> Normalized:
    request = ImageGenerationRequest.model_validate({"model": model, "prompt": "p", **fields})
    return normalize(request, ENDPOINTS[model])


def refs(count: int) -> list[dict[str, Any]]:
    return [
        {"type": "image_url", "image_url": {"url": f"https://x.test/{i}.png"}} for i in range(count)
    ]


# ------------------------------------------------------------------------------------------
# Geometry mapping: request → what the endpoint is asked for
# ------------------------------------------------------------------------------------------

GPT15, GPT2 = "openai/gpt-image-1.5", "openai/gpt-image-2"
GEMINI, GEMINI25 = "google/gemini-3.1-flash-image", "google/gemini-2.5-flash-image"
FLUX, SEEDREAM = "black-forest-labs/flux.2-pro", "bytedance-seed/seedream-4.5"
RECRAFT, XAI, XAI2 = "recraft/recraft-v4", "x-ai/grok-imagine-image", "x-ai/grok-imagine-image-2.0"

# (model, request fields,
#  expected (width, height, size_wire, aspect_ratio, resolution, resolution_wire))
MAPPINGS: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = [
    # OpenAI GPT Image 1.5: nearest of three fixed sizes
    (GPT15, {}, (None, None, None, None, None, None)),
    (GPT15, {"aspect_ratio": "auto"}, (None, None, None, None, None, None)),
    (GPT15, {"aspect_ratio": "1:1"}, (1024, 1024, "1024x1024", "1:1", "1K", None)),
    (GPT15, {"aspect_ratio": "3:2"}, (1536, 1024, "1536x1024", "3:2", "1.5K", None)),
    (GPT15, {"aspect_ratio": "2:3"}, (1024, 1536, "1024x1536", "2:3", "1.5K", None)),
    (GPT15, {"size": "1536x1024"}, (1536, 1024, "1536x1024", "3:2", "1.5K", None)),
    (GPT15, {"size": "1024X1536"}, (1024, 1536, "1024x1536", "2:3", "1.5K", None)),
    (
        GPT15,
        {"size": "1024x1024", "aspect_ratio": "1:1"},
        (1024, 1024, "1024x1024", "1:1", "1K", None),
    ),
    # gpt-image-2: free pixels from ratio × tier megapixels, multiples of 16
    (GPT2, {}, (None, None, None, None, None, None)),
    (GPT2, {"aspect_ratio": "16:9"}, (1360, 768, None, "16:9", "1K", None)),
    (GPT2, {"resolution": "1K"}, (1024, 1024, None, "1:1", "1K", None)),
    (GPT2, {"resolution": "2K", "aspect_ratio": "3:2"}, (2496, 1664, None, "3:2", "2K", None)),
    (GPT2, {"size": "2K", "aspect_ratio": "16:9"}, (2736, 1536, None, "16:9", "2K", None)),
    (GPT2, {"resolution": "4K", "aspect_ratio": "1:1"}, (2880, 2880, None, "1:1", "4K", None)),
    (GPT2, {"size": "1024x1024"}, (1024, 1024, None, "1:1", "1K", None)),
    (GPT2, {"size": "3840x2160"}, (3840, 2160, None, "16:9", "4K", None)),
    (GPT2, {"size": "3840x2160", "resolution": "4K"}, (3840, 2160, None, "16:9", "4K", None)),
    (GPT2, {"size": "1536x1024", "aspect_ratio": "3:2"}, (1536, 1024, None, "3:2", "1K", None)),
    # Gemini 3.1 Flash Image: ratio + tier, uppercase K on the wire, 512 tier
    (GEMINI, {}, (None, None, None, "1:1", None, None)),
    (GEMINI, {"aspect_ratio": "16:9", "resolution": "2K"}, (None, None, None, "16:9", "2K", "2K")),
    (GEMINI, {"resolution": "512"}, (None, None, None, "1:1", "512", "512")),
    (GEMINI, {"size": "4K", "aspect_ratio": "21:9"}, (None, None, None, "21:9", "4K", "4K")),
    (GEMINI, {"aspect_ratio": "8:1"}, (None, None, None, "8:1", None, None)),
    (GEMINI, {"size": "1376x768"}, (None, None, None, "16:9", "1K", "1K")),  # Gemini's own 1K
    (GEMINI, {"size": "1376x768", "resolution": "1K"}, (None, None, None, "16:9", "1K", "1K")),
    (GEMINI, {"size": "2048x2048"}, (None, None, None, "1:1", "2K", "2K")),
    (
        GEMINI,
        {"size": "1920x1080", "aspect_ratio": "16:9"},
        (None, None, None, "16:9", "2K", "2K"),
    ),
    (GEMINI25, {"size": "1024x1024"}, (None, None, None, "1:1", None, None)),
    (GEMINI25, {"aspect_ratio": "9:16"}, (None, None, None, "9:16", None, None)),
    # FLUX.2 [pro]: multiples of 16, at most 4 MP
    (FLUX, {}, (None, None, None, None, None, None)),
    (FLUX, {"aspect_ratio": "16:9"}, (1360, 768, None, "16:9", "1K", None)),
    (FLUX, {"resolution": "2K"}, (2000, 2000, None, "1:1", "2K", None)),
    (FLUX, {"resolution": "2K", "aspect_ratio": "16:9"}, (2656, 1488, None, "16:9", "2K", None)),
    (FLUX, {"resolution": "2K", "aspect_ratio": "4:1"}, (4000, 992, None, "4:1", "2K", None)),
    (FLUX, {"size": "2560x1440"}, (2560, 1440, None, "16:9", "2K", None)),
    (FLUX, {"aspect_ratio": "2.35:1"}, (1584, 672, None, "2.35:1", "1K", None)),
    (FLUX, {"size": "1440x816"}, (1440, 816, None, "16:9", "1K", None)),
    # Seedream 4.5: at least 3 686 400 pixels, default tier 2K
    (SEEDREAM, {}, (None, None, None, None, None, None)),
    (SEEDREAM, {"aspect_ratio": "1:1"}, (2048, 2048, None, "1:1", "2K", None)),
    (SEEDREAM, {"size": "2K", "aspect_ratio": "16:9"}, (2736, 1536, None, "16:9", "2K", None)),
    (
        SEEDREAM,
        {"resolution": "4K", "aspect_ratio": "16:9"},
        (4096, 2304, None, "16:9", "4K", None),
    ),
    (SEEDREAM, {"size": "2560x1440"}, (2560, 1440, None, "16:9", "2K", None)),
    (SEEDREAM, {"size": "1920x1920"}, (1920, 1920, None, "1:1", "2K", None)),
    # Recraft V4: fixed sizes, aspect spellings on the wire
    (RECRAFT, {"aspect_ratio": "1:1"}, (1024, 1024, "1:1", "1:1", "1K", None)),
    (RECRAFT, {"aspect_ratio": "16:9"}, (1344, 768, "16:9", "16:9", "1.5K", None)),
    (RECRAFT, {"aspect_ratio": "9:16"}, (768, 1344, "9:16", "9:16", "1.5K", None)),
    (RECRAFT, {"aspect_ratio": "7:5"}, (1280, 896, "14:10", "7:5", "1K", None)),
    (RECRAFT, {"aspect_ratio": "3:2"}, (1280, 832, "3:2", "3:2", "1K", None)),
    (RECRAFT, {"size": "1536x768"}, (1536, 768, "2:1", "2:1", "1.5K", None)),
    (RECRAFT, {"size": "832x1344"}, (832, 1344, "6:10", "13:21", "1.5K", None)),
    (RECRAFT, {"size": "1792x1024"}, (1344, 768, "16:9", "7:4", "1.5K", None)),  # an alias
    (RECRAFT, {"size": "1536x1024"}, (1280, 832, "3:2", "20:13", "1K", None)),
    # xAI: ratio + lowercase tiers
    (XAI, {}, (None, None, None, None, None, None)),
    (XAI, {"aspect_ratio": "auto"}, (None, None, None, None, None, None)),
    (XAI, {"aspect_ratio": "16:9", "resolution": "2K"}, (None, None, None, "16:9", "2K", "2k")),
    (XAI, {"aspect_ratio": "19.5:9", "size": "1K"}, (None, None, None, "19.5:9", "1K", "1k")),
    (XAI, {"size": "1024x1536"}, (None, None, None, "2:3", "2K", "2k")),  # 1.57 MP > 1.5
    (XAI, {"size": "1024x1024"}, (None, None, None, "1:1", "1K", "1k")),
    (XAI, {"size": "1280x720"}, (None, None, None, "16:9", "1K", "1k")),
    (XAI, {"size": "2048x1024"}, (None, None, None, "2:1", "2K", "2k")),
    (XAI, {"size": "1792x1024"}, (None, None, None, "16:9", "2K", "2k")),  # nearest ratio
    (XAI2, {"size": "1024x1792"}, (None, None, None, "9:16", "2K", "2k")),
]


@pytest.mark.parametrize(("model", "fields", "expected"), MAPPINGS)
def test_geometry_mapping(model: str, fields: dict[str, Any], expected: tuple[Any, ...]) -> None:
    got = run(model, **fields)
    shape = (
        got.width,
        got.height,
        got.size_wire,
        got.aspect_ratio,
        got.resolution,
        got.resolution_wire,
    )
    assert shape == expected


def test_reference_example_tier_size_equals_resolution() -> None:
    """§2.2: ``size: "2K"`` + ``16:9`` is the same request as ``resolution: "2K"`` + ``16:9``."""
    via_size = run(SEEDREAM, size="2K", aspect_ratio="16:9")
    via_resolution = run(SEEDREAM, resolution="2K", aspect_ratio="16:9")
    assert via_size == via_resolution
    assert (via_size.width, via_size.height) == (2736, 1536)


def _advertised(model: str) -> list[tuple[str, str, str]]:
    """Every tier × every ratio a free-pixel endpoint advertises."""
    spec = ENDPOINTS[model]
    assert isinstance(spec.geometry, FreePixels)
    desc = spec.parameters["aspect_ratio"]
    ratios = desc.values if isinstance(desc, EnumDescriptor) else PUBLIC_RATIOS
    limit = Fraction(spec.geometry.max_ratio)
    usable = [r for r in ratios if max(parse_ratio(r), 1 / parse_ratio(r)) <= limit]
    return [(model, tier, ratio) for tier in spec.geometry.tier_megapixels for ratio in usable]


@pytest.mark.parametrize(
    ("model", "tier", "ratio"), [case for m in FREE_PIXEL_MODELS for case in _advertised(m)]
)
def test_free_pixels_fit_every_advertised_ratio_and_tier(model: str, tier: str, ratio: str) -> None:
    geometry = ENDPOINTS[model].geometry
    assert isinstance(geometry, FreePixels)
    got = run(model, resolution=tier, aspect_ratio=ratio)
    assert got.width is not None and got.height is not None
    assert pixel_problems(geometry, got.width, got.height) == []
    assert (got.resolution, got.aspect_ratio) == (tier, ratio)
    drift = rel_diff(Fraction(got.width, got.height), parse_ratio(ratio))
    assert drift <= Fraction(3, 100)
    assert (drift > Fraction(1, 100)) == any("is served as" in w for w in got.warnings)


# ------------------------------------------------------------------------------------------
# Rejections: every path raises BadRequest naming the parameter, the value, the allowed values
# ------------------------------------------------------------------------------------------

# (model, request fields, param, fragments the message must contain)
REJECTIONS: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
    # canonical enums (endpoint-independent)
    (GPT2, {"aspect_ratio": "7:3"}, "aspect_ratio", ("'7:3'", "1:1, 1:2", "21:9, auto")),
    (GPT2, {"resolution": "2k"}, "resolution", ("'2k'", "512, 768, 1K, 1.5K, 2K, 4K")),
    (GPT2, {"quality": "ultra"}, "quality", ("'ultra'", "auto, low, medium, high, xhigh, max")),
    (GPT2, {"output_format": "gif"}, "output_format", ("'gif'", "png, jpeg, webp, svg")),
    (GPT2, {"background": "none"}, "background", ("'none'", "auto, transparent, opaque")),
    (
        GPT15,
        {"background": "transparent", "output_format": "jpeg"},
        "background",
        ("'transparent'", "'jpeg'", "allowed: auto, opaque"),
    ),
    # malformed size
    (GPT2, {"size": "big"}, "size", ("'big'", "1K", "<W>x<H>")),
    (GPT2, {"size": "1024*1024"}, "size", ("'1024*1024'", "<W>x<H>")),
    (GPT2, {"size": "0x100"}, "size", ("'0x100'", "<W>x<H>")),
    (GPT2, {"size": "1024x"}, "size", ("'1024x'", "<W>x<H>")),
    (GPT2, {"size": " 1024x1024"}, "size", ("' 1024x1024'", "<W>x<H>")),
    (GPT2, {"size": "auto"}, "size", ("'auto'", "<W>x<H>")),
    (GPT2, {"size": "2k"}, "size", ("'2k'", "2K")),
    # §2.2 conflicts
    (
        SEEDREAM,
        {"size": "2048x2048", "aspect_ratio": "16:9"},
        "aspect_ratio",
        ("'16:9'", "2048x2048", "allowed: 1:1"),
    ),
    (
        GPT2,
        {"size": "2048x2048", "aspect_ratio": "16:9"},
        "aspect_ratio",
        ("'16:9'", "allowed: 1:1"),
    ),
    (
        GPT2,
        {"size": "1920x1080", "aspect_ratio": "4:3"},
        "aspect_ratio",
        ("'4:3'", "allowed: 16:9"),
    ),
    (
        GPT2,
        {"size": "2048x2048", "resolution": "1K"},
        "resolution",
        ("'1K'", "2048x2048", "allowed: 2K"),
    ),
    (GPT2, {"size": "2K", "resolution": "4K"}, "resolution", ("'4K'", "'2K'", "allowed: 2K")),
    (GEMINI, {"size": "1376x768", "resolution": "2K"}, "resolution", ("'2K'", "allowed: 1K")),
    # parameters the endpoint does not take
    (GPT15, {"resolution": "2K"}, "resolution", ("'2K'", "openai/gpt-image-1.5", "allowed: none")),
    (GPT15, {"size": "2K"}, "size", ("'2K'", "allowed: none")),
    (GPT15, {"seed": 1}, "seed", ("'1'", "allowed: none")),
    (SEEDREAM, {"seed": 42}, "seed", ("'42'", "seed for bytedance-seed/seedream-4.5")),
    (
        GEMINI,
        {"output_format": "png"},
        "output_format",
        ("'png'", "google-ai-studio", "allowed: none"),
    ),
    (GEMINI, {"background": "transparent"}, "background", ("'transparent'", "allowed: none")),
    (GEMINI25, {"n": 2}, "n", ("'2'", "allowed: 1")),
    (GEMINI25, {"resolution": "1K"}, "resolution", ("'1K'", "allowed: none")),
    (SEEDREAM, {"input_references": refs(15)}, "input_references", ("'15'", "0..14")),
    # enum descriptors
    (GPT15, {"aspect_ratio": "16:9"}, "aspect_ratio", ("'16:9'", "allowed: 1:1, 3:2, 2:3, auto")),
    (GPT15, {"quality": "xhigh"}, "quality", ("'xhigh'", "allowed: auto, low, medium, high")),
    (GPT15, {"output_format": "svg"}, "output_format", ("'svg'", "png, jpeg, webp")),
    (GPT2, {"background": "transparent"}, "background", ("'transparent'", "allowed: auto, opaque")),
    (GPT2, {"aspect_ratio": "8:1"}, "aspect_ratio", ("'8:1'", "1:1, 2:3", "21:9")),
    (GPT2, {"resolution": "512"}, "resolution", ("'512'", "allowed: 1K, 2K, 4K")),
    (GPT2, {"size": "1.5K"}, "size", ("'1.5K'", "allowed: 1K, 2K, 4K")),
    (GEMINI, {"aspect_ratio": "9:21"}, "aspect_ratio", ("'9:21'", "16:9, 21:9, 1:4")),
    (GEMINI, {"resolution": "1.5K"}, "resolution", ("'1.5K'", "512, 1K, 2K, 4K")),
    (SEEDREAM, {"resolution": "1K"}, "resolution", ("'1K'", "allowed: 2K, 4K")),
    (XAI, {"resolution": "4K"}, "resolution", ("'4K'", "allowed: 1K, 2K")),
    (XAI, {"aspect_ratio": "21:9"}, "aspect_ratio", ("'21:9'", "9:19.5", "auto")),
    (XAI2, {"quality": "high"}, "quality", ("'high'", "allowed: low, medium")),
    (RECRAFT, {"aspect_ratio": "21:9"}, "aspect_ratio", ("'21:9'", "16:9, 9:16, 7:5, 5:7")),
    # range descriptors
    (FLUX, {"n": 5}, "n", ("'5'", "allowed: 1..4")),
    (GEMINI, {"n": 5}, "n", ("'5'", "allowed: 1..4")),
    (XAI, {"input_references": refs(4)}, "input_references", ("'4'", "allowed: 0..3")),
    (GEMINI25, {"input_references": refs(1)}, "input_references", ("'1'", "allowed: none")),
    # fixed sizes: explicit pixels must be listed; ratios more than 5 % off are refused
    (
        GPT15,
        {"aspect_ratio": "7:5"},
        "aspect_ratio",
        (
            "aspect_ratio '7:5' is not supported by openai for openai/gpt-image-1.5; "
            "allowed: 1:1, 3:2, 2:3, auto",
        ),
    ),
    (GPT15, {"size": "1792x1024"}, "size", ("'1792x1024'", "1024x1024, 1536x1024, 1024x1536")),
    (GPT15, {"size": "2048x2048"}, "size", ("'2048x2048'", "1024x1024, 1536x1024, 1024x1536")),
    (RECRAFT, {"size": "1365x1024"}, "size", ("'1365x1024'", "1024x1024", "768x1344")),
    # free pixels: explicit pixels are never rounded
    (
        GPT2,
        {"size": "1000x1000"},
        "size",
        ("'1000x1000'", "multiples of 16", "nearest valid: 992x992"),
    ),
    (GPT2, {"size": "512x512"}, "size", ("'512x512'", "655360..8294400", "nearest valid: 816x816")),
    (
        GPT2,
        {"size": "4000x1000"},
        "size",
        ("'4000x1000'", "edges 64..3840", "ratio must be at most 3"),
    ),
    (
        SEEDREAM,
        {"size": "1920x1080"},
        "size",
        ("'1920x1080'", "3686400..16777216", "nearest valid: 2560x1440"),
    ),
    (FLUX, {"size": "1440x810"}, "size", ("'1440x810'", "multiples of 16")),
    (
        FLUX,
        {"size": "4096x4096"},
        "size",
        ("'4096x4096'", "0..4000000", "nearest valid: 2000x2000"),
    ),
    (
        FLUX,
        {"size": "2048x2048"},
        "size",
        ("'2048x2048'", "0..4000000", "nearest valid: 2000x2000"),
    ),
    # ratio endpoints: pixels must match an allowed ratio within 1 % (xAI: nearest, no 400)
    (GEMINI, {"size": "1792x1024"}, "size", ("'1792x1024'", "7:4", "1:1, 2:3")),
    (GEMINI, {"size": "1408x768"}, "size", ("'1408x768'", "11:6", "16:9")),
    (XAI, {"size": "1536x1024", "resolution": "1K"}, "resolution", ("above 1.5 MP", "allowed: 2K")),
    (GEMINI, {"size": "1920x1200"}, "size", ("'1920x1200'", "8:5", "16:9")),
    # provider.options: only this endpoint's passthrough keys
    (
        GPT15,
        {"provider": {"options": {"openai": {"style": "vivid", "moderation": "low"}}}},
        "provider.options.openai",
        ("'style'", "allowed: moderation"),
    ),
    (
        GEMINI,
        {"provider": {"options": {"google-ai-studio": {"thinking": "high"}}}},
        "provider.options.google-ai-studio",
        ("'thinking'", "allowed: none"),
    ),
    (
        FLUX,
        {"provider": {"options": {"black-forest-labs": {"steps": 40, "guidance": 3}}}},
        "provider.options.black-forest-labs",
        ("'guidance, steps'", "allowed: safety_tolerance, disable_pup"),
    ),
]


@pytest.mark.parametrize(("model", "fields", "param", "fragments"), REJECTIONS)
def test_rejections(
    model: str, fields: dict[str, Any], param: str, fragments: tuple[str, ...]
) -> None:
    with pytest.raises(BadRequest) as caught:
        run(model, **fields)
    exc = caught.value
    assert exc.status == 400
    assert exc.metadata is not None and exc.metadata["param"] == param
    assert "allowed" in exc.metadata
    assert param in exc.message and "allowed:" in exc.message
    for fragment in fragments:
        assert fragment in exc.message, exc.message


# ------------------------------------------------------------------------------------------
# Other parameters, batches, warnings, options, pricing params
# ------------------------------------------------------------------------------------------

# (model, request fields, expected attributes, warning fragments)
OUTCOMES: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
    (GPT15, {}, {"batches": (1,), "quality": None, "seed": None, "options": {}}, ()),
    (GPT15, {"n": 10}, {"batches": (10,)}, ()),
    (GPT15, {"quality": "high"}, {"quality": "high"}, ()),
    (GPT15, {"quality": "auto"}, {"quality": "auto"}, ()),
    (
        GPT15,
        {"background": "transparent", "output_format": "png"},
        {"background": "transparent"},
        (),
    ),
    (GPT15, {"background": "auto"}, {"background": "auto"}, ()),
    (GPT15, {"output_format": "webp", "output_compression": 80}, {"output_compression": 80}, ()),
    (GPT15, {"output_format": "jpeg", "output_compression": 0}, {"output_compression": 0}, ()),
    (
        GPT15,
        {"output_format": "png", "output_compression": 80},
        {"output_compression": None, "output_format": "png"},
        ("output_compression '80' ignored", "'png'"),
    ),
    (
        GPT15,
        {"output_compression": 80},
        {"output_compression": None},
        ("output_compression '80' ignored", "not set"),
    ),
    (GPT15, {"input_references": refs(16)}, {}, ()),
    (
        GPT15,
        {"provider": {"options": {"openai": {"moderation": "low"}, "xai": {"anything": 1}}}},
        {"options": {"moderation": "low"}},
        (),
    ),
    (GPT15, {"provider": {"options": {"openai": None, "xai": None}}}, {"options": {}}, ()),
    (
        GPT2,
        {"quality": "auto", "background": "auto"},
        {"quality": "auto", "background": "auto"},
        (),
    ),
    (
        GPT2,
        {"resolution": "4K", "aspect_ratio": "21:9"},
        {"width": 3840, "height": 1648},
        ("resolution 4K aims at 8294400 pixels", "the image is 3840x1648"),
    ),
    (GEMINI, {"n": 3}, {"batches": (1, 1, 1)}, ()),
    (GEMINI, {"seed": 7}, {"seed": 7}, ()),
    (
        GEMINI,
        {"quality": "high"},
        {"quality": None},
        ("quality 'high' ignored", "google-ai-studio"),
    ),
    (GEMINI, {"quality": "auto"}, {"quality": None}, ()),
    (GEMINI, {"background": "auto"}, {"background": None}, ()),
    (
        GEMINI,
        {"output_compression": 50},
        {"output_compression": None},
        ("output_compression '50' ignored", "no compression setting"),
    ),
    (GEMINI, {"input_references": refs(14)}, {}, ()),
    (GEMINI25, {"n": 1}, {"batches": (1,)}, ()),
    (FLUX, {"n": 4, "seed": -3}, {"batches": (1, 1, 1, 1), "seed": -3}, ()),
    (
        FLUX,
        {
            "provider": {
                "options": {"black-forest-labs": {"safety_tolerance": 2}, "openai": {"x": 1}}
            }
        },
        {"options": {"safety_tolerance": 2}},
        (),
    ),
    (SEEDREAM, {"n": 2}, {"batches": (1, 1)}, ()),
    (
        SEEDREAM,
        {"resolution": "4K", "aspect_ratio": "16:9"},
        {"width": 4096, "height": 2304},
        ("resolution 4K aims at 16777216 pixels", "edges up to 4096"),
    ),
    (RECRAFT, {"n": 10}, {"batches": (6, 4)}, ()),
    (RECRAFT, {"n": 6}, {"batches": (6,)}, ()),
    (RECRAFT, {"n": 7}, {"batches": (6, 1)}, ()),
    (RECRAFT, {"output_format": "webp"}, {"output_format": "webp"}, ()),
    (
        RECRAFT,
        {"size": "1024x1792"},
        {"width": 768, "height": 1344, "size_wire": "9:16"},
        ("size '1024x1792' is served as 768x1344 (sent as '9:16')",),
    ),
    (RECRAFT, {"size": "1344x768"}, {"width": 1344, "size_wire": "16:9"}, ()),
    (XAI, {"n": 10}, {"batches": (10,)}, ()),
    (XAI, {"quality": "medium"}, {"quality": None}, ("quality 'medium' ignored",)),
    (XAI2, {"quality": "low"}, {"quality": "low"}, ()),
    (XAI2, {"quality": "auto"}, {"quality": None}, ()),
    (
        XAI,
        {"size": "1792x1024"},
        {"aspect_ratio": "16:9", "resolution": "2K"},
        ("size '1792x1024' (aspect ratio 7:4) is served as aspect_ratio '16:9' at resolution 2K",),
    ),
    (XAI, {"size": "1376x768"}, {"aspect_ratio": "16:9", "resolution": "1K"}, ()),  # within 1 %
]


@pytest.mark.parametrize(("model", "fields", "expected", "warned"), OUTCOMES)
def test_outcomes(
    model: str, fields: dict[str, Any], expected: dict[str, Any], warned: tuple[str, ...]
) -> None:
    got = run(model, **fields)
    for name, value in expected.items():
        assert getattr(got, name) == value, name
    assert sum(got.batches) == got.n == (fields.get("n") or 1)
    assert all(b <= ENDPOINTS[model].max_images_per_call for b in got.batches)
    text = " | ".join(got.warnings)
    for fragment in warned:
        assert fragment in text, text
    if not warned:
        assert got.warnings == ()


def test_listed_ratio_far_from_every_size_is_served_with_a_warning() -> None:
    """A catalog that lists 16:9 for a three-size endpoint promises the nearest size."""
    base = ENDPOINTS[GPT15]
    data = base.model_dump()
    data["parameters"]["aspect_ratio"] = enum("1:1", "3:2", "2:3", "16:9", "auto")
    listed = EndpointSpec.model_validate(data)
    request = ImageGenerationRequest(model=GPT15, prompt="p", aspect_ratio="16:9")
    got = normalize(request, listed)
    assert (got.width, got.height, got.aspect_ratio) == (1536, 1024, "3:2")
    assert got.warnings == (
        "aspect_ratio '16:9' is served as 1536x1024 (3:2), the nearest size openai offers",
    )


# (model, request fields, expected pricing params)
PRICING: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (GPT15, {}, {}),
    (
        GPT15,
        {"aspect_ratio": "3:2", "quality": "high"},
        {"resolution": "1.5K", "quality": "high", "aspect_ratio": "3:2", "size": "1536x1024"},
    ),
    (GEMINI, {"resolution": "4K"}, {"resolution": "4K", "aspect_ratio": "1:1"}),
    (XAI2, {"quality": "low", "aspect_ratio": "2:1"}, {"quality": "low", "aspect_ratio": "2:1"}),
    (
        SEEDREAM,
        {"size": "2K", "aspect_ratio": "16:9"},
        {"resolution": "2K", "aspect_ratio": "16:9", "size": "2736x1536"},
    ),
    (FLUX, {"size": "1024x1024"}, {"resolution": "1K", "aspect_ratio": "1:1", "size": "1024x1024"}),
]


@pytest.mark.parametrize(("model", "fields", "expected"), PRICING)
def test_pricing_params(model: str, fields: dict[str, Any], expected: dict[str, str]) -> None:
    assert run(model, **fields).pricing_params == expected


@pytest.mark.parametrize(
    ("n", "per_call", "expected"),
    [
        (1, 1, (1,)),
        (3, 1, (1, 1, 1)),
        (10, 10, (10,)),
        (10, 6, (6, 4)),
        (7, 4, (4, 3)),
        (8, 4, (4, 4)),
        (5, 10, (5,)),
    ],
)
def test_split_batches(n: int, per_call: int, expected: tuple[int, ...]) -> None:
    assert split_batches(n, per_call) == expected


@pytest.mark.parametrize(
    ("references", "expected"),
    [(0, (4, 4, 2)), (11, (4, 4, 2)), (12, (3, 3, 3, 1)), (14, (1,) * 10)],
)
def test_a_combined_reference_and_image_cap_shrinks_batches(
    references: int, expected: tuple[int, ...]
) -> None:
    """Seedream counts references and outputs together (≤ 15 per call)."""
    base = ENDPOINTS[SEEDREAM].model_dump()
    capped = EndpointSpec.model_validate(
        {**base, "max_images_per_call": 4, "max_images_with_references": 15}
    )
    refs = [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}] * references
    request = ImageGenerationRequest(
        model=SEEDREAM, prompt="p", n=10, input_references=refs or None
    )
    assert normalize(request, capped).batches == expected


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "label"),
    [
        (1024, 1024, "1:1"),
        (1536, 1024, "3:2"),
        (1365, 1024, "4:3"),
        (1376, 768, "16:9"),
        (1434, 1024, "7:5"),
        (1792, 1024, "7:4"),
        (832, 1344, "13:21"),
        (1568, 672, "21:9"),
        (700, 300, "21:9"),
        (2350, 1000, "2.35:1"),
    ],
)
def test_ratio_label(width: int, height: int, label: str) -> None:
    assert ratio_label(width, height) == label


@pytest.mark.parametrize(
    ("edge", "tiers", "tier"),
    [
        (512, tuple(TIER_EDGES), "512"),
        (640, tuple(TIER_EDGES), "512"),  # tie → smaller
        (1376, tuple(TIER_EDGES), "1.5K"),
        (1376, ("512", "1K", "2K", "4K"), "1K"),
        (2560, tuple(TIER_EDGES), "2K"),
        (3840, tuple(TIER_EDGES), "4K"),
        (1536, ("1K", "2K"), "1K"),
    ],
)
def test_nearest_tier(edge: int, tiers: tuple[str, ...], tier: str) -> None:
    assert nearest_tier(edge, tiers) == tier


def test_tier_edges_cover_the_public_resolution_enum() -> None:
    assert tuple(TIER_EDGES) == RESOLUTIONS


def test_normalized_is_frozen() -> None:
    got = run(GPT15)
    with pytest.raises(AttributeError):
        got.width = 5  # type: ignore[misc]


# ------------------------------------------------------------------------------------------
# Fitted once per request shape
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "fields", "expected"), MAPPINGS)
def test_a_request_of_a_fitted_shape_gets_the_same_fit(
    model: str, fields: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    """The fit is kept per endpoint and request shape: another request of the same shape
    (another prompt) gets it, and it is what fitting the request computes."""
    request = ImageGenerationRequest.model_validate({"model": model, "prompt": "p", **fields})
    first = normalize(request, ENDPOINTS[model])
    again = normalize(request.model_copy(update={"prompt": "q"}), ENDPOINTS[model])
    assert again is first
    assert first == fit(request, ENDPOINTS[model])


def test_every_field_of_the_shape_makes_its_own_fit() -> None:
    base = run(GPT15, size="1024x1024", quality="low")
    for change, value in [
        ({"size": "1536x1024"}, ("width", 1536)),
        ({"size": "1024x1024", "quality": "high"}, ("quality", "high")),
        ({"size": "1024x1024", "quality": "low", "n": 3}, ("n", 3)),
        (
            {"size": "1024x1024", "quality": "low", "output_format": "webp"},
            ("output_format", "webp"),
        ),
        ({"size": "1024x1024", "quality": "low", "background": "opaque"}, ("background", "opaque")),
    ]:
        fitted = run(GPT15, **change)
        assert fitted is not base and getattr(fitted, value[0]) == value[1]
    seeded = run(FLUX, seed=7)
    assert run(FLUX, seed=7) is seeded and run(FLUX, seed=8).seed == 8
    with_refs = run(GPT15, size="1024x1024", quality="low", input_references=refs(2))
    assert with_refs is not base and with_refs == fit(
        ImageGenerationRequest.model_validate(
            {"model": GPT15, "prompt": "p", "size": "1024x1024", "quality": "low",
             "input_references": refs(2)}
        ),
        ENDPOINTS[GPT15],
    )  # fmt: skip


def test_requests_with_passthrough_options_are_fitted_every_time() -> None:
    fields = {"provider": {"options": {"openai": {"moderation": "low"}}}}
    first, again = run(GPT15, **fields), run(GPT15, **fields)
    assert first == again and first is not again
    assert first.options == {"moderation": "low"} and first.options is not again.options


@pytest.mark.parametrize(("model", "fields", "param", "fragments"), REJECTIONS[:6])
def test_a_refused_request_is_refused_every_time(
    model: str, fields: dict[str, Any], param: str, fragments: tuple[str, ...]
) -> None:
    for _ in range(2):
        with pytest.raises(BadRequest):
            run(model, **fields)


def test_an_endpoint_built_anew_is_fitted_anew() -> None:
    """A catalog reload builds new endpoint objects: their fits are their own."""
    request = ImageGenerationRequest.model_validate({"model": GPT15, "prompt": "p", "n": 2})
    old = ENDPOINTS[GPT15]
    new = old.model_copy(update={"max_images_per_call": 1})
    assert normalize(request, old).batches == (2,)
    assert normalize(request, new).batches == (1, 1)
    assert normalize(request, old).batches == (2,)
