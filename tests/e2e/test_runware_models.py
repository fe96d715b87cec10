"""Every Riverflow model end to end: official OpenRouter SDK → gateway → Runware simulator.

Costs are computed here by hand from the catalog's prices (Runware's list prices, reference
providers/sourceful.md §8) and must equal ``usage.cost`` and the ``generations`` row exactly.
The last test serves another Runware-hosted model (Riverflow 2 Max preview, AIR
``sourceful:2@3``) through an operator ``[[endpoints]]`` override with ``adapter = "runware"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter

from app.catalog import load_catalog
from app.main import create_app
from tests.conftest import (
    MASTER_KEY,
    SimServer,
    make_settings,
    provider_settings_for,
)
from tests.e2e.helpers import decode, generation, png_data_url
from tests.servers import ServerThread

CATALOG = load_catalog()
RIVERFLOW = [m.id for m in CATALOG.models() if any(e.adapter == "runware" for e in m.endpoints)]


class Client:
    """The SDK with a transport hook that keeps each response's generation id and JSON body."""

    def __init__(self, gateway_url: str) -> None:
        self.last: httpx.Response | None = None
        self.http = httpx.Client(event_hooks={"response": [self._keep]}, timeout=120)
        self.sdk = OpenRouter(
            api_key=MASTER_KEY, server_url=f"{gateway_url}/api/v1", client=self.http
        )

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        self.last = response

    @property
    def generation_id(self) -> str:
        assert self.last is not None
        return self.last.headers["x-generation-id"]

    def generate(self, **kwargs: Any) -> Any:
        provider = kwargs.pop("provider", {})
        return self.sdk.images.generate(
            provider={"only": ["sourceful"], "allow_fallbacks": False, **provider}, **kwargs
        )


@pytest.fixture
def rw(simulators: SimServer) -> Any:
    simulators.reset()
    return simulators.sim("runware")


@pytest.fixture
def client(sim_gateway: ServerThread) -> Iterator[Client]:
    c = Client(sim_gateway.url)
    yield c
    c.http.close()


def sent_tasks(rw: Any) -> list[dict[str, Any]]:
    return [t for e in rw.log.entries if e["method"] == "POST" for t in e["body"]]


def check_cost(
    client: Client,
    gateway: ServerThread,
    result: Any,
    expected: Decimal,
    provider_name: str = "Sourceful",
) -> dict[str, Any]:
    assert result.usage is not None
    assert Decimal(str(result.usage.cost)) == expected
    row = generation(gateway.url, client.generation_id)
    assert row["status"] == "succeeded" and row["provider_name"] == provider_name
    assert Decimal(row["cost_usd"]) == expected
    return row


# model, request, served size, AIR, hand-computed cost (catalog: providers/sourceful/models.toml)
SHAPES = [
    # 2.0 Fast, 2K: $0.04 per image
    (
        "sourceful/riverflow-v2-fast",
        {"aspect_ratio": "16:9", "resolution": "2K"},
        (2560, 1440),
        "0.04",
    ),
    # 2.0 Pro, 1K: $0.15
    ("sourceful/riverflow-v2-pro", {"aspect_ratio": "3:2"}, (1248, 832), "0.15"),
    # 2.0 Pro, 4K (7:3 is the public 21:9): $0.33
    (
        "sourceful/riverflow-v2-pro",
        {"aspect_ratio": "21:9", "resolution": "4K", "output_format": "jpeg"},
        (6048, 2592),
        "0.33",
    ),
    # 2.5 Fast, 1K, quality (= thinking level) high: $0.025
    (
        "sourceful/riverflow-v2.5-fast",
        {"size": "1024x768", "quality": "high"},
        (1024, 768),
        "0.025",
    ),
    # 2.5 Fast, 1K, default thinking level (medium): $0.022
    ("sourceful/riverflow-v2.5-fast", {"aspect_ratio": "21:9"}, (1344, 576), "0.022"),
    # 2.5 Pro, 2K, xhigh: $0.15 (estimate at 2.0 Pro's price, see the catalog)
    (
        "sourceful/riverflow-v2.5-pro",
        {"aspect_ratio": "9:16", "size": "2K", "quality": "xhigh"},
        (1152, 2048),
        "0.15",
    ),
]


def test_every_riverflow_model_is_exercised() -> None:
    assert sorted({s[0] for s in SHAPES}) == sorted(RIVERFLOW)
    assert len(RIVERFLOW) == 4


@pytest.mark.parametrize(
    ("model", "params", "size", "cost"), SHAPES, ids=[f"{s[0]}-{s[2][0]}x{s[2][1]}" for s in SHAPES]
)
def test_model_generates_at_an_allowed_size_for_its_list_price(
    client: Client,
    rw: Any,
    sim_gateway: ServerThread,
    model: str,
    params: dict[str, Any],
    size: tuple[int, int],
    cost: str,
) -> None:
    result = client.generate(model=model, prompt="a jar label", **params)
    (item,) = result.data
    image = decode(item.b64_json)
    assert image.size == size
    assert item.media_type == (
        "image/jpeg" if params.get("output_format") == "jpeg" else "image/png"
    )
    row = check_cost(client, sim_gateway, result, Decimal(cost))
    assert row["images"] == 1 and row["pixels"] == size[0] * size[1]
    (task,) = sent_tasks(rw)
    endpoint = CATALOG.endpoint(model, "sourceful")
    assert endpoint is not None and task["model"] == endpoint.upstream_model
    assert (task["width"], task["height"]) == size
    assert task["includeCost"] is True and task["outputType"] == "base64Data"
    if "quality" in params:
        assert task["settings"]["thinkingLevel"] == params["quality"]
    assert row["upstream_id"] == task["taskUUID"]


