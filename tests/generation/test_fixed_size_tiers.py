"""Fixed sizes in several resolution tiers (Riverflow: the same ratios at 1K, 2K and 4K).

A ``resolution`` enum on a fixed-sizes geometry: each size belongs to the listed tier nearest
its long edge; a ratio is looked up among the sizes of the requested tier (else the endpoint's
``defaults.resolution``); the catalog check wants every listed tier to own a size.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.api.schemas import ImageGenerationRequest
from app.catalog.checks import check_endpoint
from app.errors import BadRequest
from app.generation.normalize import normalize
from providers.spec import EndpointSpec

BASE = [(1024, 1024), (1280, 720), (720, 1280), (1512, 648)]  # 7:3 has a 1.5K-ish long edge


def sizes(*tiers: int) -> list[str]:
    return [f"{w * k}x{h * k}" for k in tiers for w, h in BASE]


def endpoint(size_list: list[str], resolutions: list[str] | None, **extra: Any) -> EndpointSpec:
    parameters: dict[str, Any] = {
        "n": {"type": "range", "min": 1, "max": 1},
        "aspect_ratio": {"type": "enum", "values": ["1:1", "16:9", "9:16", "21:9"]},
    }
    if resolutions is not None:
        parameters["resolution"] = {"type": "enum", "values": resolutions}
    return EndpointSpec.model_validate(
        {
            "provider_slug": "sourceful",
            "provider_name": "Sourceful",
            "adapter": "runware",
            "upstream_model": "sourceful:riverflow-2.0@pro",
            "parameters": parameters,
            "geometry": {"mode": "sizes", "sizes": size_list},
            "max_images_per_call": 1,
            "pricing": [
                {
                    "billable": "output_image",
                    "unit": "image",
                    "cost_usd": "0.15",
                    "source": "test",
                    "as_of": "2026-11-24",
                }
            ],
            **extra,
        }
    )


PRO = endpoint(sizes(1, 2, 4), ["1K", "2K", "4K"], defaults={"resolution": "1K"})


def fit(ep: EndpointSpec, **fields: Any) -> tuple[int | None, int | None, str | None]:
    norm = normalize(ImageGenerationRequest(model="sourceful/x", prompt="p", **fields), ep)
    return norm.width, norm.height, norm.resolution


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"aspect_ratio": "16:9"}, (1280, 720, "1K")),
        ({"aspect_ratio": "16:9", "resolution": "2K"}, (2560, 1440, "2K")),
        ({"aspect_ratio": "21:9", "resolution": "1K"}, (1512, 648, "1K")),
        ({"aspect_ratio": "21:9", "resolution": "2K"}, (3024, 1296, "2K")),
        ({"aspect_ratio": "21:9", "size": "4K"}, (6048, 2592, "4K")),
        ({"aspect_ratio": "21:9"}, (1512, 648, "1K")),
        ({"resolution": "4K"}, (4096, 4096, "4K")),
        ({"size": "1512x648"}, (1512, 648, "1K")),  # long edge 1512 is nearest 1K of 1K/2K/4K
        ({"size": "3024x1296"}, (3024, 1296, "2K")),
        ({"size": "5120x2880"}, (5120, 2880, "4K")),
        ({}, (None, None, None)),  # no shape: the provider's default
    ],
)
def test_tier_and_ratio_pick_the_size_of_that_tier(
    fields: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    assert fit(PRO, **fields) == expected


def test_the_default_tier_serves_a_bare_ratio() -> None:
    two_k_default = endpoint(sizes(1, 2), ["1K", "2K"], defaults={"resolution": "2K"})
    assert fit(two_k_default, aspect_ratio="9:16") == (1440, 2560, "2K")


def test_tier_outside_the_enum_and_conflicting_pixels_are_400() -> None:
    fast = endpoint(sizes(1, 2), ["1K", "2K"], defaults={"resolution": "1K"})
    with pytest.raises(BadRequest) as err:
        fit(fast, resolution="4K")
    assert err.value.metadata["param"] == "resolution"
    with pytest.raises(BadRequest) as err:
        fit(fast, size="2048x2048", resolution="1K")
    assert err.value.metadata["param"] == "resolution"
    with pytest.raises(BadRequest) as err:
        fit(fast, size="1000x1000")
    assert err.value.metadata["param"] == "size"


def test_pricing_params_carry_the_tier_of_the_served_size() -> None:
    norm = normalize(
        ImageGenerationRequest(
            model="sourceful/x", prompt="p", aspect_ratio="21:9", resolution="2K"
        ),
        PRO,
    )
    assert norm.pricing_params["resolution"] == "2K"
    assert norm.pricing_params["size"] == "3024x1296"


def test_catalog_check_wants_every_listed_tier_to_own_a_size() -> None:
    assert check_endpoint(PRO) == []
    missing_4k = endpoint(sizes(1, 2), ["1K", "2K", "4K"])
    assert check_endpoint(missing_4k) == [
        "parameters.resolution: no size in geometry.sizes is of tier '4K'"
    ]


def test_fixed_sizes_without_resolution_are_unchanged() -> None:
    plain = endpoint(sizes(1, 2), None)
    assert check_endpoint(plain) == []
    # no tier knob: a ratio alone takes the first listed size of that ratio
    assert fit(plain, aspect_ratio="16:9") == (1280, 720, "1K")
    with pytest.raises(BadRequest):
        fit(plain, resolution="2K")
