"""Per-key rate limits shared through Redis, and client disconnects cancelling upstream work."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx

from app.config import ProviderSettings
from app.main import create_app
from tests.conftest import MASTER_KEY, make_settings
from tests.e2e.conftest import MODEL, SIM_KEY, Sim
from tests.e2e.helpers import generation, post
from tests.servers import ServerThread


def test_rate_limit_is_shared_by_gateway_processes(
    database_url: str, redis_url: str, sim_a: Sim
) -> None:
    providers = ProviderSettings(
        OPENAI_API_KEY=SIM_KEY, IMAGEGATE_OPENAI_BASE_URL=f"{sim_a.url}/v1"
    )  # type: ignore[call-arg]
    settings = make_settings(database_url, redis_url, providers=providers, rate_limit_rpm=2)
    with ServerThread(create_app(settings)) as one, ServerThread(create_app(settings)) as two:
        admin = {"authorization": f"Bearer {MASTER_KEY}"}
        key = httpx.post(f"{one.url}/api/v1/keys", json={"name": "rl"}, headers=admin).json()["key"]
        body = {"model": MODEL, "prompt": "x", "quality": "low"}
        # keep all three requests inside one rate window
        if time.time() % 60 > 55:
            time.sleep(61 - time.time() % 60)
        assert post(one.url, key, body).status_code == 200
        assert post(two.url, key, body).status_code == 200
        third = post(one.url, key, body)
        assert third.status_code == 429, third.text
        assert third.json()["error"]["code"] == 429
        assert 0 < int(third.headers["retry-after"]) <= 60
        assert len(sim_a.requests) == 2  # the limited request never went upstream


def test_client_disconnect_cancels_the_generation(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    sim_a.state.knobs.partial_delay_s = 1.5
    with httpx.stream(
        "POST",
        f"{gateway.url}/api/v1/images",
        json={"model": MODEL, "prompt": "walk away", "stream": True, "quality": "low"},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    ) as resp:
        gid = resp.headers["x-generation-id"]
        for line in resp.iter_lines():
            if "partial_image" in line:
                break  # leave after the first partial image
    record = generation(gateway.url, gid, api_key, wait_s=10)
    assert record["status"] == "cancelled", record
    assert Decimal(record["cost_usd"]) == 0
    # the upstream stream was closed too: the simulator never finished sending it
    deadline = time.monotonic() + 10
    while sim_a.requests[0].get("stream") == "open" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim_a.requests[0]["stream"] == "client_closed"
