"""Every Recraft model end to end: official ``openrouter`` SDK → gateway → Recraft simulator.

Costs are computed by hand from the catalog's per-image prices (providers/recraft/models.toml,
reference recraft.md §5) and must equal ``usage.cost`` and the generation row exactly. The
simulator reports ``credits`` (API units, 1 000 = $1) from the same price list, and the adapter
reports them as the provider's cost, so the two sources agree here.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter

from app.catalog import load_catalog
from tests.conftest import MASTER_KEY, SimServer
from tests.e2e.helpers import decode, generation, png_data_url, post
from tests.servers import ServerThread

CATALOG = load_catalog()

# model -> (upstream id, USD per image from models.toml, a size of its family's table, wire form)
MODELS: dict[str, tuple[str, Decimal, str, str]] = {
    "recraft/recraft-v4.1": ("recraftv4_1", Decimal("0.035"), "1344x768", "16:9"),
    "recraft/recraft-v4.1-vector": ("recraftv4_1_vector", Decimal("0.08"), "1024x1024", "1:1"),
    "recraft/recraft-v4.1-pro": ("recraftv4_1_pro", Decimal("0.21"), "1664x2560", "2:3"),
    "recraft/recraft-v4.1-utility": ("recraftv4_1_utility", Decimal("0.035"), "1216x896", "4:3"),
    "recraft/recraft-v4.1-utility-pro": (
        "recraftv4_1_utility_pro", Decimal("0.21"), "2048x2048", "1:1"
    ),
    "recraft/recraft-v4.1-flash": ("recraftv4_1_flash", Decimal("0.007"), "768x1344", "9:16"),
    "recraft/recraft-v4": ("recraftv4", Decimal("0.04"), "1280x832", "3:2"),
    "recraft/recraft-v4-vector": ("recraftv4_vector", Decimal("0.08"), "1536x768", "2:1"),
    "recraft/recraft-v4-pro": ("recraftv4_pro", Decimal("0.25"), "2304x1792", "5:4"),
    "recraft/recraft-v4-pro-vector": ("recraftv4_pro_vector", Decimal("0.30"), "2688x1536", "16:9"),
    "recraft/recraft-v3": ("recraftv3", Decimal("0.04"), "1820x1024", "16:9"),
    "recraft/recraft-v3-vector": ("recraftv3_vector", Decimal("0.08"), "1707x1024", "1707x1024"),
}  # fmt: skip
SVG_SIZE = re.compile(r'<svg\b[^>]*\bwidth="(\d+)"[^>]*\bheight="(\d+)"')


def test_the_table_covers_every_recraft_model() -> None:
    shipped = {m.id for m in CATALOG.models() if any(e.adapter == "recraft" for e in m.endpoints)}
    assert shipped == set(MODELS)


class Captured:
    """The gateway's ``x-generation-id`` of the last SDK call (the SDK does not expose it)."""

    def __init__(self) -> None:
        self.generation_id = ""

    def hook(self, response: httpx.Response) -> None:
        self.generation_id = response.headers.get("x-generation-id", self.generation_id)


@pytest.fixture
def captured() -> Captured:
    return Captured()


@pytest.fixture
def sdk(sim_gateway: ServerThread, captured: Captured) -> Iterator[OpenRouter]:
    http = httpx.Client(event_hooks={"response": [captured.hook]}, timeout=120)
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1", client=http) as c:
        yield c
    http.close()


@pytest.fixture
def sims(simulators: SimServer) -> SimServer:
    simulators.reset()
    return simulators


def _posts(sims: SimServer) -> list[dict[str, Any]]:
    return [e for e in sims.sim("recraft").log.entries if e["method"] == "POST"]


def _svg_size(markup: str) -> tuple[int, int]:
    match = SVG_SIZE.search(markup)
    assert match is not None, markup[:200]
    return int(match.group(1)), int(match.group(2))


@pytest.mark.parametrize("model", sorted(MODELS))
def test_model_generates_at_an_allowed_size_for_its_price(
    model: str,
    sdk: OpenRouter,
    captured: Captured,
    sims: SimServer,
    sim_gateway: ServerThread,
) -> None:
    upstream, price, size, wire = MODELS[model]
    vector = upstream.endswith("_vector")
    result = sdk.images.generate(
        model=model,
        prompt="a lighthouse at dusk",
        size=size,
        n=2,
        output_format="svg" if vector else "png",
        provider={"only": ["recraft"], "allow_fallbacks": False},
    )
    assert len(result.data) == 2
    width, height = (int(v) for v in size.split("x"))
    for item in result.data:
        assert item.b64_json is not None
        if vector:
            markup = base64.b64decode(item.b64_json).decode()
            assert item.media_type == "image/svg+xml" and markup.startswith("<svg")
            assert _svg_size(markup) == (width, height)
        else:
            assert item.media_type == "image/png"
            assert decode(item.b64_json).size == (width, height)

    expected = 2 * price  # two images at the catalog's per-image price
    assert result.usage is not None
    assert Decimal(str(result.usage.cost)) == expected
    row = generation(sim_gateway.url, captured.generation_id)
    assert row["status"] == "succeeded" and Decimal(row["cost_usd"]) == expected
    assert row["provider_name"] == "Recraft" and row["images"] == 2

    (post,) = _posts(sims)
    assert post["path"].endswith("/v1/images/generations")
    assert post["body"]["model"] == upstream and post["body"]["size"] == wire
    assert post["body"]["n"] == 2 and post["body"]["response_format"] == "url"
    assert post["body"].get("image_format") == (None if vector else "png")


