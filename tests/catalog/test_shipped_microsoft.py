"""The shipped MAI catalog (providers/microsoft/models.toml) against the reference's facts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from app.catalog import load_catalog
from app.generation.geometry import fit_pixels
from providers.spec import EndpointSpec, EnumDescriptor, FreePixels, RangeDescriptor

CATALOG = load_catalog()
MODELS = {
    # model id: (deployment name, pixel cap, 2.6 options)
    "microsoft/mai-image-2.5": ("MAI-Image-2.5", 1_048_576, False),
    "microsoft/mai-image-2.5-flash": ("MAI-Image-2.5-Flash", 1_048_576, False),
    "microsoft/mai-image-2.5-pro": ("MAI-Image-2.5-Pro", 1_048_576, False),
    "microsoft/mai-image-2.6": ("MAI-Image-2.6", 2_359_296, True),
    "microsoft/mai-image-2.6-flash": ("MAI-Image-2.6-Flash", 2_359_296, True),
}


def _azure(model_id: str) -> EndpointSpec:
    endpoint = CATALOG.endpoint(model_id, "azure")
    assert endpoint is not None, model_id
    return endpoint


def test_exactly_the_offered_models_are_listed() -> None:
    listed = {m.id for m in CATALOG.models() if any(e.adapter == "azure_mai" for e in m.endpoints)}
    assert listed == set(MODELS)


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_each_model_is_one_png_per_call_with_one_reference(model_id: str) -> None:
    deployment, cap, extended = MODELS[model_id]
    endpoint = _azure(model_id)
    assert (endpoint.provider_name, endpoint.adapter) == ("Azure", "azure_mai")
    assert endpoint.upstream_model == deployment
    assert endpoint.max_images_per_call == 1 and not endpoint.supports_streaming
    refs = endpoint.parameters["input_references"]
    assert isinstance(refs, RangeDescriptor) and (refs.min, refs.max) == (0, 1)
    assert set(endpoint.passthrough) == (
        {"auto_aspect_ratio", "web_grounding"} if extended else set()
    )
    for absent in ("seed", "quality", "background"):
        assert absent not in endpoint.parameters
    geo = endpoint.geometry
    assert isinstance(geo, FreePixels)
    assert (geo.min_edge, geo.max_pixels, geo.multiple) == (768, cap, 16)


@pytest.mark.parametrize("model_id", sorted(MODELS))
def test_every_advertised_ratio_fits_the_bounds_at_1k(model_id: str) -> None:
    endpoint = _azure(model_id)
    geo = endpoint.geometry
    assert isinstance(geo, FreePixels)
    ratios = endpoint.parameters["aspect_ratio"]
    assert isinstance(ratios, EnumDescriptor)
    for ratio in ratios.values:
        w, h = ratio.split(":")
        size = fit_pixels(geo, Fraction(w) / Fraction(h), 1_048_576)
        assert size is not None, ratio
        assert min(size) >= 768 and size[0] * size[1] <= geo.max_pixels, (ratio, size)


def test_16_9_is_1360x768_on_the_2_5_family() -> None:
    geo = _azure("microsoft/mai-image-2.5").geometry
    assert isinstance(geo, FreePixels)
    assert fit_pixels(geo, Fraction(16, 9), 1_048_576) == (1360, 768)


def test_token_rates() -> None:
    def rates(model_id: str) -> dict[str, Decimal]:
        lines = _azure(model_id).pricing
        assert all(line.unit == "token" for line in lines)
        return {line.billable: line.cost_usd for line in lines}

    # promptfoo: 1024x1024 = 1024 output tokens at $33/M = $0.033792
    assert rates("microsoft/mai-image-2.5")["output_image"] * 1024 == Decimal("0.033792")
    assert rates("microsoft/mai-image-2.5")["input_text"] == Decimal("0.000005")
    assert rates("microsoft/mai-image-2.5-flash") == {
        "input_text": Decimal("0.00000175"),
        "input_image": Decimal("0.00000175"),
        "output_image": Decimal("0.0000195"),
    }
