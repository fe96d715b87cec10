"""The catalog shipped in providers/*/models.toml: complete, current, consistent with the refs."""

from __future__ import annotations

import math
import re
from collections import Counter
from decimal import Decimal

import pytest
from openrouter.components.imagegenerationproviderpreferences import (
    ImageGenerationProviderPreferencesOptions,
)
from pydantic import ValidationError

from app.catalog import Catalog, load_catalog
from app.catalog.checks import parse_ratio, parse_size
from app.generation.request import (
    ASPECT_RATIOS,
    BACKGROUNDS,
    OUTPUT_FORMATS,
    QUALITIES,
    RESOLUTIONS,
)
from providers.spec import (
    EndpointSpec,
    EnumDescriptor,
    FixedSizes,
    FreePixels,
    PricingLine,
    RangeDescriptor,
    RatioTier,
)

SIX = {
    "openai",
    "google-ai-studio",
    "black-forest-labs",
    "recraft",
    "seed",
    "xai",
    "azure",
    "sourceful",
}
AUTHOR = {
    "openai": "openai",
    "google-ai-studio": "google",
    "black-forest-labs": "black-forest-labs",
    "recraft": "recraft",
    "seed": "bytedance-seed",
    "xai": "x-ai",
    "azure": "microsoft",
    "sourceful": "sourceful",
}
# One naming scheme per author, so ids read alike within it.
SLUG_SHAPE = {
    "openai": r"(gpt-image-\d+(\.\d+)?(-mini|-sunburst|-flare)?|chatgpt-image-latest)",
    "google": r"gemini-\d+(\.\d+)?-(flash|flash-lite|pro)-image",
    "black-forest-labs": r"flux\.\d+(\.\d+)?-[a-z0-9-]+",
    "bytedance-seed": r"seedream-\d+\.\d+(-lite|-pro)?",
    "recraft": r"recraft-v\d+(\.\d+)?(-utility)?(-pro)?(-flash)?(-vector)?",
    "x-ai": r"grok-imagine-image(-quality|-\d+\.\d+)?",
    "microsoft": r"mai-image-\d+(\.\d+)?(-flash|-pro)?",
    "sourceful": r"riverflow-v\d+(\.\d+)?-(fast|pro)",
}
RETIRED_UPSTREAM = {
    "dall-e-3",
    "dall-e-2",
    "gpt-image-1",
    "grok-imagine-image-pro",
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
    "imagen-4.0-generate-001",
    "imagen-4.0-ultra-generate-001",
    "imagen-4.0-fast-generate-001",
    "MAI-Image-1",
    "MAI-Image-2",
    "MAI-Image-2e",
}
CANONICAL = {
    "aspect_ratio": set(ASPECT_RATIOS),
    "resolution": set(RESOLUTIONS),
    "quality": set(QUALITIES),
    "output_format": set(OUTPUT_FORMATS),
    "background": set(BACKGROUNDS),
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def endpoints(catalog: Catalog) -> list[tuple[str, EndpointSpec]]:
    return [(m.id, e) for m in catalog.models() for e in m.endpoints]


def ep(catalog: Catalog, model_id: str, slug: str) -> EndpointSpec:
    found = catalog.endpoint(model_id, slug)
    assert found is not None, f"{model_id} has no {slug} endpoint"
    return found


def enum(endpoint: EndpointSpec, name: str) -> tuple[str, ...]:
    desc = endpoint.parameters.get(name)
    return desc.values if isinstance(desc, EnumDescriptor) else ()


def sdk_known_slugs() -> set[str]:
    fields = ImageGenerationProviderPreferencesOptions.model_fields
    return {f.alias or name for name, f in fields.items()}


def test_size_and_providers(catalog: Catalog) -> None:
    assert len(catalog) >= 30
    assert set(catalog.provider_slugs()) == SIX
    per_provider = Counter(e.provider_slug for _, e in endpoints(catalog))
    assert all(per_provider[slug] >= 3 for slug in SIX), per_provider


def test_every_slug_is_one_the_sdk_can_address(catalog: Catalog) -> None:
    known = sdk_known_slugs()
    assert "black-forest-labs" in known and "bytedance" not in known  # the list is the real one
    assert set(catalog.provider_slugs()) <= known


def test_ids_follow_author_slug_per_provider(catalog: Catalog) -> None:
    for model_id, endpoint in endpoints(catalog):
        author, _, slug = model_id.partition("/")
        assert author == AUTHOR[endpoint.provider_slug], model_id
        assert re.fullmatch(SLUG_SHAPE[author], slug), model_id


def test_retired_models_are_not_listed(catalog: Catalog) -> None:
    upstream = {e.upstream_model for _, e in endpoints(catalog)}
    assert not upstream & RETIRED_UPSTREAM
    ids = {m.id for m in catalog.models()}
    assert not {"openai/dall-e-3", "openai/dall-e-2", "openai/gpt-image-1"} & ids
    assert not any("imagen" in i or i.endswith("-preview-image") for i in ids)


def test_requested_models_are_present(catalog: Catalog) -> None:
    for model_id in (
        "openai/gpt-image-1.5",
        "openai/gpt-image-2",
        "google/gemini-2.5-flash-image",
        "google/gemini-3-pro-image",
        "black-forest-labs/flux.2-pro",
        "black-forest-labs/flux.2-max",
        "bytedance-seed/seedream-4.5",
        "recraft/recraft-v3",
        "recraft/recraft-v3-vector",
        "x-ai/grok-imagine-image",
    ):
        assert model_id in catalog, model_id


def test_every_endpoint_is_priced_with_a_source(catalog: Catalog) -> None:
    for model_id, endpoint in endpoints(catalog):
        assert endpoint.pricing, model_id
        assert any(line.billable == "output_image" for line in endpoint.pricing), model_id
        for line in endpoint.pricing:
            assert isinstance(line.cost_usd, Decimal) and line.cost_usd > 0, model_id
            assert line.source.strip() and line.as_of.year >= 2026, model_id


def test_descriptor_values_are_public_enum_values(catalog: Catalog) -> None:
    for model_id, endpoint in endpoints(catalog):
        for name, allowed in CANONICAL.items():
            assert set(enum(endpoint, name)) <= allowed, (model_id, name)
        n = endpoint.parameters["n"]
        assert isinstance(n, RangeDescriptor) and (n.min, n.max) == (1, 10), model_id
        refs = endpoint.parameters.get("input_references")
        takes_images = "image" in catalog.get(model_id).input_modalities  # type: ignore[union-attr]
        assert (refs is not None) == takes_images, model_id
        assert "size" not in endpoint.parameters, model_id  # shorthand, derived from geometry


def test_streaming_and_batch_sizes_per_provider(catalog: Catalog) -> None:
    per_call = {
        "openai": 10,
        "google-ai-studio": 1,
        "black-forest-labs": 1,
        # one image per call, n fanned out: "auto" does not guarantee the count (bytedance.md §7)
        "seed": 1,
        "recraft": 6,
        "xai": 10,
        "azure": 1,
        "sourceful": 4,
    }
    seedream_pro = "bytedance-seed/seedream-5.0-pro"
    for model_id, endpoint in endpoints(catalog):
        streams = endpoint.provider_slug == "openai" or (
            endpoint.provider_slug == "seed" and model_id != seedream_pro
        )
        assert endpoint.supports_streaming == streams, model_id
        assert endpoint.max_images_per_call == per_call[endpoint.provider_slug], model_id


def test_geometry_kind_per_family(catalog: Catalog) -> None:
    kinds = {m.id: type(e.geometry) for m in catalog.models() for e in m.endpoints}
    assert kinds["openai/gpt-image-1.5"] is FixedSizes
    assert kinds["openai/gpt-image-2"] is FreePixels
    assert kinds["google/gemini-3-pro-image"] is RatioTier
    assert kinds["black-forest-labs/flux.2-pro"] is FreePixels
    assert kinds["black-forest-labs/flux.1-kontext-pro"] is RatioTier
    assert kinds["black-forest-labs/flux.1.1-pro-ultra"] is RatioTier
    assert kinds["bytedance-seed/seedream-4.5"] is FreePixels
    assert kinds["recraft/recraft-v4"] is FixedSizes
    assert kinds["x-ai/grok-imagine-image"] is RatioTier


def test_openai_sizes_and_pixel_bounds(catalog: Catalog) -> None:
    one = ep(catalog, "openai/gpt-image-1.5", "openai").geometry
    assert isinstance(one, FixedSizes)
    assert set(one.sizes) == {"1024x1024", "1536x1024", "1024x1536"}
    two = ep(catalog, "openai/gpt-image-2", "openai")
    geo = two.geometry
    assert isinstance(geo, FreePixels)
    assert (geo.multiple, geo.max_edge, geo.min_pixels, geo.max_pixels) == (
        16,
        3840,
        655360,
        8294400,
    )
    assert geo.max_ratio == 3 and set(geo.tier_megapixels) == {"1K", "2K", "4K"}
    assert "transparent" not in enum(two, "background")  # preview-only on gpt-image-2
    assert "input_fidelity" not in two.passthrough
    assert {"xhigh", "max"} <= set(
        enum(ep(catalog, "openai/gpt-image-2.5-flare", "openai"), "quality")
    )
    assert "xhigh" not in enum(ep(catalog, "openai/gpt-image-2.6-flare", "openai"), "quality")


def test_ratio_tiers_use_each_providers_wire_spelling(catalog: Catalog) -> None:
    for model_id, endpoint in endpoints(catalog):
        geo = endpoint.geometry
        if not isinstance(geo, RatioTier):
            continue
        if endpoint.provider_slug == "google-ai-studio":
            assert all(w == t and not w.endswith("k") for t, w in geo.tiers.items()), model_id
        if endpoint.provider_slug == "xai":
            assert geo.tiers == {"1K": "1k", "2K": "2k"}, model_id
    flash = ep(catalog, "google/gemini-3.1-flash-image", "google-ai-studio")
    assert enum(flash, "resolution") == ("512", "1K", "2K", "4K")
    assert {"1:8", "8:1"} <= set(enum(flash, "aspect_ratio"))
    assert "1:8" not in enum(
        ep(catalog, "google/gemini-3-pro-image", "google-ai-studio"), "aspect_ratio"
    )


def test_recraft_sends_aspect_spelling_for_every_size(catalog: Catalog) -> None:
    for model_id, endpoint in endpoints(catalog):
        geo = endpoint.geometry
        if endpoint.provider_slug != "recraft":
            continue
        assert isinstance(geo, FixedSizes)
        for size in geo.sizes:
            wh = parse_size(size)
            assert wh is not None, size
            wire = geo.wire.get(size)
            if wire is None:
                assert size == "1707x1024", model_id  # V3's one size without an aspect alias
                continue
            ratio = parse_ratio(wire)
            assert ratio is not None and abs(wh[0] / wh[1] - ratio) / ratio < 0.04, (model_id, size)
        vector = endpoint.upstream_model.endswith("_vector")
        assert enum(endpoint, "output_format") == (("svg",) if vector else ("png", "webp"))


def test_seedream_sends_pixels_within_each_models_range(catalog: Catalog) -> None:
    expected = {
        "bytedance-seed/seedream-4.0": (921_600, 16_777_216, {"1K", "2K", "4K"}),
        "bytedance-seed/seedream-4.5": (3_686_400, 16_777_216, {"2K", "4K"}),
        "bytedance-seed/seedream-5.0-pro": (921_600, 4_624_220, {"1K", "1.5K", "2K"}),
    }
    for model_id, (low, high, tiers) in expected.items():
        endpoint = ep(catalog, model_id, "seed")
        geo = endpoint.geometry
        assert isinstance(geo, FreePixels)
        assert (geo.min_pixels, geo.max_pixels) == (low, high)
        assert set(enum(endpoint, "resolution")) == tiers
        assert "seed" not in endpoint.parameters  # 4.x/5.x reject seed


def bfl_cost(lines: tuple[PricingLine, ...], out_mp: Decimal, in_mp: Decimal) -> Decimal:
    """BFL's formula as the catalog lines express it (one image)."""
    total = Decimal(0)
    for line in lines:
        if line.unit == "image":
            total += line.cost_usd
        elif line.billable == "output_image":
            total += line.cost_usd * math.ceil(out_mp)
        elif in_mp:
            total += line.cost_usd * math.ceil(in_mp)
    return total


@pytest.mark.parametrize(
    ("model_id", "t2i", "edit"),
    [
        ("black-forest-labs/flux.2-klein-4b", "0.014", "0.015"),
        ("black-forest-labs/flux.2-klein-9b", "0.015", "0.017"),
        ("black-forest-labs/flux.2-pro", "0.03", "0.045"),
        ("black-forest-labs/flux.2-max", "0.07", "0.10"),
        ("black-forest-labs/flux.2-flex", "0.05", "0.10"),
    ],
)
def test_bfl_megapixel_lines_reproduce_the_reference_table(
    catalog: Catalog, model_id: str, t2i: str, edit: str
) -> None:
    lines = ep(catalog, model_id, "black-forest-labs").pricing
    assert all(line.round_up for line in lines if line.unit == "megapixel")
    assert bfl_cost(lines, Decimal(1), Decimal(0)) == Decimal(t2i)
    assert bfl_cost(lines, Decimal(1), Decimal(1)) == Decimal(edit)


def test_bfl_submit_example_costs_4_5_credits(catalog: Catalog) -> None:
    lines = ep(catalog, "black-forest-labs/flux.2-pro", "black-forest-labs").pricing
    assert bfl_cost(lines, Decimal("1.98"), Decimal(0)) == Decimal("0.045")


def test_token_prices_match_the_references(catalog: Catalog) -> None:
    def rates(model_id: str, slug: str) -> dict[str, Decimal]:
        return {line.billable: line.cost_usd for line in ep(catalog, model_id, slug).pricing}

    assert rates("openai/gpt-image-1.5", "openai") == {
        "input_text": Decimal("0.000005"),
        "input_image": Decimal("0.000008"),
        "output_image": Decimal("0.000032"),
        "output_text": Decimal("0.00001"),
    }
    # 1.5 low square: 272 image tokens -> $0.008704 (openai.md §8.2)
    assert rates("openai/gpt-image-1.5", "openai")["output_image"] * 272 == Decimal("0.008704")
    assert rates("openai/gpt-image-1-mini", "openai")["output_image"] == Decimal("0.000008")
    pro = rates("google/gemini-3-pro-image", "google-ai-studio")
    assert pro["output_image"] * 1120 == Decimal("0.1344")  # ≈ $0.134 per 1K/2K image
    assert pro["output_image"] * 2000 == Decimal("0.24")  # 4K
    flash = rates("google/gemini-3.1-flash-image", "google-ai-studio")
    assert flash["output_image"] * 1120 == Decimal("0.0672")  # ≈ $0.067 per 1K image


def test_per_image_prices(catalog: Catalog) -> None:
    def price(model_id: str, slug: str) -> Decimal:
        (line,) = [x for x in ep(catalog, model_id, slug).pricing if x.billable == "output_image"]
        assert line.unit == "image"
        return line.cost_usd

    assert price("bytedance-seed/seedream-4.0", "seed") == Decimal("0.03")
    assert price("bytedance-seed/seedream-4.5", "seed") == Decimal("0.04")
    assert price("recraft/recraft-v3", "recraft") == Decimal("0.04")
    assert price("recraft/recraft-v3-vector", "recraft") == Decimal("0.08")
    assert price("recraft/recraft-v4-pro", "recraft") == Decimal("0.25")
    assert price("x-ai/grok-imagine-image", "xai") == Decimal("0.02")


def test_xai_2_0_price_tiers_cover_quality_by_resolution(catalog: Catalog) -> None:
    endpoint = ep(catalog, "x-ai/grok-imagine-image-2.0", "xai")
    tiered = [x for x in endpoint.pricing if x.billable == "output_image"]
    grid = {(x.when["resolution"], x.when["quality"]): x.cost_usd for x in tiered}
    assert grid == {
        ("1K", "low"): Decimal("0.032"),
        ("1K", "medium"): Decimal("0.048"),
        ("2K", "low"): Decimal("0.048"),
        ("2K", "medium"): Decimal("0.08"),
    }
    assert all(x.variant for x in tiered)
    # A call leaving both unset is priced at xAI's own defaults: exactly one line matches.
    assert endpoint.defaults == {"quality": "medium", "resolution": "1K"}
    matching = [x for x in tiered if all(endpoint.defaults[k] == v for k, v in x.when.items())]
    assert [x.cost_usd for x in matching] == [Decimal("0.048")]


def test_passthrough_keys(catalog: Catalog) -> None:
    def keys(model_id: str, slug: str) -> set[str]:
        return set(ep(catalog, model_id, slug).passthrough)

    assert {"moderation", "input_fidelity"} <= keys("openai/gpt-image-1.5", "openai")
    assert {"steps", "guidance", "safety_tolerance", "prompt_upsampling"} <= keys(
        "black-forest-labs/flux.2-flex", "black-forest-labs"
    )
    assert {"style", "substyle", "controls"} <= keys("recraft/recraft-v3", "recraft")
    assert {"watermark", "optimize_prompt_options"} <= keys("bytedance-seed/seedream-4.5", "seed")
    # multi-image follows n (sequential_image_generation is the adapter's, not the caller's)
    assert "sequential_image_generation" not in keys("bytedance-seed/seedream-4.5", "seed")
    assert "sequential_image_generation" not in keys("bytedance-seed/seedream-5.0-pro", "seed")
    assert "thinking_level" in keys("google/gemini-3.1-flash-image", "google-ai-studio")


def test_catalog_is_immutable_and_ordered(catalog: Catalog) -> None:
    models = catalog.models()
    models.clear()
    assert len(catalog) >= 30
    first = catalog.models()[0]
    with pytest.raises(ValidationError):
        first.name = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        first.endpoints[0].pricing = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        catalog._models = ()  # no setters
    assert [m.id for m in load_catalog().models()] == [m.id for m in catalog.models()]
    assert catalog.get("openai/gpt-image-1.5:free") is None
    assert catalog.get("openai/gpt-image-1.5") is not None


def test_a_bare_name_names_the_models_a_scan_of_the_catalog_finds(catalog: Catalog) -> None:
    """``Catalog.named`` (an index built once) answers what scanning every model for the name
    (its id without the author, or an endpoint's upstream model) answers, in catalog order."""
    names = {m.id.split("/", 1)[1] for m in catalog} | {
        e.upstream_model for m in catalog for e in m.endpoints
    }
    for name in [*sorted(names), "no-such-model", "openai/gpt-image-1.5", ""]:
        scanned = tuple(
            m
            for m in catalog.models()
            if m.id.split("/", 1)[1] == name or any(e.upstream_model == name for e in m.endpoints)
        )
        assert catalog.named(name) == scanned, name
    assert catalog.named("gpt-image-1.5") == (catalog.get("openai/gpt-image-1.5"),)
