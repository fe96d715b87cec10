"""Every OpenAI model in the catalog works end to end against the simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.catalog import load_catalog
from tests.e2e.conftest import Sim
from tests.e2e.helpers import decode, generation, post
from tests.servers import ServerThread

CATALOG = load_catalog()
OPENAI_MODELS = [
    m.id for m in CATALOG.models() if any(e.provider_slug == "openai" for e in m.endpoints)
]


def _takes_resolution(model_id: str) -> bool:
    model = CATALOG.get(model_id)
    assert model is not None
    return (
        "resolution" in next(e for e in model.endpoints if e.provider_slug == "openai").parameters
    )


@pytest.mark.parametrize("model", OPENAI_MODELS)
@pytest.mark.parametrize(
    ("request_params", "expected_ratio"),
    [({"aspect_ratio": "3:2"}, 1.5), ({"aspect_ratio": "9:16", "resolution": "2K"}, 9 / 16)],
)
def test_model_generates_at_the_requested_shape(
    gateway: ServerThread,
    api_key: str,
    sim_a: Sim,
    model: str,
    request_params: dict[str, str],
    expected_ratio: float,
) -> None:
    body = {"model": model, "prompt": "shape check", "quality": "low", **request_params}
    body["provider"] = {"only": ["openai"]}  # type: ignore[assignment]
    resp = post(gateway.url, api_key, body)
    if "resolution" in request_params and not _takes_resolution(model):
        # fixed-size models (GPT Image 1.x) have no resolution knob: a clear 400, no upstream call
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["metadata"]["param"] == "resolution"
        assert sim_a.requests == []
        return
    assert resp.status_code == 200, resp.text
    image = decode(resp.json()["data"][0]["b64_json"])
    ratio = image.width / image.height
    # fixed-size models serve the nearest allowed size (3:2 for 3:2, 2:3 for 9:16)
    assert abs(ratio - expected_ratio) / expected_ratio < 0.2, (model, image.size)
    (call,) = sim_a.requests
    assert call["body"]["model"] == model.split("/", 1)[1]
    record = generation(gateway.url, resp.headers["x-generation-id"], api_key)
    assert Decimal(record["cost_usd"]) > 0
