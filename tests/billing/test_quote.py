"""Quotes: the largest cost a call can have, priced by the same rules as the real usage."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from PIL import Image

from app.billing.pricing import compute_cost
from app.billing.quote import QuoteError, quote
from app.catalog import load_catalog
from providers.spec import EndpointSpec, InputImage, Usage

CATALOG = load_catalog()


def endpoint(model_id: str) -> EndpointSpec:
    model = CATALOG.get(model_id)
    assert model is not None
    return model.endpoints[0]


def png(width: int, height: int) -> InputImage:
    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, "PNG")
    return InputImage(buf.getvalue(), "image/png")


def test_per_image_lines_are_exact() -> None:
    ep = endpoint("bytedance-seed/seedream-4.0")
    q = quote(ep, n=3, width=2048, height=2048, params={"resolution": "2K"}, prompt="x")
    assert q.max_cost == Decimal("0.09") and q.per_image == Decimal("0.03")


def test_per_megapixel_lines_use_the_output_size_and_references() -> None:
    ep = endpoint("black-forest-labs/flux.2-pro")
    one = quote(ep, n=1, width=1024, height=1024, params={}, prompt="x")
    assert one.max_cost == Decimal("0.03")  # FLUX.2 [pro]: $0.03 for a 1024x1024 image
    with_ref = quote(
        ep, n=1, width=1024, height=1024, params={}, prompt="x", references=[png(1024, 1024)]
    )
    assert with_ref.max_cost > one.max_cost


def test_token_lines_bound_every_token_kind() -> None:
    ep = endpoint("openai/gpt-image-1.5")
    q = quote(ep, n=2, width=1536, height=1024, params={"quality": "medium"}, prompt="héllo")
    # 1536x1024 = 1.5 MP x 1056 tokens/MP = 1584 per image; prompt 6 UTF-8 bytes + 64
    assert q.usage.output_image_tokens == 2 * 1584
    assert q.usage.input_text_tokens == 6 + 64
    assert q.usage.output_text_tokens == 2 * 256
    assert q.max_cost == compute_cost(ep.pricing, q.usage, {"quality": "medium"}).total


def test_partials_and_references_raise_the_bound() -> None:
    ep = endpoint("openai/gpt-image-1.5")
    plain = quote(ep, n=1, width=1024, height=1024, params={"quality": "low"}, prompt="x")
    streamed = quote(
        ep,
        n=1,
        width=1024,
        height=1024,
        params={"quality": "low"},
        prompt="x",
        partials_per_image=3,
        references=[png(64, 64)],
    )
    assert streamed.usage.output_image_tokens == plain.usage.output_image_tokens + 300
    assert streamed.usage.input_image_tokens == 6000
    assert streamed.max_cost > plain.max_cost


def test_an_unset_quality_takes_the_highest_the_endpoint_allows() -> None:
    ep = endpoint("openai/gpt-image-1.5")
    auto = quote(ep, n=1, width=1024, height=1024, params={}, prompt="x")
    high = quote(ep, n=1, width=1024, height=1024, params={"quality": "high"}, prompt="x")
    assert auto.max_cost == high.max_cost


def test_an_unset_size_takes_the_largest_the_endpoint_makes() -> None:
    ep = endpoint("openai/gpt-image-1.5")
    unset = quote(ep, n=1, width=None, height=None, params={"quality": "low"}, prompt="x")
    largest = quote(ep, n=1, width=1536, height=1024, params={"quality": "low"}, prompt="x")
    assert unset.max_cost == largest.max_cost


def test_the_quote_bounds_what_the_simulated_provider_bills() -> None:
    # gpt-image-1.5 high 1024x1536: the reference's 6240 image tokens, 12 prompt tokens
    ep = endpoint("openai/gpt-image-1.5")
    q = quote(ep, n=1, width=1024, height=1536, params={"quality": "high"}, prompt="a fox")
    real = Usage(images=1, input_text_tokens=12, output_image_tokens=6240)
    assert compute_cost(ep.pricing, real, {"quality": "high"}).total <= q.max_cost


def test_a_token_priced_endpoint_without_budgets_cannot_be_quoted() -> None:
    ep = endpoint("openai/gpt-image-1.5").model_copy(update={"token_budgets": ()})
    with pytest.raises(QuoteError, match="token_budgets"):
        quote(ep, n=1, width=1024, height=1024, params={}, prompt="x")


def test_gemini_budgets_follow_the_tier() -> None:
    ep = endpoint("google/gemini-3.1-flash-image")
    small = quote(ep, n=1, width=None, height=None, params={"resolution": "512"}, prompt="x")
    large = quote(ep, n=1, width=None, height=None, params={"resolution": "4K"}, prompt="x")
    assert small.usage.output_image_tokens == 747 and large.usage.output_image_tokens == 2520
    assert small.max_cost < large.max_cost