def test_vector_model_returns_svg_markup(sdk: OpenRouter, sims: SimServer) -> None:
    result = sdk.images.generate(
        model="recraft/recraft-v4-vector",
        prompt="a fox icon <flat>",
        aspect_ratio="16:9",
        output_format="svg",
        provider={"only": ["recraft"]},
    )
    (item,) = result.data
    assert item.media_type == "image/svg+xml"
    assert item.b64_json is not None
    markup = base64.b64decode(item.b64_json).decode()
    assert markup.startswith("<svg") and markup.rstrip().endswith("</svg>")
    assert "&lt;flat&gt;" in markup
    assert _svg_size(markup) == (1344, 768)  # V4's 16:9
    assert result.usage is not None and Decimal(str(result.usage.cost)) == Decimal("0.08")


def test_style_passthrough_reaches_recraft(sdk: OpenRouter, sims: SimServer) -> None:
    options = {"style": "digital_illustration", "substyle": "pixel_art", "negative_prompt": "text"}
    result = sdk.images.generate(
        model="recraft/recraft-v3",
        prompt="a castle",
        provider={"only": ["recraft"], "options": {"recraft": options}},
    )
    assert len(result.data) == 1
    (post,) = _posts(sims)
    assert {k: post["body"][k] for k in options} == options


def test_v4_takes_no_style_and_nothing_is_sent(sim_gateway: ServerThread, sims: SimServer) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={
            "model": "recraft/recraft-v4",
            "prompt": "a castle",
            "provider": {"options": {"recraft": {"style": "realistic_image"}}},
        },
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["metadata"]["param"] == "provider.options.recraft"
    assert _posts(sims) == []


def test_more_than_six_images_fan_out(
    sdk: OpenRouter, captured: Captured, sims: SimServer, sim_gateway: ServerThread
) -> None:
    result = sdk.images.generate(
        model="recraft/recraft-v4.1-flash", prompt="many", n=8, provider={"only": ["recraft"]}
    )
    assert len(result.data) == 8
    assert sorted(p["body"]["n"] for p in _posts(sims)) == [2, 6]
    expected = 8 * Decimal("0.007")
    assert result.usage is not None and Decimal(str(result.usage.cost)) == expected
    assert Decimal(generation(sim_gateway.url, captured.generation_id)["cost_usd"]) == expected


def test_reference_goes_to_image_to_image(
    sdk: OpenRouter, captured: Captured, sims: SimServer, sim_gateway: ServerThread
) -> None:
    result = sdk.images.generate(
        model="recraft/recraft-v3-vector",
        prompt="trace this",
        input_references=[{"type": "image_url", "image_url": {"url": png_data_url(64, 64)}}],
        provider={"only": ["recraft"], "options": {"recraft": {"strength": 0.3}}},
    )
    assert result.data[0].media_type == "image/svg+xml"
    (post,) = _posts(sims)
    assert post["path"].endswith("/v1/images/imageToImage")
    assert post["body"]["strength"] == 0.3 and post["body"]["image_url"]["data_url"] is True
    assert Decimal(generation(sim_gateway.url, captured.generation_id)["cost_usd"]) == Decimal(
        "0.08"
    )


def test_no_file_fetched_is_a_failure_billed_at_the_reported_credits(
    sims: SimServer, sim_gateway: ServerThread
) -> None:
    # Recraft answered (and charged 123 units = $0.123) but both result URLs are already gone
    body = {
        "model": "recraft/recraft-v4",
        "prompt": "gone [sim:credits=123] [sim:expired]",
        "n": 2,
        "provider": {"only": ["recraft"], "allow_fallbacks": False},
    }
    resp = post(sim_gateway.url, MASTER_KEY, body)
    assert resp.status_code == 502, resp.text
    row = generation(sim_gateway.url, resp.headers["x-generation-id"])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == Decimal("0.123")


def test_one_file_fetched_keeps_that_image_at_its_catalog_price(
    sdk: OpenRouter, captured: Captured, sims: SimServer, sim_gateway: ServerThread
) -> None:
    result = sdk.images.generate(
        model="recraft/recraft-v4",
        prompt="half [sim:expired=1]",
        n=2,
        provider={"only": ["recraft"], "allow_fallbacks": False},
    )
    assert len(result.data) == 1
    row = generation(sim_gateway.url, captured.generation_id)
    assert row["status"] == "succeeded" and Decimal(row["cost_usd"]) == Decimal("0.04")
