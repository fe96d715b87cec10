"""providers/sourceful/models.toml against the reference (providers/sourceful.md §1, §3.3, §8)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.catalog import Catalog, load_catalog
from providers.spec import EndpointSpec, EnumDescriptor, FixedSizes, RangeDescriptor

# §3.3, the 1K pairs as the reference lists them; 2K is 2x each side, 4K 4x.
V2_1K = "1024x1024 1152x864 864x1152 1280x720 720x1280 1248x832 832x1248 1120x896 896x1120 1512x648"
V25_1K = "1024x1024 1344x576 1024x576 1152x768 1024x768 960x768 768x960 768x1024 768x1152 576x1024"
MODELS = {
    # id: (AIR, 1K table, tiers, max references)
    "sourceful/riverflow-v2-fast": ("sourceful:riverflow-2.0@fast", V2_1K, (1, 2), 4),
    "sourceful/riverflow-v2-pro": ("sourceful:riverflow-2.0@pro", V2_1K, (1, 2, 4), 10),
    "sourceful/riverflow-v2.5-fast": ("sourceful:riverflow-2.5@fast", V25_1K, (1, 2), 4),
    "sourceful/riverflow-v2.5-pro": ("sourceful:riverflow-2.5@pro", V25_1K, (1, 2, 4), 10),
}
# §8, USD per image (2.5 Fast 2K and 2.5 Pro are estimates, see the file's comments)
PRICES = {
    "sourceful/riverflow-v2-fast": {("1K",): "0.02", ("2K",): "0.04"},
    "sourceful/riverflow-v2-pro": {("1K",): "0.15", ("2K",): "0.15", ("4K",): "0.33"},
    "sourceful/riverflow-v2.5-fast": {
        ("1K", "low"): "0.021",
        ("1K", "medium"): "0.022",
        ("1K", "high"): "0.025",
        ("2K", "low"): "0.042",
        ("2K", "medium"): "0.044",
        ("2K", "high"): "0.05",
    },
    "sourceful/riverflow-v2.5-pro": {("1K",): "0.15", ("2K",): "0.15", ("4K",): "0.33"},
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def endpoint(catalog: Catalog, model_id: str) -> EndpointSpec:
    found = catalog.endpoint(model_id, "sourceful")
    assert found is not None, model_id
    return found


def test_the_four_riverflow_models_are_served_by_the_runware_adapter(catalog: Catalog) -> None:
    ours = [m.id for m in catalog.models() if m.id.startswith("sourceful/")]
    assert ours == list(MODELS)
    for model_id, (air, *_rest) in MODELS.items():
        ep = endpoint(catalog, model_id)
        assert (ep.adapter, ep.upstream_model, ep.provider_name) == ("runware", air, "Sourceful")


@pytest.mark.parametrize("model_id", list(MODELS))
def test_sizes_are_the_reference_table_per_tier(catalog: Catalog, model_id: str) -> None:
    _, table, tiers, refs = MODELS[model_id]
    ep = endpoint(catalog, model_id)
    assert isinstance(ep.geometry, FixedSizes)
    pairs = [tuple(map(int, s.split("x"))) for s in table.split()]
    expected = [f"{w * k}x{h * k}" for k in tiers for w, h in pairs]
    assert list(ep.geometry.sizes) == expected
    resolution = ep.parameters["resolution"]
    assert isinstance(resolution, EnumDescriptor)
    assert resolution.values == tuple(f"{k}K" for k in tiers)
    references = ep.parameters["input_references"]
    assert isinstance(references, RangeDescriptor) and references.max == refs
    assert "seed" not in ep.parameters


@pytest.mark.parametrize("model_id", list(MODELS))
def test_prices_per_tier(catalog: Catalog, model_id: str) -> None:
    ep = endpoint(catalog, model_id)
    found = {}
    for line in ep.pricing:
        assert (line.billable, line.unit) == ("output_image", "image")
        key = (line.when["resolution"],) + (
            (line.when["quality"],) if "quality" in line.when else ()
        )
        found[key] = line.cost_usd
    assert found == {k: Decimal(v) for k, v in PRICES[model_id].items()}


def test_passthrough_names_per_family(catalog: Catalog) -> None:
    v2 = {"font_inputs", "super_resolution_references", "enhance_prompt"}
    v25 = {
        "font_inputs",
        "scoring_prompt",
        "scoring_rubric",
        "background_mode",
        "background_hex_color",
        "enhance_prompt",
    }
    for model_id in MODELS:
        expected = v25 if "v2.5" in model_id else v2
        assert set(endpoint(catalog, model_id).passthrough) == expected, model_id


def test_quality_is_the_2_5_thinking_level(catalog: Catalog) -> None:
    assert "quality" not in endpoint(catalog, "sourceful/riverflow-v2-pro").parameters
    fast = endpoint(catalog, "sourceful/riverflow-v2.5-fast").parameters["quality"]
    pro = endpoint(catalog, "sourceful/riverflow-v2.5-pro").parameters["quality"]
    assert isinstance(fast, EnumDescriptor) and fast.values == ("low", "medium", "high")
    assert isinstance(pro, EnumDescriptor) and pro.values[-1] == "xhigh"
