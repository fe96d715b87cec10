"""Every xAI model end to end: official ``openrouter`` SDK → gateway → xAI simulator → Postgres.

Costs are computed by hand from the catalog prices written out below (providers/xai/models.toml,
reference xai.md §4). The simulator states its charge in ``usage.cost_in_usd_ticks`` and the
gateway bills that; the same requests priced from the catalog alone (``[sim:noticks]``) must cost
the same, so the ticks and the catalog agree.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter
from openrouter.errors import OpenRouterError
from PIL import Image
from pydantic import SecretStr

from app.catalog import load_catalog
from app.main import create_app
from tests.conftest import MASTER_KEY, SimServer, make_settings, provider_settings_for
from tests.e2e.helpers import generation, png_data_url
from tests.servers import ServerThread

STANDARD = "x-ai/grok-imagine-image"
QUALITY = "x-ai/grok-imagine-image-quality"
V2 = "x-ai/grok-imagine-image-2.0"
XAI_MODELS = sorted(
    m.id for m in load_catalog().models() if any(e.provider_slug == "xai" for e in m.endpoints)
)

# Catalog prices per output image (and per input image of an edit), USD.
OUT_STANDARD = Decimal("0.02")
OUT_QUALITY = Decimal("0.05")
OUT_V2 = {
    ("low", "1K"): Decimal("0.032"),
    ("medium", "1K"): Decimal("0.048"),
    ("low", "2K"): Decimal("0.048"),
    ("medium", "2K"): Decimal("0.08"),
}
IN_STANDARD = Decimal("0.02")
IN_QUALITY = Decimal("0.05")
IN_V2 = Decimal("0.02")

# model, request shape, images asked, expected size (per the simulator's ~1/~4 MP table), cost
CASES: list[tuple[str, dict[str, Any], int, tuple[int, int], Decimal]] = [
    (STANDARD, {"aspect_ratio": "16:9", "resolution": "1K"}, 1, (1360, 768), OUT_STANDARD),
    (STANDARD, {"aspect_ratio": "9:16", "resolution": "2K"}, 2, (1536, 2736), 2 * OUT_STANDARD),
    (QUALITY, {"aspect_ratio": "3:2", "resolution": "2K"}, 1, (2528, 1680), OUT_QUALITY),
    (QUALITY, {"aspect_ratio": "9:19.5"}, 3, (688, 1488), 3 * OUT_QUALITY),
    # 2.0 without quality/resolution: xAI's defaults (medium, 1k) price it
    (V2, {"aspect_ratio": "1:1"}, 1, (1024, 1024), OUT_V2[("medium", "1K")]),
    (V2, {"aspect_ratio": "3:4", "quality": "low"}, 2, (880, 1168), 2 * OUT_V2[("low", "1K")]),
    (V2, {"aspect_ratio": "4:3", "quality": "low", "resolution": "2K"}, 1, (2368, 1776), OUT_V2[("low", "2K")]),
    (V2, {"aspect_ratio": "2:1", "quality": "medium", "resolution": "2K"}, 1, (2912, 1456), OUT_V2[("medium", "2K")]),
]  # fmt: skip


class Captured:
    """An httpx client for the SDK that remembers the ``x-generation-id`` of each answer."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.http = httpx.Client(timeout=120, event_hooks={"response": [self._hook]})

    def _hook(self, response: httpx.Response) -> None:
        if "x-generation-id" in response.headers:
            self.ids.append(response.headers["x-generation-id"])


@pytest.fixture
def sim(simulators: SimServer) -> Any:
    state = simulators.sim("xai")
    state.reset()
    return state


@pytest.fixture
def sdk(sim_gateway: ServerThread) -> Iterator[tuple[OpenRouter, Captured]]:
    captured = Captured()
    client = OpenRouter(
        api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1", client=captured.http
    )
    yield client, captured
    captured.http.close()


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def generate(client: OpenRouter, model: str, prompt: str, **params: Any) -> Any:
    return client.images.generate(
        model=model, prompt=prompt, provider={"only": ["xai"], "allow_fallbacks": False}, **params
    )


def upstream_calls(sim: Any) -> list[dict[str, Any]]:
    return [e for e in sim.log.entries if e["method"] == "POST"]


def test_every_xai_model_is_covered() -> None:
    assert sorted({case[0] for case in CASES}) == XAI_MODELS


@pytest.mark.parametrize(
    ("model", "shape", "n", "size", "cost"), CASES, ids=[f"{c[0]}-{c[1]}-n{c[2]}" for c in CASES]
)
def test_model_generates_the_shape_at_the_hand_computed_cost(
    sdk: tuple[OpenRouter, Captured],
    sim_gateway: ServerThread,
    sim: Any,
    model: str,
    shape: dict[str, Any],
    n: int,
    size: tuple[int, int],
    cost: Decimal,
) -> None:
    client, captured = sdk
    result = generate(client, model, "a lighthouse at dusk", n=n, **shape)
    assert len(result.data) == n
    for item in result.data:
        image = decode(item.b64_json)
        assert image.size == size and image.format == "JPEG"
        assert item.media_type == "image/jpeg"
    assert result.usage is not None
    assert Decimal(str(result.usage.cost)) == cost
    (gid,) = captured.ids
    row = generation(sim_gateway.url, gid)
    assert row["status"] == "succeeded" and row["provider_name"] == "xAI" and row["images"] == n
    assert Decimal(row["cost_usd"]) == cost
    assert row["pixels"] == n * size[0] * size[1]

    (call,) = upstream_calls(sim)
    assert call["path"] == "/xai/v1/images/generations"
    body = call["body"]
    assert body["model"] == model.split("/", 1)[1] and body["n"] == n
    assert body["response_format"] == "b64_json"
    assert body["aspect_ratio"] == shape["aspect_ratio"]
    assert body.get("resolution") == (
        shape["resolution"].lower() if "resolution" in shape else None
    )
    assert body.get("quality") == shape.get("quality")
    assert not {"size", "style", "output_format", "background", "stream"} & body.keys()


