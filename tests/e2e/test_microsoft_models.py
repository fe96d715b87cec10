"""Every MAI model end to end: official OpenRouter SDK → gateway → MAI simulator, real Postgres.

Costs are computed by hand from the catalog's per-token prices (providers/microsoft/models.toml)
and the simulator's token rules (reference microsoft.md §5, §8): output tokens = w*h/1024,
text tokens = words x 1.3 rounded half up. An operator-added second Azure deployment (catalog
overrides: its own base URL, key and deployment name) is routed to, and fallen back to.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openrouter import OpenRouter

from app.config import ProviderSettings
from app.main import create_app
from simulator.azure_mai import MaiState
from simulator.azure_mai import create_app as create_mai_sim
from simulator.azure_mai_rules import MaiConfig
from tests.conftest import MASTER_KEY, SimServer, make_settings
from tests.e2e.helpers import decode, generation, png_data_url
from tests.servers import ServerThread

PROMPT = "a red fox in the snow"  # 6 words -> 8 text tokens (6 x 1.3 = 7.8)
TEXT_TOKENS = 8
M = Decimal(1_000_000)


@dataclass(frozen=True)
class Expected:
    deployment: str
    shape: dict[str, str]
    size: tuple[int, int]
    output_tokens: int
    rates: tuple[str, str]  # USD per 1M tokens: text in, image out (models.toml)

    @property
    def cost(self) -> Decimal:
        text_in, image_out = (Decimal(r) / M for r in self.rates)
        return TEXT_TOKENS * text_in + self.output_tokens * image_out


CASES: dict[str, Expected] = {
    # 16:9 on the 1 MP family: 1360x768 (multiples of 16, side >= 768); 1,044,480 / 1024 = 1020
    # 8 x $5/M + 1020 x $33/M = 0.00004 + 0.03366 = 0.0337
    "microsoft/mai-image-2.5": Expected(
        "MAI-Image-2.5", {"aspect_ratio": "16:9"}, (1360, 768), 1020, ("5", "33")
    ),
    # 3:2: 1248x832 = 1,038,336 / 1024 = 1014; 8 x $1.75/M + 1014 x $19.50/M = 0.019787
    "microsoft/mai-image-2.5-flash": Expected(
        "MAI-Image-2.5-Flash", {"aspect_ratio": "3:2"}, (1248, 832), 1014, ("1.75", "19.5")
    ),
    # 9:16: 768x1360 -> 1020 tokens; 0.0337
    "microsoft/mai-image-2.5-pro": Expected(
        "MAI-Image-2.5-Pro", {"aspect_ratio": "9:16"}, (768, 1360), 1020, ("5", "33")
    ),
    # 16:9 at 1.5K on the 2.36 MP family: 2048x1152 = 2,359,296 / 1024 = 2304
    # 8 x $5/M + 2304 x $33/M = 0.00004 + 0.076032 = 0.076072
    "microsoft/mai-image-2.6": Expected(
        "MAI-Image-2.6",
        {"aspect_ratio": "16:9", "resolution": "1.5K"},
        (2048, 1152),
        2304,
        ("5", "33"),
    ),
    # 21:9 at 1K needs a 768 short side: 1792x768 = 1,376,256 / 1024 = 1344
    # 8 x $1.75/M + 1344 x $19.50/M = 0.000014 + 0.026208 = 0.026222
    "microsoft/mai-image-2.6-flash": Expected(
        "MAI-Image-2.6-Flash", {"aspect_ratio": "21:9"}, (1792, 768), 1344, ("1.75", "19.5")
    ),
}
WRITTEN_OUT = {
    "microsoft/mai-image-2.5": Decimal("0.0337"),
    "microsoft/mai-image-2.5-flash": Decimal("0.019787"),
    "microsoft/mai-image-2.5-pro": Decimal("0.0337"),
    "microsoft/mai-image-2.6": Decimal("0.076072"),
    "microsoft/mai-image-2.6-flash": Decimal("0.026222"),
}


class Captured:
    """The SDK hides response headers; an httpx hook keeps ``X-Generation-Id``."""

    def __init__(self) -> None:
        self.generation_ids: list[str] = []

    def hook(self, response: httpx.Response) -> None:
        if "x-generation-id" in response.headers:
            self.generation_ids.append(response.headers["x-generation-id"])


def _sdk(gateway: ServerThread, captured: Captured) -> OpenRouter:
    client = httpx.Client(event_hooks={"response": [captured.hook]}, timeout=60)
    return OpenRouter(api_key=MASTER_KEY, server_url=f"{gateway.url}/api/v1", client=client)


def _mai(simulators: SimServer) -> MaiState:
    state: MaiState = simulators.sim("azure_mai")
    state.reset()
    return state


def test_the_hand_computed_costs_are_written_out() -> None:
    assert {k: v.cost for k, v in CASES.items()} == WRITTEN_OUT


@pytest.mark.parametrize("model", sorted(CASES))
def test_every_mai_model_generates_at_the_requested_shape_and_cost(
    model: str, simulators: SimServer, sim_gateway: ServerThread
) -> None:
    expected = CASES[model]
    sim = _mai(simulators)
    captured = Captured()
    with _sdk(sim_gateway, captured) as client:
        result = client.images.generate(
            model=model,
            prompt=PROMPT,
            provider={"only": ["azure"], "allow_fallbacks": False},
            **expected.shape,  # type: ignore[arg-type]
        )
    (item,) = result.data
    assert item.media_type == "image/png"
    assert decode(item.b64_json).size == expected.size

    (entry,) = sim.log.entries
    assert entry["path"].endswith("/mai/v1/images/generations")
    assert entry["body"] == {
        "model": expected.deployment,
        "prompt": PROMPT,
        "width": expected.size[0],
        "height": expected.size[1],
    }

    usage = result.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (TEXT_TOKENS, expected.output_tokens)
    assert Decimal(str(usage.cost)) == WRITTEN_OUT[model]
    (gid,) = captured.generation_ids
    row = generation(sim_gateway.url, gid)
    assert row["status"] == "succeeded"
    assert Decimal(row["cost_usd"]) == WRITTEN_OUT[model]


def test_an_edit_bills_image_input_tokens(simulators: SimServer, sim_gateway: ServerThread) -> None:
    sim = _mai(simulators)
    ref = {"type": "image_url", "image_url": {"url": png_data_url(96, 64, "blue")}}
    captured = Captured()
    with _sdk(sim_gateway, captured) as client:
        result = client.images.generate(
            model="microsoft/mai-image-2.5",
            prompt=PROMPT,
            aspect_ratio="1:1",
            input_references=[ref],  # type: ignore[list-item]
            provider={"only": ["azure"]},
        )
    (entry,) = sim.log.entries
    assert entry["path"].endswith("/mai/v1/images/edits")
    assert entry["body"]["image"][0]["content_type"] == "image/png"
    # 8 text + ceil(96*64/1024) = 6 image tokens in; 1024x1024 -> 1024 out
    # 8 x $5/M + 6 x $5/M + 1024 x $33/M = 0.00004 + 0.00003 + 0.033792 = 0.033862
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (14, 1024)
    assert Decimal(str(result.usage.cost)) == Decimal("0.033862")
    row = generation(sim_gateway.url, captured.generation_ids[0])
    assert Decimal(row["cost_usd"]) == Decimal("0.033862")


def test_2_6_options_reach_azure_through_provider_options(
    simulators: SimServer, sim_gateway: ServerThread
) -> None:
    sim = _mai(simulators)
    with _sdk(sim_gateway, Captured()) as client:
        result = client.images.generate(
            model="microsoft/mai-image-2.6",
            prompt="a wide landscape",
            provider={"options": {"azure": {"auto_aspect_ratio": True, "web_grounding": True}}},
        )
    body = sim.log.entries[0]["body"]
    assert (body["auto_aspect_ratio"], body["web_grounding"]) == (True, True)
    width, height = decode(result.data[0].b64_json).size
    assert abs(width / height - 16 / 9) < 0.05  # the model chose the shape


def test_discovery_shows_the_azure_endpoints(sim_gateway: ServerThread) -> None:
    listing = httpx.get(f"{sim_gateway.url}/api/v1/images/models").json()["data"]
    ids = {m["id"] for m in listing}
    assert set(CASES) <= ids
    resp = httpx.get(f"{sim_gateway.url}/api/v1/images/models/microsoft/mai-image-2.6/endpoints")
    (ep,) = resp.json()["endpoints"]
    assert (ep["provider_name"], ep["provider_slug"]) == ("Azure", "azure")
    assert ep["allowed_passthrough_parameters"] == ["auto_aspect_ratio", "web_grounding"]
    assert ep["supported_parameters"]["input_references"] == {"type": "range", "min": 0, "max": 1}
    assert {(p["billable"], p["unit"], p["cost_usd"]) for p in ep["pricing"]} == {
        ("input_text", "token", 0.000005),
        ("input_image", "token", 0.000005),
        ("output_image", "token", 0.000033),
    }


# --------------------------------------------------------------------------------------------
# An operator's second deployment, added in the catalog overrides file
# --------------------------------------------------------------------------------------------

PRIMARY_KEY = "azure-primary-key-0123456789"
SECOND_KEY = "azure-weu-key-0123456789"
SECOND_KEY_ENV = "IMAGEGATE_TEST_AZURE_WEU_KEY"
SECOND_DEPLOYMENT = "contoso-mai-prod"
OVERRIDES = """
[[endpoints]]
model = "microsoft/mai-image-2.5"
provider_slug = "fake-provider"
provider_name = "Azure West Europe"
adapter = "azure_mai"
base_url = "{base_url}/mai/v1"
api_key_env = "{key_env}"
upstream_model = "{deployment}"
max_images_per_call = 1
[endpoints.parameters]
n = {{ type = "range", min = 1, max = 10 }}
aspect_ratio = {{ type = "enum", values = ["1:1", "16:9", "9:16"] }}
input_references = {{ type = "range", min = 0, max = 1 }}
[endpoints.geometry]
mode = "pixels"
multiple = 16
min_edge = 768
max_pixels = 1048576
[[endpoints.pricing]]
billable = "input_text"
unit = "token"
cost_usd = "0.000004"
source = "our Azure price sheet"
as_of = 2026-11-24
[[endpoints.pricing]]
billable = "output_image"
unit = "token"
cost_usd = "0.00003"
source = "our Azure price sheet"
as_of = 2026-11-24
"""


@dataclass
class TwoDeployments:
    gateway: ServerThread
    primary: MaiState
    second: MaiState


@pytest.fixture(scope="module")
def two_deployments(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoDeployments]:
    primary_app = create_mai_sim(api_key=PRIMARY_KEY)
    second_app = create_mai_sim(
        api_key=SECOND_KEY, config=MaiConfig(deployments={SECOND_DEPLOYMENT: "MAI-Image-2.5"})
    )
    os.environ[SECOND_KEY_ENV] = SECOND_KEY
    with (
        ServerThread(primary_app, lifespan="off") as primary,
        ServerThread(second_app, lifespan="off") as second,
    ):
        overrides: Path = tmp_path_factory.mktemp("mai-catalog") / "overrides.toml"
        overrides.write_text(
            OVERRIDES.format(
                base_url=second.url, key_env=SECOND_KEY_ENV, deployment=SECOND_DEPLOYMENT
            )
        )
        providers = ProviderSettings(  # type: ignore[call-arg]
            AZURE_AI_API_KEY=PRIMARY_KEY, IMAGEGATE_AZURE_MAI_BASE_URL=f"{primary.url}/mai/v1"
        )
        settings = make_settings(
            database_url, redis_url, providers=providers, catalog_file=overrides
        )
        with ServerThread(create_app(settings)) as gateway:
            yield TwoDeployments(gateway, primary_app.state.sim, second_app.state.sim)
    os.environ.pop(SECOND_KEY_ENV, None)


@pytest.fixture
def deployments(two_deployments: TwoDeployments) -> TwoDeployments:
    two_deployments.primary.reset()
    two_deployments.second.reset()
    return two_deployments


def _generate(gateway: ServerThread, provider: dict[str, Any]) -> tuple[Any, str]:
    captured = Captured()
    with _sdk(gateway, captured) as client:
        result = client.images.generate(
            model="microsoft/mai-image-2.5", prompt=PROMPT, aspect_ratio="16:9", provider=provider
        )
    return result, captured.generation_ids[-1]


def test_the_second_deployment_is_listed_and_routed_to(deployments: TwoDeployments) -> None:
    url = f"{deployments.gateway.url}/api/v1/images/models/microsoft/mai-image-2.5/endpoints"
    slugs = [e["provider_slug"] for e in httpx.get(url).json()["endpoints"]]
    assert slugs == ["azure", "fake-provider"]

    result, gid = _generate(deployments.gateway, {"only": ["fake-provider"]})
    assert deployments.primary.log.entries == []
    (entry,) = deployments.second.log.entries
    assert entry["body"]["model"] == SECOND_DEPLOYMENT and entry["auth"] == "api-key"
    assert decode(result.data[0].b64_json).size == (1360, 768)
    # the operator's prices: 8 x $4/M + 1020 x $30/M = 0.000032 + 0.0306 = 0.030632
    assert Decimal(str(result.usage.cost)) == Decimal("0.030632")
    row = generation(deployments.gateway.url, gid)
    assert (row["status"], row["provider_name"]) == ("succeeded", "Azure West Europe")
    assert Decimal(row["cost_usd"]) == Decimal("0.030632")


@pytest.mark.parametrize("fault", [429, 503])
def test_a_busy_primary_falls_back_to_the_second_deployment(
    deployments: TwoDeployments, fault: int
) -> None:
    deployments.primary.knobs.fail_next = [fault]
    result, _ = _generate(deployments.gateway, {"order": ["azure", "fake-provider"]})
    assert [e["status"] for e in deployments.primary.log.entries] == [fault]
    assert [e["status"] for e in deployments.second.log.entries] == [200]
    assert len(result.data) == 1


def test_the_primary_serves_when_healthy(deployments: TwoDeployments) -> None:
    result, _ = _generate(deployments.gateway, {"order": ["azure", "fake-provider"]})
    (entry,) = deployments.primary.log.entries
    assert entry["body"]["model"] == "MAI-Image-2.5"
    assert deployments.second.log.entries == []
    assert Decimal(str(result.usage.cost)) == Decimal("0.0337")
