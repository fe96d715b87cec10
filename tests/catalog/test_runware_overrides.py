"""Operator [[endpoints]] for models hosted on Runware (adapter "runware", by AIR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog import CatalogError, load_catalog

RUNWARE_ENDPOINT = """
[[endpoints]]
model = "sourceful/riverflow-v2-max-preview"
name = "Sourceful: Riverflow 2 Max (preview)"
created = 2025-11-19
provider_slug = "sourceful"
provider_name = "Sourceful"
adapter = "runware"
{base_url}
upstream_model = "sourceful:2@3"
max_images_per_call = 1

[endpoints.parameters]
n = {{ type = "range", min = 1, max = 1 }}

[endpoints.geometry]
mode = "sizes"
sizes = ["1024x1024"]

[[endpoints.pricing]]
billable = "output_image"
unit = "image"
cost_usd = "0.06358"
source = "operator"
as_of = 2026-11-24
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return load_catalog(overrides=path)


def test_a_runware_endpoint_needs_no_base_url(tmp_path: Path) -> None:
    catalog = load(tmp_path, RUNWARE_ENDPOINT.format(base_url=""))
    endpoint = catalog.endpoint("sourceful/riverflow-v2-max-preview", "sourceful")
    assert endpoint is not None
    assert (endpoint.adapter, endpoint.upstream_model, endpoint.base_url) == (
        "runware",
        "sourceful:2@3",
        None,  # the configured Runware account serves it
    )


def test_a_runware_endpoint_may_name_its_own_host(tmp_path: Path) -> None:
    text = RUNWARE_ENDPOINT.format(
        base_url='base_url = "https://runware.internal/v1"\napi_key_env = "MY_RUNWARE_KEY"'
    )
    endpoint = load(tmp_path, text).endpoint("sourceful/riverflow-v2-max-preview", "sourceful")
    assert endpoint is not None
    assert (endpoint.base_url, endpoint.api_key_env) == (
        "https://runware.internal/v1",
        "MY_RUNWARE_KEY",
    )


def test_other_adapters_cannot_be_added(tmp_path: Path) -> None:
    text = RUNWARE_ENDPOINT.format(base_url="").replace('"runware"', '"bfl"')
    with pytest.raises(CatalogError) as err:
        load(tmp_path, text)
    assert "adapter: Input should be 'openai', 'azure_mai' or 'runware'" in str(err.value)
