"""Consistency checks on the geometry's size rules: fixed-size ``aliases`` (Recraft),
``explicit_multiple`` (MAI), ``nearest_ratio`` and ``tier_above_megapixels`` (xAI).

Each rule is catalog data the normalizer trusts, so a mistake in it must stop the load with a
line naming the field, not surface as a wrong size at request time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.catalog import load_catalog
from app.catalog.checks import check_endpoint
from providers.spec import EndpointSpec, FixedSizes, FreePixels, RatioTier

CATALOG = load_catalog()


def _shipped(model_id: str, slug: str) -> EndpointSpec:
    endpoint = CATALOG.endpoint(model_id, slug)
    assert endpoint is not None, (model_id, slug)
    return endpoint


def _with_geometry(model_id: str, slug: str, **changes: Any) -> EndpointSpec:
    endpoint = _shipped(model_id, slug)
    return endpoint.model_copy(update={"geometry": endpoint.geometry.model_copy(update=changes)})


def test_the_shipped_rules_are_sound() -> None:
    for model_id, slug in (
        ("recraft/recraft-v4", "recraft"),
        ("recraft/recraft-v4-pro", "recraft"),
        ("recraft/recraft-v3", "recraft"),
        ("x-ai/grok-imagine-image-2.0", "xai"),
        ("microsoft/mai-image-2.5", "azure"),
        ("microsoft/mai-image-2.6", "azure"),
    ):
        assert check_endpoint(_shipped(model_id, slug)) == [], model_id


def test_shipped_rules_are_where_the_references_put_them() -> None:
    v4 = _shipped("recraft/recraft-v4", "recraft").geometry
    assert isinstance(v4, FixedSizes) and v4.aliases["1792x1024"] == "1344x768"
    xai = _shipped("x-ai/grok-imagine-image", "xai").geometry
    assert isinstance(xai, RatioTier) and xai.nearest_ratio
    assert xai.tier_above_megapixels == {"2K": Decimal("1.5")}
    mai = _shipped("microsoft/mai-image-2.5", "azure").geometry
    assert isinstance(mai, FreePixels)
    assert (mai.multiple, mai.explicit_multiple, mai.max_edge) == (16, 1, 1365)
    gemini = _shipped("google/gemini-3-pro-image", "google-ai-studio").geometry
    assert isinstance(gemini, RatioTier)
    assert not gemini.nearest_ratio and not gemini.tier_above_megapixels


def test_an_alias_must_be_an_unlisted_wxh_served_as_a_listed_size() -> None:
    problems = check_endpoint(
        _with_geometry(
            "recraft/recraft-v4",
            "recraft",
            aliases={
                "big": "1344x768",
                "1344x768": "1344x768",
                "1792x1024": "1820x1024",
            },
        )
    )
    assert problems == [
        "geometry.aliases.big: 'big' is not WxH",
        "geometry.aliases.1344x768: already one of geometry.sizes",
        "geometry.aliases.1792x1024: '1820x1024' is not one of geometry.sizes",
    ]


def test_an_alias_must_keep_about_its_aspect_ratio() -> None:
    """A swapped size (1792x1024 served as the 9:16 size) is a typo, not a mapping."""
    problems = check_endpoint(
        _with_geometry("recraft/recraft-v4", "recraft", aliases={"1792x1024": "768x1344"})
    )
    assert problems == ["geometry.aliases.1792x1024: 768x1344 is more than 5% off its aspect ratio"]


def test_the_explicit_multiple_must_divide_the_derived_one() -> None:
    problems = check_endpoint(
        _with_geometry("microsoft/mai-image-2.5", "azure", explicit_multiple=3)
    )
    assert problems == [
        "geometry.explicit_multiple: 3 does not divide geometry.multiple 16 (a size the "
        "gateway derives must also be one a caller may give)"
    ]
    assert (
        check_endpoint(_with_geometry("microsoft/mai-image-2.5", "azure", explicit_multiple=8))
        == []
    )


def test_megapixel_thresholds_name_tiers_of_the_geometry() -> None:
    problems = check_endpoint(
        _with_geometry(
            "x-ai/grok-imagine-image",
            "xai",
            tier_above_megapixels={"4K": Decimal("8"), "2K": Decimal("0")},
        )
    )
    assert problems == [
        "geometry.tier_above_megapixels.4K: not a key of geometry.tiers",
        "geometry.tier_above_megapixels.2K: must be above 0",
    ]


def test_nearest_ratio_needs_ratios_to_snap_to() -> None:
    endpoint = _shipped("x-ai/grok-imagine-image", "xai")
    params = {k: v for k, v in endpoint.parameters.items() if k != "aspect_ratio"}
    problems = check_endpoint(endpoint.model_copy(update={"parameters": params}))
    assert problems == ["geometry.nearest_ratio: needs an aspect_ratio descriptor to snap to"]