def test_several_images_are_one_task_each_and_their_costs_add_up(
    client: Client, rw: Any, sim_gateway: ServerThread
) -> None:
    # 2.5 Fast, 1K, low: 3 x $0.021
    result = client.generate(
        model="sourceful/riverflow-v2.5-fast", prompt="kites", n=3, quality="low"
    )
    assert len(result.data) == 3
    check_cost(client, sim_gateway, result, 3 * Decimal("0.021"))
    assert len(sent_tasks(rw)) == 3 and len(rw.log.entries) == 1


def test_outside_the_size_table_is_a_400_before_any_upstream_call(
    client: Client, rw: Any, sim_gateway: ServerThread
) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={"model": "sourceful/riverflow-v2-fast", "prompt": "x", "size": "1000x1000"},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 400 and resp.json()["error"]["metadata"]["param"] == "size"
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={"model": "sourceful/riverflow-v2-fast", "prompt": "x", "resolution": "4K"},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 400 and resp.json()["error"]["metadata"]["param"] == "resolution"
    assert rw.log.count == 0


FONT = {"font_url": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}


def test_font_inputs_reach_runware_in_each_familys_field_names(
    client: Client, rw: Any, sim_gateway: ServerThread
) -> None:
    options = {"sourceful": {"font_inputs": [FONT], "enhance_prompt": True}}
    client.generate(
        model="sourceful/riverflow-v2-fast", prompt="a label", provider={"options": options}
    )
    client.generate(
        model="sourceful/riverflow-v2.5-fast",
        prompt="a label",
        background="opaque",
        provider={
            "options": {"sourceful": {"font_inputs": [FONT], "background_hex_color": "#F6F1E8"}}
        },
    )
    v2, v25 = sent_tasks(rw)
    assert v2["providerSettings"] == {
        "sourceful": {
            "fontInputs": [{"fontUrl": FONT["font_url"], "text": FONT["text"]}],
            "enhancePrompt": True,
        }
    }
    assert v25["inputs"]["fonts"] == [{"url": FONT["font_url"], "text": FONT["text"]}]
    assert v25["settings"] == {"backgroundMode": "solid", "backgroundColor": "#F6F1E8"}


def test_refsr_references_go_with_the_input_images(
    client: Client, rw: Any, sim_gateway: ServerThread
) -> None:
    ref = {"type": "image_url", "image_url": {"url": png_data_url(320, 320, "blue")}}
    refsr = ["https://example.com/detail.png"]
    result = client.generate(
        model="sourceful/riverflow-v2-pro",
        prompt="sharpen the label",
        input_references=[ref],
        provider={"options": {"sourceful": {"super_resolution_references": refsr}}},
    )
    check_cost(client, sim_gateway, result, Decimal("0.15"))
    (task,) = sent_tasks(rw)
    assert task["inputs"]["superResolutionReferences"] == refsr
    assert task["inputs"]["referenceImages"][0].startswith("<image/png 320x320")


def test_a_key_outside_the_allowlist_is_a_400(
    client: Client, sim_gateway: ServerThread, rw: Any
) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={
            "model": "sourceful/riverflow-v2.5-fast",
            "prompt": "x",
            "provider": {"options": {"sourceful": {"super_resolution_references": ["u"]}}},
        },
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 400  # refSR is Riverflow 2.0 only (OpenRouter: "V2 only")
    assert rw.log.count == 0


def test_a_partial_failure_bills_only_the_images_that_succeeded(
    client: Client, rw: Any, sim_gateway: ServerThread
) -> None:
    # 2 tasks; Runware fails the first inside a 200: one image at 1K medium, $0.022
    result = client.generate(
        model="sourceful/riverflow-v2.5-fast", prompt="kites [sim:taskfail]", n=2
    )
    assert len(result.data) == 1
    row = check_cost(client, sim_gateway, result, Decimal("0.022"))
    assert row["images"] == 1
    assert client.last is not None
    (warning,) = client.last.json()["warnings"]
    assert warning == "1 of 2 images failed upstream: timeoutProvider: Provider timed out"


def test_every_task_failing_is_a_502_that_costs_nothing(
    client: Client, rw: Any, sim_gateway: ServerThread
) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={
            "model": "sourceful/riverflow-v2.5-fast",
            "prompt": "kites [sim:taskfail=all]",
            "n": 2,
            "provider": {"only": ["sourceful"], "allow_fallbacks": False},
        },
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=60,
    )
    assert resp.status_code == 502
    assert resp.json()["error"]["metadata"]["provider_code"] == "timeoutProvider"
    row = generation(sim_gateway.url, resp.headers["x-generation-id"])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == 0


