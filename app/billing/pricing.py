"""Usage facts × pricing lines → exact cost. Decimal only, one rounding point.

Quantities per (billable, unit):

* ``token``: the matching token count from :class:`providers.spec.Usage`.
* ``image``: output images, or input images for ``input_image``/``input_reference``.
* ``megapixel``: output megapixels per image (rounded up per image when ``round_up``), or the
  input megapixels summed over all references (rounded up once — BFL's rule as the reference
  states it). A megapixel is ``line.pixels_per_megapixel`` pixels (10⁶ unless the line says
  otherwise; BFL counts 1024x1024 as one).
* ``request``: one per generation.

A line applies only when every ``when`` key equals the normalized request value.

When the provider reports its own charge for the call (``Usage.provider_cost_usd``: xAI's
``cost_in_usd_ticks``, BFL's credits, Runware's ``cost``), that figure *is* the cost: it is
what the provider bills, and the catalog lines are only the fallback (and the basis of
quotes). It is reported as completion cost, since the provider does not split it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from providers.spec import PricingLine, Usage

QUANTUM = Decimal("0.0000000001")  # 1e-10 USD: the single rounding point (NUMERIC(20,10))
INPUT_BILLABLES = frozenset({"input_image", "input_reference", "input_text"})


@dataclass(frozen=True, slots=True)
class Cost:
    total: Decimal
    prompt: Decimal  # input side (text, image and reference inputs)
    completion: Decimal  # output side


def _tokens(line: PricingLine, usage: Usage) -> int:
    return {
        "output_image": usage.output_image_tokens,
        "output_text": usage.output_text_tokens,
        "input_text": usage.input_text_tokens,
        "input_image": usage.input_image_tokens,
        "input_reference": usage.input_image_tokens,
    }[line.billable]


def _megapixels(line: PricingLine, usage: Usage, image_pixels: Sequence[int]) -> Decimal:
    mega = Decimal(line.pixels_per_megapixel)
    if line.billable in ("input_image", "input_reference"):
        mp = Decimal(usage.input_pixels) / mega
        return Decimal(math.ceil(mp)) if line.round_up else mp
    sizes = list(image_pixels) or (
        [usage.pixels // usage.images] * usage.images if usage.images else []
    )
    per_image = [Decimal(p) / mega for p in sizes]
    if line.round_up:
        per_image = [Decimal(math.ceil(mp)) for mp in per_image]
    return sum(per_image, Decimal(0))


def quantity(line: PricingLine, usage: Usage, image_pixels: Sequence[int] = ()) -> Decimal:
    """How many units of ``line`` this usage consumed."""
    if line.unit == "token":
        return Decimal(_tokens(line, usage))
    if line.unit == "image":
        return Decimal(usage.input_images if line.billable in INPUT_BILLABLES else usage.images)
    if line.unit == "megapixel":
        return _megapixels(line, usage, image_pixels)
    return Decimal(1)  # "request"


def applies(line: PricingLine, params: Mapping[str, str | None]) -> bool:
    return all(params.get(k) == v for k, v in line.when.items())


def compute_cost(
    lines: Sequence[PricingLine],
    usage: Usage,
    params: Mapping[str, str | None],
    image_pixels: Sequence[int] = (),
) -> Cost:
    """Exact cost of ``usage`` under ``lines``; rounded once, half-up, to 1e-10 USD."""
    if usage.provider_cost_usd is not None:
        total = usage.provider_cost_usd.quantize(QUANTUM, rounding=ROUND_HALF_UP)
        return Cost(total=total, prompt=Decimal(0).quantize(QUANTUM), completion=total)
    prompt = completion = Decimal(0)
    for line in lines:
        if not applies(line, params):
            continue
        amount = quantity(line, usage, image_pixels) * line.cost_usd
        if line.billable in INPUT_BILLABLES:
            prompt += amount
        else:
            completion += amount
    total = (prompt + completion).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    return Cost(
        total=total,
        prompt=prompt.quantize(QUANTUM, rounding=ROUND_HALF_UP),
        completion=completion.quantize(QUANTUM, rounding=ROUND_HALF_UP),
    )
