"""Loader behaviour on hand-written provider files: merging, and errors that point at the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog import CatalogError, load_catalog
from tests.catalog.helpers import model_entry, write_provider

FILE = "providers/bfl/models.toml"
MODEL = "model 'black-forest-labs/flux.2-pro'"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "providers"


def broken(root: Path, old: str, new: str, *, count: int = 1) -> str:
    """Load a one-model catalog whose entry has ``old`` replaced by ``new``; the error text."""
    body = model_entry()
    assert old in body, old
    write_provider(root, "bfl", body.replace(old, new, count))
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    return str(info.value)


def test_a_sound_file_loads(root: Path) -> None:
    write_provider(root, "bfl", model_entry())
    catalog = load_catalog(root)
    model = catalog.get("black-forest-labs/flux.2-pro")
    assert model is not None and model.endpoints[0].provider_slug == "black-forest-labs"
    assert model.endpoints[0].adapter == "bfl" and model.endpoints[0].base_url is None


def test_bad_decimal_names_file_model_and_field(root: Path) -> None:
    message = broken(root, 'cost_usd = "0.015"', 'cost_usd = "1.5 cents"')
    assert message.startswith(f"{FILE}: {MODEL}: pricing.0.cost_usd: ")
    assert "decimal" in message.lower()


def test_money_as_a_toml_float_is_rejected(root: Path) -> None:
    message = broken(root, 'cost_usd = "0.015"', "cost_usd = 0.015")
    assert f"{FILE}: {MODEL}: pricing.0.cost_usd: must be a decimal string" in message


def test_negative_price_is_rejected(root: Path) -> None:
    message = broken(root, 'cost_usd = "0.015"\nround_up', 'cost_usd = "-0.015"\nround_up')
    assert f"{MODEL}: pricing.1.cost_usd: " in message


def test_misspelt_key_is_named(root: Path) -> None:
    message = broken(root, "passthrough =", "passthru =")
    assert f"{FILE}: {MODEL}: passthru: Extra inputs are not permitted" in message


def test_missing_model_field_is_named(root: Path) -> None:
    message = broken(root, "created = 2026-01-01\n", "")
    assert f"{MODEL}: created: Field required" in message


def test_bad_descriptor_payload_is_named(root: Path) -> None:
    message = broken(root, "min = 0, max = 4", "min = 5, max = 4")
    assert (
        f"{MODEL}: parameters.input_references: Value error, range min 5 is above max 4" in message
    )


def test_unknown_descriptor_key_is_named(root: Path) -> None:
    message = broken(root, "seed = { type", "sharpness = { type")
    assert f"{MODEL}: parameters.sharpness: not a request field" in message


def test_geometry_field_is_named_without_union_tags(root: Path) -> None:
    message = broken(root, "max_pixels = 4194304", 'max_pixels = "lots"')
    assert f"{MODEL}: geometry.max_pixels: Input should be a valid integer" in message


def test_resolution_the_geometry_cannot_honour(root: Path) -> None:
    message = broken(root, 'values = ["1K", "2K"]', 'values = ["1K", "2K", "4K"]')
    assert f"{MODEL}: parameters.resolution: '4K' has no geometry.tier_megapixels entry" in message


def test_aspect_ratio_the_geometry_cannot_honour(root: Path) -> None:
    message = broken(root, '["1:1", "16:9"]', '["1:1", "16:9", "8:1"]')
    assert f"{MODEL}: parameters.aspect_ratio: 8:1 cannot be produced" in message


@pytest.mark.parametrize(
    ("old", "new", "field", "value"),
    [
        ('["1:1", "16:9"]', '["1:1", "7:3"]', "aspect_ratio", "7:3"),
        (
            "seed = { type",
            'quality = { type = "enum", values = ["hd"] }\nseed = { type',
            "quality",
            "hd",
        ),
        (
            "seed = { type",
            'output_format = { type = "enum", values = ["png", "gif"] }\nseed = { type',
            "output_format",
            "gif",
        ),
        (
            "seed = { type",
            'background = { type = "enum", values = ["white"] }\nseed = { type',
            "background",
            "white",
        ),
    ],
)
def test_enum_values_a_request_cannot_carry_are_rejected(
    root: Path, old: str, new: str, field: str, value: str
) -> None:
    """An advertised value the public request refuses could never be asked for."""
    message = broken(root, old, new)
    assert f"{MODEL}: parameters.{field}: [{value!r}] are not public {field} values" in message


def test_a_reference_and_image_cap_must_leave_room_for_an_image(root: Path) -> None:
    cap = "max_images_per_call = 1\nmax_images_with_references = 4\n"
    message = broken(root, "max_images_per_call = 1\n", cap)
    assert f"{MODEL}: max_images_with_references: 4 leaves no room for an image" in message


def test_pricing_when_must_name_a_described_value(root: Path) -> None:
    message = broken(root, "round_up = true\n", 'round_up = true\nwhen = { resolution = "8K" }\n')
    assert f"{MODEL}: pricing.1.when.resolution: '8K' is not one of ['1K', '2K']" in message


TIERED = 'unit = "image"\ncost_usd = "0.015"\nwhen = { resolution = "1K" }\nvariant = "1k"\n'


def tiered(root: Path, defaults: str, extra_line: str = "") -> str | None:
    """Make the per-image line tiered on resolution; the error text, or None when it loads."""
    body = model_entry().replace('passthrough = ["steps"]', f'passthrough = ["steps"]\n{defaults}')
    body = body.replace('unit = "image"\ncost_usd = "0.015"\n', TIERED) + extra_line
    write_provider(root, "bfl", body)
    try:
        load_catalog(root)
    except CatalogError as exc:
        return str(exc)
    return None


SECOND_TIER = """
[[models.pricing]]
billable = "output_image"
unit = "image"
cost_usd = "0.045"
variant = "2k"
when = { resolution = "2K" }
source = "test"
as_of = 2026-01-01
"""


def test_tiered_lines_must_cover_every_tier(root: Path) -> None:
    message = tiered(root, 'defaults = { resolution = "1K" }')
    assert message is not None
    assert f"{MODEL}: pricing.0.when: {{'resolution': '2K'}} is matched by 0 lines" in message
    assert tiered(root, 'defaults = { resolution = "1K" }', SECOND_TIER) is None


def test_tiered_lines_need_the_providers_default(root: Path) -> None:
    message = tiered(root, "", SECOND_TIER)
    assert message is not None
    assert f"{MODEL}: defaults.resolution: lines are tiered on 'resolution'" in message


def test_defaults_must_be_described_values(root: Path) -> None:
    message = tiered(root, 'defaults = { resolution = "8K" }', SECOND_TIER)
    assert message is not None
    assert f"{MODEL}: defaults.resolution: '8K' is not one of ['1K', '2K']" in message


def test_round_up_only_on_megapixel_lines(root: Path) -> None:
    message = broken(
        root,
        'unit = "image"\ncost_usd = "0.015"\n',
        'unit = "image"\ncost_usd = "0.015"\nround_up = true\n',
    )
    assert f"{MODEL}: pricing.0.round_up: only megapixel lines round up" in message


def test_pixels_per_megapixel_only_on_megapixel_lines(root: Path) -> None:
    message = broken(
        root,
        'unit = "image"\ncost_usd = "0.015"\n',
        'unit = "image"\ncost_usd = "0.015"\npixels_per_megapixel = 1048576\n',
    )
    assert (
        f"{MODEL}: pricing.0.pixels_per_megapixel: only megapixel lines count megapixels" in message
    )


def test_passthrough_cannot_shadow_a_public_field(root: Path) -> None:
    message = broken(root, 'passthrough = ["steps"]', 'passthrough = ["steps", "quality"]')
    assert f"{MODEL}: passthrough: ['quality'] are public request fields" in message


def test_modalities_must_match_references(root: Path) -> None:
    message = broken(root, 'input_modalities = ["text", "image"]', 'input_modalities = ["text"]')
    assert message.startswith(f"{FILE}: {MODEL}: input_modalities: ")


def test_provider_keys_cannot_be_set_per_model(root: Path) -> None:
    message = broken(root, 'upstream_model = "up-1"', 'upstream_model = "up-1"\nadapter = "openai"')
    assert f"{MODEL}: adapter: set by the file's [provider] table" in message


def test_entry_without_id_is_located_by_index(root: Path) -> None:
    message = broken(root, 'id = "black-forest-labs/flux.2-pro"\n', "")
    assert message.startswith(f"{FILE}: models.0 (no id): id: Field required")


def test_bad_provider_header(root: Path) -> None:
    write_provider(root, "bfl", model_entry(), adapter="comfyui")
    with pytest.raises(CatalogError, match=r"^providers/bfl/models\.toml: provider\.adapter: "):
        load_catalog(root)


def test_invalid_toml_names_the_file(root: Path) -> None:
    write_provider(root, "bfl", model_entry() + "\n[[models]\n")
    with pytest.raises(CatalogError, match=r"^providers/bfl/models\.toml: invalid TOML: "):
        load_catalog(root)


def test_empty_directory_is_an_error(root: Path) -> None:
    root.mkdir()
    with pytest.raises(CatalogError, match=r"no \*/models\.toml"):
        load_catalog(root)


def test_same_model_in_two_files_gets_two_endpoints(root: Path) -> None:
    write_provider(root, "bfl", model_entry())
    write_provider(
        root, "mirror", model_entry(), slug="together", name="Together", adapter="openai"
    )
    model = load_catalog(root).get("black-forest-labs/flux.2-pro")
    assert model is not None
    assert [e.provider_slug for e in model.endpoints] == ["black-forest-labs", "together"]


def test_model_fields_must_agree_across_files(root: Path) -> None:
    write_provider(root, "bfl", model_entry())
    write_provider(
        root,
        "mirror",
        model_entry(name="Other name"),
        slug="together",
        name="Together",
        adapter="openai",
    )
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    message = str(info.value)
    assert message.startswith(
        f"providers/mirror/models.toml: {MODEL}: name: 'Other name' conflicts"
    )
    assert FILE in message  # and points at the first declaration


def test_one_provider_serves_a_model_once(root: Path) -> None:
    write_provider(root, "bfl", model_entry() + model_entry())
    with pytest.raises(CatalogError, match="provider_slug: 'black-forest-labs' already serves"):
        load_catalog(root)


def test_two_files_cannot_claim_one_slug(root: Path) -> None:
    write_provider(root, "bfl", model_entry())
    write_provider(root, "bfl2", model_entry("black-forest-labs/flux.2-max"))
    with pytest.raises(CatalogError, match=r"provider\.slug: 'black-forest-labs' is already used"):
        load_catalog(root)


def test_ids_with_colon_and_dots_are_looked_up_verbatim(root: Path) -> None:
    write_provider(root, "bfl", model_entry("black-forest-labs/flux.2-pro:free"))
    catalog = load_catalog(root)
    assert catalog.get("black-forest-labs/flux.2-pro:free") is not None
    assert catalog.get("black-forest-labs/flux.2-pro") is None
