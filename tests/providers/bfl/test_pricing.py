"""The catalog's BFL pricing lines under the gateway's billing: BFL's §7 rule, as written down.

FLUX.2: first megapixel + each further megapixel, a megapixel being 1024x1024 pixels and
rounded up per image; references' megapixels summed and rounded up once. FLUX.1: per image.
When BFL states its charge (credits x $0.01), that is the cost, exactly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.billing.pricing import compute_cost
from providers.bfl.translate import parse_submit
from providers.spec import Usage
from tests.providers.bfl.calls import endpoint

MP = 1024 * 1024


def cost(model: str, width: int, height: int, input_pixels: int = 0) -> Decimal:
    usage = Usage(
        images=1,
        pixels=width * height,
        input_images=1 if input_pixels else 0,
        input_pixels=input_pixels,
    )
    lines = endpoint(f"black-forest-labs/{model}").pricing
    return compute_cost(lines, usage, {}, (width * height,)).total


@pytest.mark.parametrize(
    ("model", "t2i", "edit"),
    [  # bfl.md §7: "1 MP T2I" and "1 MP edit (1 MP input)"
        ("flux.2-klein-4b", "0.014", "0.015"),
        ("flux.2-klein-9b", "0.015", "0.017"),
        ("flux.2-pro", "0.03", "0.045"),
        ("flux.2-pro-preview", "0.03", "0.045"),
        ("flux.2-max", "0.07", "0.10"),
        ("flux.2-flex", "0.05", "0.10"),
    ],
)
def test_1024_square_is_one_megapixel(model: str, t2i: str, edit: str) -> None:
    assert cost(model, 1024, 1024) == Decimal(t2i)
    assert cost(model, 1024, 1024, input_pixels=MP) == Decimal(edit)


@pytest.mark.parametrize(
    ("width", "height", "input_pixels", "usd"),
    [
        (1024, 1024, 0, "0.03"),  # exactly 1 MP
        (1040, 1024, 0, "0.045"),  # a sliver over: 2 MP
        (1440, 1376, 0, "0.045"),  # 1.98 decimal MP: the §3 example, 4.5 credits
        (2048, 2048, 0, "0.075"),  # 4 MP: 3 + 3 x 1.5
        (1024, 1024, 3 * 96 * 96, "0.045"),  # three tiny references: 1 input MP in all
        (1024, 1024, MP + 1, "0.06"),  # just over 1 input MP: 2
    ],
)
def test_flux2_pro_rounds_up_per_image_and_once_over_the_inputs(
    width: int, height: int, input_pixels: int, usd: str
) -> None:
    assert cost("flux.2-pro", width, height, input_pixels) == Decimal(usd)


@pytest.mark.parametrize(
    ("model", "usd"),
    [
        ("flux.1-kontext-pro", "0.04"),
        ("flux.1-kontext-max", "0.08"),
        ("flux.1.1-pro", "0.04"),
        ("flux.1.1-pro-ultra", "0.06"),
    ],
)
def test_flux1_is_per_image_whatever_the_size(model: str, usd: str) -> None:
    assert cost(model, 2048, 2048, input_pixels=MP) == Decimal(usd)


def test_the_stated_credits_are_the_cost_exactly() -> None:
    submitted = parse_submit(
        b'{"id": "T", "polling_url": "https://api.eu2.bfl.ai/v1/get_result?id=T", "cost": 4.5}',
        base_url="https://api.bfl.ai/v1",
    )
    usage = Usage(images=1, pixels=1024 * 1024, provider_cost_usd=submitted.cost_usd)
    lines = endpoint("black-forest-labs/flux.2-pro").pricing
    assert compute_cost(lines, usage, {}).total == Decimal("0.045")
    odd = parse_submit(b'{"id": "T", "cost": 0.123456789012345}', base_url="https://x")
    assert odd.cost_usd == Decimal("0.00123456789012345")  # no float rounding on the way
    assert compute_cost(lines, Usage(provider_cost_usd=odd.cost_usd), {}).total == Decimal(
        "0.0012345679"  # billing's single rounding point: half-up to 1e-10
    )
