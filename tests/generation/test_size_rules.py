"""Size rules of the shipped Recraft, xAI and MAI endpoints, read against the provider references.

* Recraft (recraft.md §2.4): "OpenAI → Recraft mapping for a gateway: 1024x1024→1:1,
  1536x1024→3:2, 1024x1536→2:3, 1792x1024→16:9, 1024x1792→9:16; send the aspect form so it
  works for every model family". A size outside the family's table is served as the family's
  size for that ratio, with a warning naming it; sizes in the table are unchanged.
* xAI (xai.md §5.2): a ``WxH`` goes to the nearest of the 13 ratios and "> ~1.5 MP" is 2k.
  Other ratio endpoints (Gemini) keep the 1 % rule and the long-edge tier.
* MAI (microsoft.md §3): "either side may exceed 1024 if the product fits, e.g. 768×1365"; a
  caller's size within those rules is sent as given, derived sizes stay multiples of 16.

These run on the shipped catalog (providers/*/models.toml): the rules are catalog data.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.catalog import load_catalog
from app.errors import BadRequest
from app.generation.normalize import Normalized, normalize
from app.generation.request import ImageGenerationRequest
from providers.spec import EndpointSpec, EnumDescriptor, FixedSizes

CATALOG = load_catalog()


def _endpoint(model_id: str, slug: str) -> EndpointSpec:
    endpoint = CATALOG.endpoint(model_id, slug)
    assert endpoint is not None, (model_id, slug)
    return endpoint


def _run(model_id: str, slug: str, **fields: Any) -> Normalized:
    request = ImageGenerationRequest.model_validate({"model": model_id, "prompt": "p", **fields})
    return normalize(request, _endpoint(model_id, slug))


def _rejected(model_id: str, slug: str, **fields: Any) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        _run(model_id, slug, **fields)
    return caught.value


# ------------------------------------------------------------------------------------------
# Recraft: OpenAI sizes on every family
# ------------------------------------------------------------------------------------------

OPENAI_ASPECT = {  # recraft.md §2.4, the gateway mapping
    "1024x1024": "1:1",
    "1536x1024": "3:2",
    "1024x1536": "2:3",
    "1792x1024": "16:9",
    "1024x1792": "9:16",
}
# recraft.md §2.4 size table: each family's size for those five aspect ratios
V3 = {
    "1:1": "1024x1024",
    "3:2": "1536x1024",
    "2:3": "1024x1536",
    "16:9": "1820x1024",
    "9:16": "1024x1820",
}
V4 = {
    "1:1": "1024x1024",
    "3:2": "1280x832",
    "2:3": "832x1280",
    "16:9": "1344x768",
    "9:16": "768x1344",
}
PRO = {
    "1:1": "2048x2048",
    "3:2": "2560x1664",
    "2:3": "1664x2560",
    "16:9": "2688x1536",
    "9:16": "1536x2688",
}
RECRAFT_FAMILY = {
    "recraft/recraft-v3": V3,
    "recraft/recraft-v3-vector": V3,
    "recraft/recraft-v4": V4,
    "recraft/recraft-v4-vector": V4,
    "recraft/recraft-v4.1": V4,
    "recraft/recraft-v4.1-vector": V4,
    "recraft/recraft-v4.1-utility": V4,
    "recraft/recraft-v4.1-flash": V4,
    "recraft/recraft-v4-pro": PRO,
    "recraft/recraft-v4-pro-vector": PRO,
    "recraft/recraft-v4.1-pro": PRO,
    "recraft/recraft-v4.1-utility-pro": PRO,
}


def test_every_shipped_recraft_model_has_a_family_here() -> None:
    shipped = {m.id for m in CATALOG.models() if any(e.adapter == "recraft" for e in m.endpoints)}
    assert shipped == set(RECRAFT_FAMILY)


@pytest.mark.parametrize("size", list(OPENAI_ASPECT))
@pytest.mark.parametrize("model_id", list(RECRAFT_FAMILY))
def test_recraft_serves_openai_sizes_as_the_familys_size_in_aspect_form(
    model_id: str, size: str
) -> None:
    aspect = OPENAI_ASPECT[size]
    served = RECRAFT_FAMILY[model_id][aspect]
    got = _run(model_id, "recraft", size=size)
    assert got.size_wire == aspect  # the aspect form, whatever the family
    assert f"{got.width}x{got.height}" == served
    assert got.pricing_params["size"] == served
    if served == size:  # a size of the family's own table: exactly as before, no warning
        assert got.warnings == ()
    else:
        assert got.warnings == (
            f"size '{size}' is served as {served} (sent as '{aspect}'), the size recraft "
            "offers for that aspect ratio",
        )


@pytest.mark.parametrize("model_id", list(RECRAFT_FAMILY))
def test_recraft_table_sizes_are_unchanged(model_id: str) -> None:
    geometry = _endpoint(model_id, "recraft").geometry
    assert isinstance(geometry, FixedSizes)
    for size in geometry.sizes:
        got = _run(model_id, "recraft", size=size)
        assert f"{got.width}x{got.height}" == size and got.warnings == ()
        assert got.size_wire == geometry.wire.get(size, size)


def test_recraft_aliases_take_the_served_sizes_tier() -> None:
    """Pro's 2688x1536 is a 2K-class image whatever OpenAI size asked for it."""
    assert _run("recraft/recraft-v4-pro", "recraft", size="1792x1024").resolution == "2K"
    assert _run("recraft/recraft-v4-pro", "recraft", size="1024x1024").resolution == "2K"
    assert _run("recraft/recraft-v4", "recraft", size="1024x1024").resolution == "1K"


