"""Endpoint choice by provider preferences (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from app.generation.request import ProviderPreferences
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
