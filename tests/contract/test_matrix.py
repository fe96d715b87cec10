"""The provider-independent contract: one scenario matrix, every adapter, its simulator.

Each scenario goes through the whole gateway over real HTTP (``sim_gateway``: every provider
configured, each pointed at its simulator), with ``allow_fallbacks: false`` so the answer is
this adapter's own. The simulator produces the fault in its provider's wire format; what the
client sees must be the same whatever the provider: the right OpenRouter status, never a 500,
and a ledger row that says what happened and what it cost.
"""

from __future__ import annotations

import base64
import io
import math
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image

from app.catalog import load_catalog
from tests.conftest import MASTER_KEY, SimServer
from tests.contract.cases import CASES, Case
from tests.e2e.helpers import generation, png_data_url
from tests.servers import ServerThread

CATALOG = load_catalog()
AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def _endpoint(case: Case, model_id: str | None = None) -> Any:
    model = CATALOG.get(model_id or case.model)
    assert model is not None, case.model
    return next(e for e in model.endpoints if e.adapter == case.adapter)


def _body(case: Case, prompt: str, **extra: Any) -> dict[str, Any]:
    slug = _endpoint(case).provider_slug
    return {
        "model": case.model,
        "prompt": prompt,
        **case.body,
        "provider": {"only": [slug], "allow_fallbacks": False},
        **extra,
    }


def _post(gateway: ServerThread, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.url}/api/v1/images", json=body, headers=AUTH, timeout=60)


def _images(resp: httpx.Response) -> list[Image.Image]:
    assert resp.status_code == 200, resp.text
    out = []
    for item in resp.json()["data"]:
        img = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
        img.load()
        assert Image.MIME[img.format or ""] == item["media_type"] or item["media_type"] == (
            "image/svg+xml"
        )
        out.append(img)
    return out


@pytest.fixture
def sims(simulators: SimServer) -> SimServer:
    simulators.reset()
    return simulators


@pytest.mark.parametrize("case", CASES, ids=str)
def test_success_costs_what_the_ledger_says(
    case: Case, sims: SimServer, sim_gateway: ServerThread
) -> None:
    resp = _post(sim_gateway, _body(case, "a lighthouse at dusk"))
    images = _images(resp)
    assert len(images) == 1
    cost = Decimal(str(resp.json()["usage"]["cost"]))
    assert cost > 0
    row = generation(sim_gateway.url, resp.headers["x-generation-id"])
    assert row["status"] == "succeeded"
    assert Decimal(row["cost_usd"]) == cost
    assert case.calls(sims.sim(case.adapter).log.entries) == 1


@pytest.mark.parametrize("case", CASES, ids=str)
def test_n_images_fan_out_by_the_per_call_maximum(
    case: Case, sims: SimServer, sim_gateway: ServerThread
) -> None:
    per_call = _endpoint(case).max_images_per_call
    resp = _post(sim_gateway, _body(case, "three kites", n=3))
    assert len(_images(resp)) == 3
    assert case.calls(sims.sim(case.adapter).log.entries) == math.ceil(3 / per_call)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_reference_image_reaches_the_provider(
    case: Case, sims: SimServer, sim_gateway: ServerThread
) -> None:
    ref = {"type": "image_url", "image_url": {"url": png_data_url(96, 96, "blue")}}
    resp = _post(sim_gateway, _body(case, "recolour this", input_references=[ref]))
    assert len(_images(resp)) == 1
    entries = sims.sim(case.adapter).log.entries
    assert any(case.reference_seen(e) for e in entries), entries


FAULTS = [
    ("[sim:429]", 429),
    ("[sim:500]", 502),
    ("[sim:503]", 502),
    ("[sim:sleep=3]", 524),
    ("[sim:reset]", 502),
    ("[sim:moderate]", 403),
    ("[sim:malformed]", 502),
    ("[sim:truncate]", 502),
]
# BFL states a task's cost when it accepts it and bills it whatever the task's fate: a task that
# times out or is moderated after submit is charged that cost, the same as a success.
BILLED_AFTER_SUBMIT = {("bfl", "[sim:sleep=3]"), ("bfl", "[sim:moderate]")}


@pytest.mark.parametrize(("directive", "status"), FAULTS, ids=[f[0] for f in FAULTS])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_upstream_faults_map_to_openrouter_statuses(
    case: Case, directive: str, status: int, sims: SimServer, sim_gateway: ServerThread
) -> None:
    resp = _post(sim_gateway, _body(case, f"a storm {directive}"))
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == status and error["message"]
    assert "Traceback" not in resp.text
    if status == 429:
        assert int(resp.headers["retry-after"]) >= 1
    if status == 403:
        assert error["metadata"]["provider_name"] == _endpoint(case).provider_name
    row = generation(sim_gateway.url, resp.headers["x-generation-id"])
    assert row["status"] == "failed"
    expected = Decimal(0)
    if (case.adapter, directive) in BILLED_AFTER_SUBMIT:
        success = _post(sim_gateway, _body(case, "a calm sea"))
        expected = Decimal(str(success.json()["usage"]["cost"]))
        assert expected > 0
    assert Decimal(row["cost_usd"]) == expected


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.stream_model], ids=[str(c) for c in CASES if c.stream_model]
)
def test_a_truncated_stream_ends_in_an_error_event(
    case: Case, sims: SimServer, sim_gateway: ServerThread
) -> None:
    body = _body(case, "a comet [sim:truncate]", model=case.stream_model, stream=True)
    with httpx.stream(
        "POST", f"{sim_gateway.url}/api/v1/images", json=body, headers=AUTH, timeout=60
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        payloads = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    events = [orjson.loads(p) for p in payloads[:-1]]
    assert events[-1]["type"] == "error"
    assert isinstance(events[-1]["error"]["code"], str)
    assert not any(e["type"] == "image_generation.completed" for e in events)