def test_recraft_other_sizes_are_still_refused_listing_sizes_and_aliases() -> None:
    exc = _rejected("recraft/recraft-v4", "recraft", size="1365x1024")
    assert exc.metadata is not None and exc.metadata["param"] == "size"
    assert "'1365x1024'" in exc.message and "1024x1024" in exc.message
    assert "1792x1024" in exc.message  # the aliases are offered too


# ------------------------------------------------------------------------------------------
# xAI: nearest of the 13 ratios, 2k above 1.5 MP
# ------------------------------------------------------------------------------------------

XAI_MODELS = (
    "x-ai/grok-imagine-image",
    "x-ai/grok-imagine-image-quality",
    "x-ai/grok-imagine-image-2.0",
)
# xai.md §5.2's table and rule: size → (aspect_ratio, tier, warned)
XAI_SIZES: dict[str, tuple[str, str, bool]] = {
    "1024x1024": ("1:1", "1K", False),
    "1536x1024": ("3:2", "2K", False),  # 1.57 MP
    "1024x1536": ("2:3", "2K", False),
    "1792x1024": ("16:9", "2K", True),  # 7:4 is 1.6 % off 16:9
    "1024x1792": ("9:16", "2K", True),
    "1280x720": ("16:9", "1K", False),
    "1920x1080": ("16:9", "2K", False),
    "720x1280": ("9:16", "1K", False),
    "1080x1920": ("9:16", "2K", False),
    "1500x1000": ("3:2", "1K", False),  # exactly 1.5 MP: not above it
    "1000x3000": ("9:20", "2K", True),  # 1:3, far from every ratio: the nearest one
    "2048x2048": ("1:1", "2K", False),
}


@pytest.mark.parametrize("size", list(XAI_SIZES))
@pytest.mark.parametrize("model_id", XAI_MODELS)
def test_xai_maps_a_size_to_the_nearest_ratio_and_tier_by_pixels(model_id: str, size: str) -> None:
    ratio, tier, warned = XAI_SIZES[size]
    got = _run(model_id, "xai", size=size)
    assert (got.width, got.height, got.size_wire) == (None, None, None)  # xAI takes no size
    assert (got.aspect_ratio, got.resolution, got.resolution_wire) == (ratio, tier, tier.lower())
    assert got.pricing_params["resolution"] == tier
    if warned:
        (warning,) = got.warnings
        assert f"size '{size}'" in warning and f"aspect_ratio '{ratio}'" in warning
        assert f"resolution {tier}" in warning
    else:
        assert got.warnings == ()


def test_xai_1792x1024_warning_names_its_own_ratio() -> None:
    got = _run("x-ai/grok-imagine-image", "xai", size="1792x1024")
    assert got.warnings == (
        "size '1792x1024' (aspect ratio 7:4) is served as aspect_ratio '16:9' at resolution "
        "2K, the nearest ratio xai offers",
    )


