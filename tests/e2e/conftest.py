"""A gateway wired over real HTTP to two OpenAI simulators, on real Postgres and Redis.

* ``sim_a``: the OpenAI provider itself (``OPENAI_API_KEY`` + ``IMAGEGATE_OPENAI_BASE_URL``).
* ``sim_b``: an operator-added OpenAI-compatible endpoint for the same model (provider slug
  ``fake-provider``), so routing and fallback have two endpoints to choose between.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import ProviderSettings
from app.main import create_app
from simulator.openai import create_app as create_openai_sim
from tests.conftest import MASTER_KEY, make_settings
from tests.servers import ServerThread

SIM_KEY = "sk-sim-openai-secret"
LOCAL_KEY = "sk-local-server-key"
MODEL = "openai/gpt-image-1.5"
# gpt-image-1.5 prices per token (reference providers/openai.md §8.1): text in $5/M, image in $8/M,
# image out $32/M.
TEXT_IN = 5
IMAGE_IN = 8
IMAGE_OUT = 32

OVERRIDES = """
[[endpoints]]
model = "openai/gpt-image-1.5"
provider_slug = "fake-provider"
provider_name = "Local OpenAI-compatible"
adapter = "openai"
base_url = "{base_url}/v1"
api_key_env = "IMAGEGATE_TEST_LOCAL_KEY"
upstream_model = "gpt-image-1.5"
max_images_per_call = 1
supports_streaming = true
passthrough = ["moderation"]
[endpoints.parameters]
n = {{ type = "range", min = 1, max = 10 }}
aspect_ratio = {{ type = "enum", values = ["1:1", "3:2", "2:3"] }}
quality = {{ type = "enum", values = ["auto", "low", "medium", "high"] }}
output_format = {{ type = "enum", values = ["png", "jpeg", "webp"] }}
input_references = {{ type = "range", min = 0, max = 16 }}
[endpoints.geometry]
mode = "sizes"
sizes = ["1024x1024", "1536x1024", "1024x1536"]
[[endpoints.pricing]]
billable = "output_image"
unit = "image"
cost_usd = "0.01"
source = "operator contract"
as_of = 2026-11-24
"""


class Sim:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.server = ServerThread(app, lifespan="off").start()
        self.url = self.server.url

    @property
    def state(self) -> Any:
        return self.app.state.sim

    @property
    def requests(self) -> list[dict[str, Any]]:
        return [e for e in self.state.log.entries if e["path"].startswith("/v1/")]


@pytest.fixture(scope="session")
def sims() -> Iterator[tuple[Sim, Sim]]:
    a = Sim(create_openai_sim(api_key=SIM_KEY))
    b = Sim(create_openai_sim(api_key=LOCAL_KEY))
    yield a, b
    a.server.stop()
    b.server.stop()


@pytest.fixture
def sim_a(sims: tuple[Sim, Sim]) -> Sim:
    sims[0].state.reset()
    return sims[0]


@pytest.fixture
def sim_b(sims: tuple[Sim, Sim]) -> Sim:
    sims[1].state.reset()
    return sims[1]


@pytest.fixture(scope="session")
def gateway(
    sims: tuple[Sim, Sim],
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerThread]:
    os.environ["IMAGEGATE_TEST_LOCAL_KEY"] = LOCAL_KEY
    overrides: Path = tmp_path_factory.mktemp("catalog") / "overrides.toml"
    overrides.write_text(OVERRIDES.format(base_url=sims[1].url))
    providers = ProviderSettings(  # type: ignore[call-arg]
        OPENAI_API_KEY=SIM_KEY, IMAGEGATE_OPENAI_BASE_URL=f"{sims[0].url}/v1"
    )
    settings = make_settings(
        database_url,
        redis_url,
        providers=providers,
        catalog_file=overrides,
        reference_allow_networks=["127.0.0.0/8"],
    )
    with ServerThread(create_app(settings)) as server:
        yield server


@pytest.fixture
def api_key(gateway: ServerThread) -> str:
    """A fresh key with no limit."""
    resp = httpx.post(
        f"{gateway.url}/api/v1/keys",
        json={"name": "e2e"},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key
