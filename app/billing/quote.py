"""Quotes: the most a request can cost on one endpoint, before anything is spent.

A quote is the cost of the largest usage the call could report, priced by the same
:func:`app.billing.pricing.compute_cost` that prices the real usage, so the two can never
disagree about the pricing rules. Per image, per megapixel and per request lines are exact
(the output size is known from normalization; where the provider picks it, the largest size
the endpoint makes bounds it: ``max_output_pixels``, else its largest fixed size or its pixel
ceiling). Token lines use the endpoint's :class:`TokenBudget`:

* output image tokens: per image, or per megapixel of output, rounded up;
* output text tokens (captions, thinking): per image;
* input image tokens: per reference;
* input text tokens: the prompt's UTF-8 length plus :data:`PROMPT_OVERHEAD_TOKENS` (a token is
  at least one byte, so this bounds any tokenizer);
* streamed partial images: ``partial_image_tokens`` each (at most :data:`MAX_PARTIALS` per
  image).

A provider that states its own charge (``Usage.provider_cost_usd``) is settled at that charge;
its quote still comes from the catalog lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.billing.pricing import applies, compute_cost
from providers._media import image_dimensions, parse_size
from providers.spec import (
    EndpointSpec,
    FixedSizes,
    FreePixels,
    InputImage,
    Usage,
)

PROMPT_OVERHEAD_TOKENS = 64
MAX_PARTIALS = 3


class QuoteError(ValueError):
    """The endpoint's catalog data cannot bound this call's cost (a catalog gap)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """The most the call can cost, and the usage that cost assumes."""

    max_cost: Decimal
    usage: Usage
    per_image: Decimal


def largest_output(endpoint: EndpointSpec) -> int | None:
    """The most pixels the endpoint makes when the request leaves the size to the provider."""
    if endpoint.max_output_pixels is not None:
        return endpoint.max_output_pixels
    geometry = endpoint.geometry
    if isinstance(geometry, FixedSizes):
        sizes = [parse_size(s) for s in geometry.sizes]
        return max((w * h for w, h in (s for s in sizes if s)), default=None)
    if isinstance(geometry, FreePixels):
        return geometry.max_pixels
    return None


def _token_priced(endpoint: EndpointSpec, params: Mapping[str, str | None]) -> bool:
    return any(line.unit == "token" and applies(line, params) for line in endpoint.pricing)


def quote(
    endpoint: EndpointSpec,
    *,
    n: int,
    width: int | None,
    height: int | None,
    params: Mapping[str, str | None],
    prompt: str,
    references: Sequence[InputImage] = (),
    partials_per_image: int = 0,
) -> Quote:
    """The largest cost of ``n`` images on ``endpoint`` (raises QuoteError on a catalog gap)."""
    params = {**endpoint.defaults, **params}
    pixels = width * height if width and height else largest_output(endpoint)
    ref_pixels = 0
    for ref in references:
        dims = image_dimensions(ref.data)
        ref_pixels += dims[0] * dims[1] if dims else 0
    usage = Usage(
        images=n,
        pixels=(pixels or 0) * n,
        input_images=len(references),
        input_pixels=ref_pixels,
    )
    if _token_priced(endpoint, params):
        usage = _with_tokens(
            endpoint,
            usage,
            params,
            pixels,
            prompt,
            len(references),
            min(partials_per_image, MAX_PARTIALS),
        )
    if pixels is None and any(
        line.unit == "megapixel" and line.billable == "output_image" and applies(line, params)
        for line in endpoint.pricing
    ):
        raise QuoteError(
            f"{endpoint.provider_slug} {endpoint.upstream_model}: priced per megapixel but the "
            "output size is unknown; set max_output_pixels in the catalog"
        )
    cost = compute_cost(endpoint.pricing, usage, params, [pixels] * n if pixels else ())
    return Quote(cost.total, usage, (cost.total / n) if n else cost.total)


def _with_tokens(
    endpoint: EndpointSpec,
    usage: Usage,
    params: Mapping[str, str | None],
    pixels: int | None,
    prompt: str,
    references: int,
    partials: int,
) -> Usage:
    budget = endpoint.token_budget(params)
    if budget is None:
        raise QuoteError(
            f"{endpoint.provider_slug} {endpoint.upstream_model}: priced per token but the "
            "catalog has no token_budgets entry for these parameters"
        )
    if budget.output_image_tokens is None and pixels is None:
        raise QuoteError(
            f"{endpoint.provider_slug} {endpoint.upstream_model}: token budget is per "
            "megapixel but the output size is unknown; set max_output_pixels"
        )
    per_image = budget.image_tokens(pixels or 0)
    n = usage.images
    return Usage(
        images=n,
        pixels=usage.pixels,
        input_images=usage.input_images,
        input_pixels=usage.input_pixels,
        input_text_tokens=len(prompt.encode("utf-8")) + PROMPT_OVERHEAD_TOKENS,
        input_image_tokens=references * budget.input_image_tokens,
        output_image_tokens=n * (per_image + partials * budget.partial_image_tokens),
        output_text_tokens=n * budget.output_text_tokens,
    )


__all__ = ["Quote", "QuoteError", "quote"]
