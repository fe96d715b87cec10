"""Endpoint choice by provider preferences (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.catalog import load_catalog
from app.generation.planning import request_price
from app.generation.request import ImageGenerationRequest, ProviderPreferences
from app.generation.routing import choose_endpoints
from providers.spec import EndpointSpec, FixedSizes, PricingLine


def ep(slug: str, name: str, price: str) -> EndpointSpec:
    return EndpointSpec(
        provider_slug=slug,
        provider_name=name,
        adapter="openai",
        upstream_model="m",
        parameters={},
        geometry=FixedSizes(sizes=("1024x1024",)),
        max_images_per_call=1,
        pricing=(
            PricingLine(
                billable="output_image",
                unit="image",
                cost_usd=Decimal(price),
                source="t",
                as_of=date(2026, 1, 1),
            ),
        ),
    )


A, B, C = (
    ep("openai", "OpenAI", "0.04"),
    ep("together", "Together", "0.01"),
    ep("fake-provider", "Local", "0.02"),
)
ALL = (A, B, C)


@pytest.mark.parametrize(
    ("prefs", "expected"),
    [
        (None, [A, B, C]),
        ({"order": ["together"]}, [B, A, C]),
        ({"order": ["LOCAL", "openai"]}, [C, A, B]),
        ({"order": ["together"], "allow_fallbacks": False}, [B]),
        ({"allow_fallbacks": False}, [A]),
        ({"only": ["openai", "Local"]}, [A, C]),
        ({"ignore": ["OpenAI"]}, [B, C]),
        ({"sort": "price"}, [B, C, A]),
        ({"sort": {"by": "price", "partition": "none"}}, [B, C, A]),
        ({"sort": "latency"}, [A, B, C]),
        ({"only": ["nobody"]}, []),
        ({"order": ["nobody"], "allow_fallbacks": False}, []),
    ],
)
def test_choose(prefs: dict[str, object] | None, expected: list[EndpointSpec]) -> None:
    parsed = ProviderPreferences.model_validate(prefs) if prefs is not None else None
    assert choose_endpoints(ALL, parsed, lambda e: True) == expected


def test_unavailable_endpoints_are_skipped() -> None:
    assert choose_endpoints(ALL, None, lambda e: e is not A) == [B, C]


def test_sort_by_price_uses_the_requests_price_where_given() -> None:
    # B cannot quote: its catalog line ($0.01) places it
    prices = {"openai": Decimal("0.001"), "together": None, "fake-provider": Decimal("0.5")}
    prefs = ProviderPreferences.model_validate({"sort": "price"})
    chosen = choose_endpoints(ALL, prefs, lambda e: True, lambda e: prices[e.provider_slug])
    assert chosen == [A, B, C]


@pytest.mark.parametrize(
    ("quality", "per_image", "cheapest"),
    [
        # gpt-image-1.5 high 1024x1024: 4,160 output tokens at $32/M, $0.133 > $0.05
        ("high", "0.05", "fake-provider"),
        # low 1024x1024: 272 output tokens, about $0.0116 quoted < $0.02 (a nominal 1,000
        # output tokens, $0.032, put it after the $0.02 endpoint)
        ("low", "0.02", "openai"),
    ],
)
def test_sort_by_price_compares_a_token_priced_endpoint_at_the_requests_quality(
    quality: str, per_image: str, cheapest: str
) -> None:
    model = load_catalog().get("openai/gpt-image-1.5")
    assert model is not None
    openai = model.endpoints[0]
    local = ep("fake-provider", "Local", per_image)
    request = ImageGenerationRequest.model_validate(
        {
            "model": model.id,
            "prompt": "a red fox",
            "size": "1024x1024",
            "quality": quality,
            "provider": {"sort": "price"},
        }
    )
    chosen = choose_endpoints(
        (openai, local), request.provider, lambda e: True, request_price(request)
    )
    assert chosen[0].provider_slug == cheapest
