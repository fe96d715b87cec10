"""Operator overrides on top of the shipped catalog (IMAGEGATE_CATALOG_FILE)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.catalog import Catalog, CatalogError, load_catalog
from providers.spec import FixedSizes

LOCAL_ENDPOINT = """
[[endpoints]]
model = "{model}"
{model_fields}
provider_slug = "{slug}"
provider_name = "Local SDXL"
adapter = "{adapter}"
base_url = "http://127.0.0.1:9000/v1"
upstream_model = "sdxl"
max_images_per_call = 4

[endpoints.parameters]
n = {{ type = "range", min = 1, max = 10 }}
aspect_ratio = {{ type = "enum", values = ["1:1"] }}

[endpoints.geometry]
mode = "sizes"
sizes = ["1024x1024"]

[[endpoints.pricing]]
billable = "output_image"
unit = "image"
cost_usd = "{cost}"
source = "own hardware"
as_of = 2026-11-01
"""
NEW_MODEL = 'name = "Acme: SDXL (local)"\ncreated = 2026-11-01'


def price(
    model: str = "openai/gpt-image-1.5", provider: str = "openai", lines: str | None = None
) -> str:
    """One [[prices]] entry; ``lines`` is the TOML inline-table list (default: one sound line)."""
    if lines is None:
        lines = line()
    return f'[[prices]]\nmodel = "{model}"\nprovider = "{provider}"\nlines = [{lines}]\n'


def line(cost: str = '"0.00003"', unit: str = "token", extra: str = "") -> str:
    return (
        f'{{ billable = "output_image", unit = "{unit}", cost_usd = {cost}, {extra}'
        'source = "contract", as_of = 2026-11-01 }'
    )


def local_endpoint(
    model: str = "acme/sdxl-1.0:local",
    *,
    model_fields: str = NEW_MODEL,
    slug: str = "fake-provider",
    adapter: str = "openai",
    cost: str = "0.001",
) -> str:
    return LOCAL_ENDPOINT.format(
        model=model, model_fields=model_fields, slug=slug, adapter=adapter, cost=cost
    )


@pytest.fixture(scope="module")
def shipped() -> Catalog:
    return load_catalog()


def load(tmp_path: Path, text: str) -> Catalog:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return load_catalog(overrides=path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'catalog.toml'}: "), message
    return message


def test_empty_overrides_change_nothing(tmp_path: Path, shipped: Catalog) -> None:
    catalog = load(tmp_path, "")
    assert [m.id for m in catalog.models()] == [m.id for m in shipped.models()]


def test_price_replacement(tmp_path: Path, shipped: Catalog) -> None:
    catalog = load(tmp_path, price())
    endpoint = catalog.endpoint("openai/gpt-image-1.5", "openai")
    assert endpoint is not None
    (line,) = endpoint.pricing
    assert (line.cost_usd, line.source) == (Decimal("0.00003"), "contract")
    # everything else is untouched
    assert endpoint.parameters == shipped.endpoint("openai/gpt-image-1.5", "openai").parameters  # type: ignore[union-attr]
    assert catalog.get("openai/gpt-image-1-mini") == shipped.get("openai/gpt-image-1-mini")


def test_disabling_models_and_providers(tmp_path: Path, shipped: Catalog) -> None:
    catalog = load(
        tmp_path,
        'disabled_providers = ["xai"]\ndisabled_models = ["openai/gpt-image-1-mini"]\n',
    )
    assert "openai/gpt-image-1-mini" not in catalog
    assert "openai/gpt-image-1.5" in catalog
    assert "xai" not in catalog.provider_slugs()
    assert not [m for m in catalog.models() if m.id.startswith("x-ai/")]
    xai_models = [m for m in shipped.models() if m.id.startswith("x-ai/")]
    assert len(catalog) == len(shipped) - 1 - len(xai_models)


def test_disabling_a_provider_keeps_the_models_other_endpoints(tmp_path: Path) -> None:
    text = 'disabled_providers = ["openai"]\n' + local_endpoint(
        "openai/gpt-image-1.5", model_fields=""
    )
    catalog = load(tmp_path, text)
    model = catalog.get("openai/gpt-image-1.5")
    assert model is not None and [e.provider_slug for e in model.endpoints] == ["fake-provider"]
    assert model.input_modalities == ("text",)  # the remaining endpoint takes no references
    assert "openai/gpt-image-2" not in catalog


def test_adding_an_openai_compatible_model(tmp_path: Path, shipped: Catalog) -> None:
    catalog = load(tmp_path, local_endpoint())
    model = catalog.get("acme/sdxl-1.0:local")
    assert model is not None and model.name == "Acme: SDXL (local)"
    (endpoint,) = model.endpoints
    assert endpoint.base_url == "http://127.0.0.1:9000/v1"
    assert (endpoint.adapter, endpoint.provider_slug, endpoint.upstream_model) == (
        "openai",
        "fake-provider",
        "sdxl",
    )
    assert isinstance(endpoint.geometry, FixedSizes)
    assert catalog.models()[-1] is model  # added after the shipped models
    assert len(catalog) == len(shipped) + 1


def test_adding_an_endpoint_to_an_existing_model(tmp_path: Path) -> None:
    catalog = load(tmp_path, local_endpoint("openai/gpt-image-1.5", model_fields=""))
    model = catalog.get("openai/gpt-image-1.5")
    assert model is not None and model.name == "OpenAI: GPT Image 1.5"
    assert [e.provider_slug for e in model.endpoints] == ["openai", "fake-provider"]


def test_an_added_endpoint_may_widen_the_modalities(tmp_path: Path) -> None:
    with_refs = local_endpoint("recraft/recraft-v4", model_fields="").replace(
        'values = ["1:1"] }\n',
        'values = ["1:1"] }\ninput_references = { type = "range", min = 0, max = 2 }\n',
    )
    message = error(tmp_path, with_refs)
    assert "input_modalities: an endpoint accepts input_references, so 'image'" in message
    widened = with_refs.replace(
        'upstream_model = "sdxl"', 'upstream_model = "sdxl"\ninput_modalities = ["text", "image"]'
    )
    model = load(tmp_path, widened).get("recraft/recraft-v4")
    assert model is not None and model.input_modalities == ("text", "image")
    assert [e.max_references for e in model.endpoints] == [0, 2]


def test_added_endpoints_can_be_repriced(tmp_path: Path) -> None:
    repriced = price("acme/sdxl-1.0:local", "fake-provider", line('"0.002"', unit="image"))
    catalog = load(tmp_path, local_endpoint() + repriced)
    endpoint = catalog.endpoint("acme/sdxl-1.0:local", "fake-provider")
    assert endpoint is not None and endpoint.pricing[0].cost_usd == Decimal("0.002")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            price("openai/gpt-image-9"),
            "prices.0 (model 'openai/gpt-image-9', provider 'openai'): "
            "unknown model 'openai/gpt-image-9'",
        ),
        (price(provider="OpenAI"), "has no endpoint from provider 'OpenAI' (served by ['openai'])"),
        (price(lines=""), "lines: at least one pricing line is required"),
        (
            price(lines=line("0.00003")),
            "prices.0 (model 'openai/gpt-image-1.5', provider "
            "'openai'): lines.0.cost_usd: must be a decimal string",
        ),
        (
            price(lines=line().replace("output_image", "output_pixels")),
            "lines.0.billable: Input should be",
        ),
        (
            price(lines=line(extra='when = { quality = "ultra" }, ')),
            "lines.0.when.quality: 'ultra' is not one of",
        ),
        (
            price(lines=line(unit="image", extra="round_up = true, ")),
            "lines.0.round_up: only megapixel lines round up",
        ),
        ('disabled_models = ["openai/dall-e-3"]\n', "unknown model 'openai/dall-e-3'"),
        ('disabled_providers = ["grok"]\n', "unknown provider slug 'grok'"),
        ('disable_models = ["x"]\n', "disable_models: Extra inputs are not permitted"),
        ("[[prices]\n", "invalid TOML"),
    ],
)
def test_bad_names_and_fields_are_rejected(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error(tmp_path, text)


def test_endpoint_errors_name_entry_and_field(tmp_path: Path) -> None:
    base = "endpoints.0 (model 'acme/sdxl-1.0:local'): "
    assert base + "adapter: Input should be 'openai'" in error(
        tmp_path, local_endpoint(adapter="bfl")
    )
    assert base + "pricing.0.cost_usd: Input should be a valid decimal" in error(
        tmp_path, local_endpoint(cost="cheap")
    )
    assert base + "name: Field required" in error(
        tmp_path, local_endpoint(model_fields="created = 2026-11-01")
    )
    assert base + "base_url: String should match pattern" in error(
        tmp_path, local_endpoint().replace("http://127.0.0.1:9000/v1", "127.0.0.1:9000")
    )
    assert base + "base_url: Field required" in error(
        tmp_path, local_endpoint().replace('base_url = "http://127.0.0.1:9000/v1"\n', "")
    )
    conflict = error(
        tmp_path, local_endpoint("openai/gpt-image-1.5", model_fields='name = "Renamed"')
    )
    assert "name: 'Renamed' conflicts with 'OpenAI: GPT Image 1.5'" in conflict
    dup = error(tmp_path, local_endpoint("openai/gpt-image-1.5", model_fields="", slug="openai"))
    assert "provider_slug: 'openai' already serves this model" in dup
