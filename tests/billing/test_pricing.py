"""Exact cost: usage facts × pricing lines, Decimal only, one rounding point."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.billing.pricing import compute_cost
from providers.spec import PricingLine, Usage


def line(billable: str, unit: str, cost: str, **kw: object) -> PricingLine:
    return PricingLine(
        billable=billable,
        unit=unit,
        cost_usd=Decimal(cost),
        source="test",
        as_of=date(2026, 11, 24),
        **kw,
    )  # type: ignore[arg-type]


OPENAI_15 = (
    line("input_text", "token", "0.000005"),
    line("input_image", "token", "0.000008"),
    line("output_image", "token", "0.000032"),
)
# FLUX.2 [pro]: 3¢ first MP, 1.5¢ each further MP (rounded up), 1.5¢ per input MP
FLUX_PRO = (
    line("output_image", "image", "0.015"),
    line("output_image", "megapixel", "0.015", round_up=True),
    line("input_reference", "megapixel", "0.015", round_up=True),
)
TIERED = (
    line("output_image", "image", "0.03", variant="2k", when={"resolution": "2K"}),
    line("output_image", "image", "0.05", variant="4k", when={"resolution": "4K"}),
)


@pytest.mark.parametrize(
    ("lines", "usage", "params", "pixels", "expected"),
    [
        # gpt-image-1.5 low 1024²: 272 × $32/M (reference §8.2) + 12 text tokens × $5/M
        (
            OPENAI_15,
            Usage(images=1, input_text_tokens=12, output_image_tokens=272),
            {},
            (),
            "0.008764",
        ),
        # an edit: image input tokens at $8/M
        (
            OPENAI_15,
            Usage(images=1, input_text_tokens=10, input_image_tokens=388, output_image_tokens=4160),
            {},
            "",
            "0.136274",
        ),
        # FLUX.2 [pro] 1 MP text-to-image = $0.03; 1 MP edit with 1 MP input = $0.045 (reference §7)
        (FLUX_PRO, Usage(images=1, pixels=1_000_000), {}, (1_000_000,), "0.03"),
        (
            FLUX_PRO,
            Usage(images=1, pixels=1_000_000, input_images=1, input_pixels=1_000_000),
            {},
            (1_000_000,),
            "0.045",
        ),
        # 1440×1440 = 2.07 MP → 3 MP rounded up → 3¢ + 2 × 1.5¢
        (FLUX_PRO, Usage(images=1, pixels=1440 * 1440), {}, (1440 * 1440,), "0.06"),
        (FLUX_PRO, Usage(images=2, pixels=2 * 1440 * 1440), {}, (), "0.12"),
        (TIERED, Usage(images=3), {"resolution": "4K"}, (), "0.15"),
        (TIERED, Usage(images=1), {"resolution": "1K"}, (), "0"),
        (OPENAI_15, Usage(), {}, (), "0"),
    ],
)
def test_costs(
    lines: tuple[PricingLine, ...],
    usage: Usage,
    params: dict[str, str],
    pixels: tuple[int, ...],
    expected: str,
) -> None:
    assert compute_cost(lines, usage, params, pixels).total == Decimal(expected)


def test_a_line_may_count_megapixels_of_1024x1024() -> None:
    # BFL bills 1024x1024 as one megapixel: FLUX.2 [pro] 1024x1024 is 3¢, not 4.5¢, and a
    # 1024x1024 reference adds 1.5¢; 1025x1024 rounds up to a second megapixel.
    binary = {"pixels_per_megapixel": 1024 * 1024}
    lines = (
        line("output_image", "image", "0.015"),
        line("output_image", "megapixel", "0.015", round_up=True, **binary),
        line("input_reference", "megapixel", "0.015", round_up=True, **binary),
    )
    square = 1024 * 1024
    assert compute_cost(lines, Usage(images=1, pixels=square), {}, (square,)).total == Decimal(
        "0.03"
    )
    edit = Usage(images=1, pixels=square, input_images=1, input_pixels=square)
    assert compute_cost(lines, edit, {}, (square,)).total == Decimal("0.045")
    wider = 1025 * 1024
    assert compute_cost(lines, Usage(images=1, pixels=wider), {}, (wider,)).total == Decimal(
        "0.045"
    )
    # the same lines at the default 10^6 pixels per megapixel would bill 1024x1024 as 2 MP
    assert compute_cost(FLUX_PRO, Usage(images=1, pixels=square), {}, (square,)).total == Decimal(
        "0.045"
    )


def test_one_rounding_point_half_up() -> None:
    lines = (line("output_image", "token", "0.00000000003"),)  # 3e-11 per token
    # 5 tokens = 1.5e-10 → 2e-10 (half up, once); summing rounded parts would differ
    assert compute_cost(lines, Usage(output_image_tokens=5), {}).total == Decimal("0.0000000002")


def test_prompt_and_completion_split() -> None:
    cost = compute_cost(
        OPENAI_15, Usage(images=1, input_text_tokens=100, output_image_tokens=1000), {}
    )
    assert cost.prompt == Decimal("0.0005") and cost.completion == Decimal("0.032")
    assert cost.total == cost.prompt + cost.completion
    assert all(isinstance(v, Decimal) for v in (cost.total, cost.prompt, cost.completion))
