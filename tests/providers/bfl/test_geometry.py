"""The shipped BFL catalog under the gateway's normalizer: what each request asks BFL for.

FLUX.2 (bfl.md §2.1): width/height >= 64, multiples of 16, product <= 4 MP and nothing else.
The reference's megapixels are decimal (§3 "megapixels to two decimals", §8: 1024x1024 is
output_mp 1.05), so the cap is 4,000,000 pixels and the 2K tier aims at 4.0 MP. Kontext and
Ultra take ``aspect_ratio`` as a "W:H" string (§2.4), sent in whole numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.billing.pricing import compute_cost
from app.catalog.checks import check_endpoint
from app.errors import BadRequest
from app.generation.normalize import Normalized, normalize
from app.generation.request import ImageGenerationRequest
from providers.bfl.translate import build_submit
from providers.spec import FreePixels, Usage
from tests.providers.bfl.calls import BFL_MODELS, call, endpoint

FLUX2 = [m for m in BFL_MODELS if m.startswith("black-forest-labs/flux.2-")]
RATIO_MODELS = [
    "black-forest-labs/flux.1-kontext-pro",
    "black-forest-labs/flux.1-kontext-max",
    "black-forest-labs/flux.1.1-pro-ultra",
]
FOUR_MP = 4_000_000


def fit(model: str, **fields: Any) -> Normalized:
    request = ImageGenerationRequest.model_validate({"model": model, "prompt": "p", **fields})
    return normalize(request, endpoint(model))


def test_every_flux2_model_is_listed() -> None:
    assert len(FLUX2) == 6


@pytest.mark.parametrize("model", FLUX2)
def test_flux2_bounds_are_the_references(model: str) -> None:
    geo = endpoint(model).geometry
    assert isinstance(geo, FreePixels)
    assert (geo.multiple, geo.min_edge, geo.max_pixels) == (16, 64, FOUR_MP)
    # no edge cap and no ratio bound of our own: only what 4 MP and a 64 px edge allow
    assert geo.max_edge * 64 <= FOUR_MP < (geo.max_edge + 16) * 64
    assert geo.max_ratio == Decimal(geo.max_edge) / 64
    assert geo.tier_megapixels == {"1K": Decimal("1.048576"), "2K": Decimal(4)}
    assert check_endpoint(endpoint(model)) == []


@pytest.mark.parametrize("model", FLUX2)
@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"resolution": "2K"}, (2000, 2000)),  # 4.0 MP, a multiple of 16; never 2048x2048
        ({"resolution": "2K", "aspect_ratio": "16:9"}, (2656, 1488)),  # not 2048x1152
        ({"resolution": "2K", "aspect_ratio": "4:1"}, (4000, 992)),  # not 2048x512
        ({"resolution": "2K", "aspect_ratio": "9:21"}, (1296, 3040)),
        ({"resolution": "1K"}, (1024, 1024)),
        ({"aspect_ratio": "16:9"}, (1360, 768)),
    ],
)
def test_flux2_tiers_fill_4_mp_at_every_ratio(
    model: str, fields: dict[str, Any], size: tuple[int, int]
) -> None:
    norm = fit(model, **fields)
    assert (norm.width, norm.height) == size
    assert size[0] * size[1] <= FOUR_MP and size[0] % 16 == 0 and size[1] % 16 == 0
    assert norm.warnings == ()
    body = build_submit(call(model=model, width=norm.width, height=norm.height)).json
    assert (body["width"], body["height"]) == size


@pytest.mark.parametrize(
    "size", ["2560x1440", "2000x2000", "1440x2560", "4000x992", "3968x1008", "62496x64"]
)
def test_flux2_takes_any_size_up_to_4_mp(size: str) -> None:
    norm = fit("black-forest-labs/flux.2-pro", size=size)
    assert f"{norm.width}x{norm.height}" == size


@pytest.mark.parametrize("size", ["2048x2048", "2560x1600", "2016x2000"])
def test_flux2_refuses_more_than_4_mp(size: str) -> None:
    with pytest.raises(BadRequest) as info:
        fit("black-forest-labs/flux.2-pro", size=size)
    assert "0..4000000" in str(info.value) and "nearest valid" in str(info.value)


def test_the_2k_square_costs_4_billed_megapixels() -> None:
    """One billed megapixel is 1024x1024 (models.toml): 2000x2000 is 3.81 of them, so 4."""
    pixels = 2000 * 2000
    lines = endpoint("black-forest-labs/flux.2-pro").pricing
    total = compute_cost(lines, Usage(images=1, pixels=pixels), {}, (pixels,)).total
    assert total == Decimal("0.075")  # 3¢ + 3 x 1.5¢, as 2048x2048 was


@pytest.mark.parametrize("model", RATIO_MODELS)
@pytest.mark.parametrize(("ratio", "wire"), [("9:19.5", "6:13"), ("19.5:9", "13:6")])
def test_decimal_ratios_are_accepted_and_sent_in_whole_numbers(
    model: str, ratio: str, wire: str
) -> None:
    norm = fit(model, aspect_ratio=ratio)
    assert norm.aspect_ratio == ratio  # the caller's spelling is what the answer reports
    body = build_submit(call(model=model, aspect_ratio=norm.aspect_ratio)).json
    assert body["aspect_ratio"] == wire


@pytest.mark.parametrize("model", RATIO_MODELS)
def test_every_listed_ratio_goes_upstream_as_whole_numbers_within_21_9(model: str) -> None:
    ratios = endpoint(model).parameters["aspect_ratio"]
    for ratio in getattr(ratios, "values", ()):
        wire = build_submit(call(model=model, aspect_ratio=ratio)).json["aspect_ratio"]
        width, _, height = wire.partition(":")
        assert width.isdigit() and height.isdigit(), (ratio, wire)
        assert 9 / 21 <= int(width) / int(height) <= 21 / 9, (ratio, wire)