def test_xai_explicit_resolution_must_agree_with_the_pixel_count() -> None:
    got = _run("x-ai/grok-imagine-image-2.0", "xai", size="1536x1024", resolution="2K")
    assert (got.resolution, got.resolution_wire) == ("2K", "2k")
    exc = _rejected("x-ai/grok-imagine-image-2.0", "xai", size="1536x1024", resolution="1K")
    assert exc.metadata is not None and exc.metadata["param"] == "resolution"
    assert "above 1.5 MP" in exc.message and exc.message.endswith("allowed: 2K")


def test_xai_2_0_prices_a_1_5_mp_size_at_2k() -> None:
    got = _run("x-ai/grok-imagine-image-2.0", "xai", size="1536x1024", quality="low")
    assert got.pricing_params == {"resolution": "2K", "quality": "low", "aspect_ratio": "3:2"}


def test_other_ratio_endpoints_keep_the_one_percent_rule_and_long_edge_tier() -> None:
    """Gemini's reference says nothing of nearest ratios or pixel counts: unchanged."""
    gemini = "google/gemini-3-pro-image"
    ratios = _endpoint(gemini, "google-ai-studio").parameters["aspect_ratio"]
    assert isinstance(ratios, EnumDescriptor) and "16:9" in ratios.values
    exc = _rejected(gemini, "google-ai-studio", size="1792x1024")
    assert exc.metadata is not None and exc.metadata["param"] == "size"
    assert "7:4" in exc.message
    got = _run(gemini, "google-ai-studio", size="1536x1024")
    assert (got.aspect_ratio, got.resolution) == ("3:2", "1K")  # 1536: tie → lower tier


# ------------------------------------------------------------------------------------------
# Microsoft MAI: a caller's size within Microsoft's rules is sent as given
# ------------------------------------------------------------------------------------------

MAI_2_5 = (
    "microsoft/mai-image-2.5",
    "microsoft/mai-image-2.5-flash",
    "microsoft/mai-image-2.5-pro",
)
MAI_2_6 = ("microsoft/mai-image-2.6", "microsoft/mai-image-2.6-flash")


@pytest.mark.parametrize("size", ["768x1365", "1365x768", "1000x1000", "800x1310"])
@pytest.mark.parametrize("model_id", MAI_2_5 + MAI_2_6)
def test_mai_sends_a_documented_size_as_given(model_id: str, size: str) -> None:
    width, height = (int(v) for v in size.split("x"))
    got = _run(model_id, "azure", size=size)
    assert (got.width, got.height) == (width, height)
    assert got.warnings == ()
    assert got.pricing_params["size"] == size


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ("768x1366", "total pixels must be"),  # 1,049,088 > 1,048,576
        ("1366x768", "edges must be 768..1365"),
        ("767x1024", "edges must be 768..1365"),
    ],
)
@pytest.mark.parametrize("model_id", MAI_2_5)
def test_mai_2_5_refuses_sizes_outside_microsofts_rules(model_id: str, size: str, why: str) -> None:
    exc = _rejected(model_id, "azure", size=size)
    assert exc.metadata is not None and exc.metadata["param"] == "size"
    assert why in exc.message and "multiples of" not in exc.message


@pytest.mark.parametrize("model_id", MAI_2_6)
def test_mai_2_6_takes_any_side_up_to_its_cap(model_id: str) -> None:
    for size in ("3072x768", "1366x1366", "769x3067"):
        got = _run(model_id, "azure", size=size)
        assert f"{got.width}x{got.height}" == size
    exc = _rejected(model_id, "azure", size="1537x1536")  # 2,360,832 > 2,359,296
    assert "total pixels must be" in exc.message


@pytest.mark.parametrize("model_id", MAI_2_5 + MAI_2_6)
def test_mai_derived_sizes_stay_multiples_of_16(model_id: str) -> None:
    endpoint = _endpoint(model_id, "azure")
    ratios = endpoint.parameters["aspect_ratio"]
    tiers = endpoint.parameters["resolution"]
    assert isinstance(ratios, EnumDescriptor) and isinstance(tiers, EnumDescriptor)
    for tier in tiers.values:
        for ratio in ratios.values:
            got = _run(model_id, "azure", aspect_ratio=ratio, resolution=tier)
            assert got.width is not None and got.height is not None
            assert got.width % 16 == 0 and got.height % 16 == 0, (ratio, tier, got.width)
    for ratio, size in (("16:9", (1360, 768)), ("9:16", (768, 1360))):
        got = _run(model_id, "azure", aspect_ratio=ratio)
        assert (got.width, got.height) == size
