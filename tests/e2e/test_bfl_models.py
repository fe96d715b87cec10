"""Every BFL model end to end: the official ``openrouter`` SDK → gateway → BFL simulator.

Each model generates at the requested shape, and costs what BFL bills, computed here by hand
from the catalog prices (bfl.md §7; one billed megapixel = 1024x1024, rounded up per image),
in the SDK's ``usage.cost`` and in the ``generations`` row. The simulator states the same
charge in its submit answer (``cost`` in credits), which is what the gateway records; a second
test switches that off, so the catalog lines alone must give the same figure.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter
from openrouter import errors as or_errors

from app.catalog import load_catalog
from tests.conftest import MASTER_KEY, SimServer
from tests.e2e.helpers import decode, generation, png_data_url
from tests.servers import ServerThread

CATALOG = load_catalog()
BFL = "black-forest-labs"
BFL_MODELS = sorted(
    m.id for m in CATALOG.models() if any(e.provider_slug == BFL for e in m.endpoints)
)

# (model, request, expected shape, hand-computed USD).
# FLUX.2: first MP + each further MP (1024x1024 = 1 MP, rounded up per image); FLUX.1: flat.
# 1440x816 = 1,175,040 px = 1.12 MP -> 2 MP.
CASES: list[tuple[str, dict[str, Any], tuple[int, int] | float, str]] = [
    ("flux.2-pro", {"size": "1024x1024"}, (1024, 1024), "0.03"),  # 3¢
    ("flux.2-pro", {"size": "1440x816"}, (1440, 816), "0.045"),  # 3¢ + 1.5¢
    ("flux.2-pro-preview", {"size": "1440x816"}, (1440, 816), "0.045"),  # 3¢ + 1.5¢
    ("flux.2-max", {"size": "1024x1024"}, (1024, 1024), "0.07"),  # 7¢
    ("flux.2-max", {"size": "1440x816"}, (1440, 816), "0.10"),  # 7¢ + 3¢
    ("flux.2-flex", {"size": "1440x816"}, (1440, 816), "0.10"),  # 5¢ + 5¢
    ("flux.2-klein-4b", {"size": "1440x816"}, (1440, 816), "0.015"),  # 1.4¢ + 0.1¢
    ("flux.2-klein-9b", {"size": "1024x1024"}, (1024, 1024), "0.015"),  # 1.5¢
    # 16:9 at 2K = 4.0 MP (bfl.md §2.1, no edge cap): 2656x1488 = 3.77 MP -> 4 MP: 1.5¢ + 3 x 0.2¢
    ("flux.2-klein-9b", {"aspect_ratio": "16:9", "resolution": "2K"}, (2656, 1488), "0.021"),
    ("flux.1-kontext-pro", {"aspect_ratio": "16:9"}, 16 / 9, "0.04"),
    ("flux.1-kontext-max", {"aspect_ratio": "9:16"}, 9 / 16, "0.08"),
    ("flux.1.1-pro", {"size": "1024x768"}, (1024, 768), "0.04"),
    ("flux.1.1-pro-ultra", {"aspect_ratio": "21:9"}, 21 / 9, "0.06"),
]


def test_the_cases_cover_every_bfl_model() -> None:
    assert {f"{BFL}/{model}" for model, *_ in CASES} == set(BFL_MODELS)


class Sdk:
    """The official SDK on an httpx client that remembers each ``X-Generation-Id``."""

    def __init__(self, gateway: ServerThread) -> None:
        self.ids: list[str] = []
        self.http = httpx.Client(timeout=60, event_hooks={"response": [self._remember]})
        self.client = OpenRouter(
            api_key=MASTER_KEY, server_url=f"{gateway.url}/api/v1", client=self.http
        )

    def _remember(self, response: httpx.Response) -> None:
        if "x-generation-id" in response.headers:
            self.ids.append(response.headers["x-generation-id"])

    def generate(self, model: str, **params: Any) -> Any:
        options = params.pop("options", None)
        provider: dict[str, Any] = {"only": [BFL], "allow_fallbacks": False}
        if options is not None:
            provider["options"] = {"black_forest_labs": options}
        return self.client.images.generate(
            model=f"{BFL}/{model}",
            prompt=params.pop("prompt", "a lighthouse"),
            provider=provider,
            **params,
        )


@pytest.fixture
def sdk(sim_gateway: ServerThread) -> Iterator[Sdk]:
    made = Sdk(sim_gateway)
    yield made
    made.http.close()


@pytest.fixture
def sims(simulators: SimServer) -> SimServer:
    simulators.reset()
    return simulators


def _check_shape(b64: str, shape: tuple[int, int] | float) -> None:
    image = decode(b64)
    if isinstance(shape, tuple):
        assert image.size == shape
    else:
        assert abs(image.width / image.height - shape) / shape < 0.02, image.size


def _check_cost(gateway: ServerThread, sdk: Sdk, result: Any, expected: str) -> dict[str, Any]:
    assert result.usage is not None
    assert Decimal(str(result.usage.cost)) == Decimal(expected)
    row = generation(gateway.url, sdk.ids[-1])
    assert row["status"] == "succeeded" and row["provider_name"] == "Black Forest Labs"
    assert Decimal(row["cost_usd"]) == Decimal(expected)
    return row


@pytest.mark.parametrize(
    ("model", "params", "shape", "cost"), CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES]
)
def test_model_generates_at_the_requested_shape_and_cost(
    sim_gateway: ServerThread,
    sims: SimServer,
    sdk: Sdk,
    model: str,
    params: dict[str, Any],
    shape: tuple[int, int] | float,
    cost: str,
) -> None:
    result = sdk.generate(model, **params)
    (image,) = result.data
    _check_shape(image.b64_json, shape)
    row = _check_cost(sim_gateway, sdk, result, cost)
    (submit,) = [e for e in sims.sim("bfl").log.entries if e["method"] == "POST"]
    upstream = CATALOG.get(f"{BFL}/{model}").endpoints[0].upstream_model  # type: ignore[union-attr]
    assert submit["path"] == f"/bfl/v1/{upstream}"
    assert row["upstream_id"]  # the BFL task id


@pytest.mark.parametrize(("model", "params", "shape", "cost"), CASES[:2] + CASES[9:10])
def test_catalog_prices_match_when_bfl_states_no_cost(
    sim_gateway: ServerThread,
    sims: SimServer,
    sdk: Sdk,
    model: str,
    params: dict[str, Any],
    shape: tuple[int, int] | float,
    cost: str,
) -> None:
    sims.sim("bfl").knobs.update({"report_cost": False})
    _check_cost(sim_gateway, sdk, sdk.generate(model, **params), cost)


def test_an_edit_bills_the_reference_megapixels(
    sim_gateway: ServerThread, sims: SimServer, sdk: Sdk
) -> None:
    refs = [{"type": "image_url", "image_url": {"url": png_data_url(1024, 1024)}}]
    result = sdk.generate("flux.2-pro", size="1024x1024", input_references=refs)
    _check_cost(sim_gateway, sdk, result, "0.045")  # 3¢ + 1 input MP x 1.5¢ (bfl.md §7)
    (submit,) = [e for e in sims.sim("bfl").log.entries if e["method"] == "POST"]
    assert submit["body"]["input_image"]["size"] == [1024, 1024]


def test_a_passthrough_option_reaches_bfl(
    sim_gateway: ServerThread, sims: SimServer, sdk: Sdk
) -> None:
    result = sdk.generate(
        "flux.2-flex", size="1024x1024", seed=7, options={"steps": 20, "guidance": 3.5}
    )
    _check_cost(sim_gateway, sdk, result, "0.05")
    (submit,) = [e for e in sims.sim("bfl").log.entries if e["method"] == "POST"]
    assert submit["body"] == {
        "prompt": "a lighthouse",
        "width": 1024,
        "height": 1024,
        "seed": 7,
        "steps": 20,
        "guidance": 3.5,
    }


def test_an_option_outside_the_allowlist_is_a_400_without_upstream_call(
    sim_gateway: ServerThread, sims: SimServer, sdk: Sdk
) -> None:
    with pytest.raises(or_errors.OpenRouterError) as info:
        sdk.generate("flux.2-pro", size="1024x1024", options={"steps": 20})  # flex only
    assert info.value.status_code == 400
    assert "steps" in str(info.value.body)
    assert sims.sim("bfl").log.entries == []


@pytest.mark.parametrize("directive", ["[sim:moderate]", "[sim:moderate=output]"])
def test_a_moderated_task_is_a_403_billed_at_its_submit_cost(
    sim_gateway: ServerThread, sims: SimServer, sdk: Sdk, directive: str
) -> None:
    # BFL took the task and stated its cost (3 credits for FLUX.2 [pro] at 1 MP); the gateway
    # records a submitted task as billed at that cost even when it ends moderated.
    with pytest.raises(or_errors.OpenRouterError) as info:
        sdk.generate("flux.2-pro", prompt=f"a storm {directive}", size="1024x1024")
    assert info.value.status_code == 403
    assert "Protected Content" in str(info.value.body)
    (submit,) = [e for e in sims.sim("bfl").log.entries if e["method"] == "POST"]
    assert submit["status"] == 200
    row = generation(sim_gateway.url, sdk.ids[-1])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == Decimal("0.03")


def test_a_rejected_submit_costs_nothing(
    sim_gateway: ServerThread, sims: SimServer, sdk: Sdk
) -> None:
    with pytest.raises(or_errors.OpenRouterError):
        sdk.generate("flux.2-pro", prompt="a storm [sim:422]", size="1024x1024")
    row = generation(sim_gateway.url, sdk.ids[-1])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == 0