@pytest.mark.parametrize(
    ("model", "shape", "n", "size", "cost"), [CASES[0], CASES[3], CASES[4], CASES[7]]
)
def test_the_catalog_alone_prices_the_same(
    sdk: tuple[OpenRouter, Captured],
    sim_gateway: ServerThread,
    sim: Any,
    model: str,
    shape: dict[str, Any],
    n: int,
    size: tuple[int, int],
    cost: Decimal,
) -> None:
    """Without ``cost_in_usd_ticks`` the gateway falls back to the catalog: same figure."""
    client, captured = sdk
    result = generate(client, model, "no ticks [sim:noticks]", n=n, **shape)
    assert Decimal(str(result.usage.cost)) == cost
    assert Decimal(generation(sim_gateway.url, captured.ids[0])["cost_usd"]) == cost


@pytest.mark.parametrize(
    ("model", "shape", "refs", "cost"),
    [
        (STANDARD, {"aspect_ratio": "1:1"}, 1, OUT_STANDARD + IN_STANDARD),
        (QUALITY, {"aspect_ratio": "16:9"}, 2, OUT_QUALITY + 2 * IN_QUALITY),
        (V2, {"quality": "low", "aspect_ratio": "1:1"}, 3, OUT_V2[("low", "1K")] + 3 * IN_V2),
    ],
)
def test_edit_bills_the_reference_images_too(
    sdk: tuple[OpenRouter, Captured],
    sim_gateway: ServerThread,
    sim: Any,
    model: str,
    shape: dict[str, Any],
    refs: int,
    cost: Decimal,
) -> None:
    client, captured = sdk
    colors = ["blue", "green", "yellow"][:refs]
    references = [
        {"type": "image_url", "image_url": {"url": png_data_url(96, 64, c)}} for c in colors
    ]
    result = generate(client, model, "recolour this", input_references=references, **shape)
    assert len(result.data) == 1
    assert Decimal(str(result.usage.cost)) == cost
    assert Decimal(generation(sim_gateway.url, captured.ids[0])["cost_usd"]) == cost
    (call,) = upstream_calls(sim)
    assert call["path"] == "/xai/v1/images/edits"
    body = call["body"]
    if refs == 1:
        assert body["image"]["type"] == "image_url" and "images" not in body
        assert body["image"]["url"]["data_url"] == "image/png;base64"
    else:
        assert len(body["images"]) == refs and "image" not in body
    assert body.get("quality") == shape.get("quality")


def test_some_images_withheld_are_returned_without_the_others(
    sim_gateway: ServerThread, sim: Any
) -> None:
    body = {
        "model": STANDARD,
        "prompt": "three kites [sim:withhold]",
        "n": 3,
        "aspect_ratio": "1:1",
        "provider": {"only": ["xai"], "allow_fallbacks": False},
    }
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert len(answer["data"]) == 2
    assert any("withheld 1 of 3" in w for w in answer["warnings"])
    # xAI's answer bills all three slots, the withheld one too: the cost is what it reports
    assert Decimal(str(answer["usage"]["cost"])) == 3 * OUT_STANDARD
    row = generation(sim_gateway.url, resp.headers["x-generation-id"])
    assert row["images"] == 2 and Decimal(row["cost_usd"]) == 3 * OUT_STANDARD


@pytest.mark.parametrize(
    ("prompt", "cost"),
    [
        ("a storm [sim:moderate]", Decimal(0)),  # input block: xAI reports no cost
        # output moderation: the answer still reports the image's cost, and it is recorded
        ("a storm [sim:moderate=output]", OUT_V2[("low", "1K")]),
    ],
)
def test_silent_moderation_is_a_403_that_costs_what_xai_reports(
    sdk: tuple[OpenRouter, Captured],
    sim_gateway: ServerThread,
    sim: Any,
    prompt: str,
    cost: Decimal,
) -> None:
    client, captured = sdk
    with pytest.raises(OpenRouterError) as info:
        generate(client, V2, prompt, quality="low")
    assert info.value.status_code == 403
    row = generation(sim_gateway.url, captured.ids[0])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == cost


@pytest.fixture(scope="module")
def wrong_key_gateway(
    simulators: SimServer, database_url: str, redis_url: str
) -> Iterator[ServerThread]:
    """A gateway whose xAI key the simulator rejects."""
    providers = provider_settings_for(simulators.url, ["xai"]).model_copy(
        update={"xai_api_key": SecretStr("xai-not-the-right-key-9876")}
    )
    settings = make_settings(database_url, redis_url, providers=providers, rate_limit_rpm=100_000)
    with ServerThread(create_app(settings)) as server:
        yield server


def test_a_rejected_key_is_a_provider_failure_not_the_callers_400(
    wrong_key_gateway: ServerThread, sim: Any
) -> None:
    """xAI answers a bad key with HTTP 400; the caller sees a 502 naming the provider."""
    resp = httpx.post(
        f"{wrong_key_gateway.url}/api/v1/images",
        json={"model": STANDARD, "prompt": "x", "provider": {"only": ["xai"]}},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=60,
    )
    assert resp.status_code == 502, resp.text
    error = resp.json()["error"]
    assert error["metadata"]["provider_name"] == "xAI"
    assert "Incorrect API key provided: ***." in error["message"]
    assert "not-the-right-key" not in resp.text and "xa***76" not in resp.text
    (call,) = upstream_calls(sim)
    assert call["status"] == 400
