"""``pricing`` of ``GET /api/v1/models`` entries, from the catalog's pricing lines."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.api.model_list import model_entry, pricing
from app.billing.pricing import compute_cost
from app.catalog import load_catalog
from providers.spec import Usage

CATALOG = load_catalog()


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        # BFL: first megapixel and each further one are two lines that add up (§7 of BFL's
        # price list: [pro] 3¢ the first MP, [max] 7¢, [klein] 9B 1.5¢, [klein] 4B 1.4¢)
        ("black-forest-labs/flux.2-pro", "0.03"),
        ("black-forest-labs/flux.2-max", "0.07"),
        ("black-forest-labs/flux.2-klein-9b", "0.015"),
        ("black-forest-labs/flux.2-klein-4b", "0.014"),
        ("black-forest-labs/flux.1-kontext-pro", "0.04"),
        ("recraft/recraft-v3", "0.04"),
    ],
)
def test_the_image_price_is_what_one_image_at_1_mp_costs(model_id: str, expected: str) -> None:
    model = CATALOG.get(model_id)
    assert model is not None
    (endpoint, *_) = model.endpoints
    assert pricing(endpoint)["image"] == expected
    # … which is what the gateway bills for one 1024x1024 image
    usage = Usage(images=1, pixels=1024 * 1024)
    assert compute_cost(endpoint.pricing, usage, {}).total == Decimal(expected)


def test_every_unconditioned_per_image_price_matches_the_bill_at_1_mp() -> None:
    checked = 0
    for model in CATALOG:
        endpoint = model.endpoints[0]
        lines = [ln for ln in endpoint.pricing if ln.billable == "output_image"]
        if not lines or any(ln.when or ln.unit == "token" for ln in lines):
            continue
        mp = lines[0].pixels_per_megapixel if lines[0].unit == "megapixel" else 1024 * 1024
        usage = Usage(images=1, pixels=mp)
        billed = compute_cost(lines, usage, {}).total
        assert Decimal(pricing(endpoint)["image"]) == billed, model.id
        checked += 1
    assert checked >= 10


def test_gemini_lists_text_beside_image_among_its_outputs() -> None:
    model = CATALOG.get("google/gemini-3.1-flash-image")
    assert model is not None
    entry = model_entry(model, model.endpoints[0])
    assert entry["architecture"]["output_modalities"] == ["image", "text"]
    assert entry["architecture"]["modality"] == "text+image->image+text"