# -- another Runware-hosted model, added by the operator ------------------------------------------

OVERRIDE = """
[[endpoints]]
model = "sourceful/riverflow-v2-max-preview"
name = "Sourceful: Riverflow 2 Max (preview)"
created = 2025-11-19
provider_slug = "sourceful"
provider_name = "Sourceful (operator)"
adapter = "runware"
upstream_model = "sourceful:2@3"
max_images_per_call = 2
passthrough = ["font_inputs"]
[endpoints.parameters]
n = { type = "range", min = 1, max = 4 }
aspect_ratio = { type = "enum", values = ["1:1", "16:9", "9:16", "21:9"] }
[endpoints.geometry]
mode = "sizes"
sizes = ["1024x1024", "1280x720", "720x1280", "1512x648"]
[[endpoints.pricing]]
billable = "output_image"
unit = "image"
cost_usd = "0.06358"
source = "sourceful.md §8 [RW-DOCS]: Preview Max $0.06358 at 1024x1024"
as_of = 2026-11-24
"""


@pytest.fixture(scope="module")
def operator_gateway(
    simulators: SimServer,
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerThread]:
    """A gateway whose catalog file adds a Runware-hosted model; it uses the Runware account."""
    overrides: Path = tmp_path_factory.mktemp("runware") / "overrides.toml"
    overrides.write_text(OVERRIDE)
    settings = make_settings(
        database_url,
        redis_url,
        providers=provider_settings_for(simulators.url, ["runware"]),
        catalog_file=overrides,
        rate_limit_rpm=100_000,
    )
    with ServerThread(create_app(settings)) as server:
        yield server


def test_an_operator_serves_another_runware_model_by_its_air(
    operator_gateway: ServerThread, rw: Any
) -> None:
    listed = httpx.get(
        f"{operator_gateway.url}/api/v1/images/models/sourceful/riverflow-v2-max-preview/endpoints"
    )
    assert listed.status_code == 200, listed.text
    (ep,) = listed.json()["endpoints"]
    assert ep["provider_name"] == "Sourceful (operator)"
    assert ep["allowed_passthrough_parameters"] == ["font_inputs"]
    client = Client(operator_gateway.url)
    try:
        result = client.generate(
            model="sourceful/riverflow-v2-max-preview",
            prompt="a poster",
            aspect_ratio="16:9",
            n=3,
            provider={"options": {"sourceful": {"font_inputs": [FONT]}}},
        )
        assert [decode(d.b64_json).size for d in result.data] == [(1280, 720)] * 3
        # three images at the preview's reported $0.06358 each (2 + 1 tasks: max 2 per call)
        check_cost(client, operator_gateway, result, 3 * Decimal("0.06358"), "Sourceful (operator)")
    finally:
        client.http.close()
    posts = [e for e in rw.log.entries if e["method"] == "POST"]
    assert sorted(len(e["body"]) for e in posts) == [1, 2]
    assert all(e["path"] == "/runware/v1" for e in posts)
    tasks = [t for e in posts for t in e["body"]]
    assert {t["model"] for t in tasks} == {"sourceful:2@3"}
    # a preview is a Riverflow 2.0 dialect: fonts go to providerSettings.sourceful
    assert tasks[0]["providerSettings"]["sourceful"]["fontInputs"][0]["fontUrl"] == FONT["font_url"]


def test_discovery_shows_descriptors_passthrough_and_prices(sim_gateway: ServerThread) -> None:
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1") as sdk:
        listed = {m.id for m in sdk.images.list_models().data}
    assert set(RIVERFLOW) <= listed
    resp = httpx.get(
        f"{sim_gateway.url}/api/v1/images/models/sourceful/riverflow-v2.5-fast/endpoints"
    )
    (ep,) = resp.json()["endpoints"]
    assert ep["provider_slug"] == "sourceful" and ep["provider_name"] == "Sourceful"
    params = ep["supported_parameters"]
    assert params["resolution"] == {"type": "enum", "values": ["1K", "2K"]}
    assert params["quality"] == {"type": "enum", "values": ["low", "medium", "high"]}
    assert params["input_references"] == {"type": "range", "min": 0, "max": 4}
    assert "font_inputs" in ep["allowed_passthrough_parameters"]
    prices = {p["variant"]: p["cost_usd"] for p in ep["pricing"]}
    assert prices["1k-low"] == 0.021 and prices["1k-medium"] == 0.022 and prices["1k-high"] == 0.025
    pro = httpx.get(f"{sim_gateway.url}/api/v1/images/models/sourceful/riverflow-v2-pro/endpoints")
    (ep,) = pro.json()["endpoints"]
    assert {p["variant"]: p["cost_usd"] for p in ep["pricing"]} == {
        "1k": 0.15,
        "2k": 0.15,
        "4k": 0.33,
    }
    assert ep["allowed_passthrough_parameters"] == [
        "font_inputs",
        "super_resolution_references",
        "enhance_prompt",
    ]
