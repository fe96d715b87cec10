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


def test_a_client_leaving_after_partials_is_billed_what_the_provider_charges(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Partial images reached the client: the provider bills the job, so the gateway reads the
    upstream answer to its end in the background and records its real cost."""
    sim_a.state.knobs.partial_delay_s = 0.5
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
    record = generation(gateway.url, gid, api_key, wait_s=15)
    assert record["status"] == "cancelled", record
    # gpt-image-1.5 low 1024x1024: 272 image tokens + 2 partials x 100, at $32/M, plus the
    # prompt's text tokens at $5/M
    assert record["images"] == 1
    assert Decimal(record["cost_usd"]) >= Decimal(472) * Decimal("0.000032")
    deadline = time.monotonic() + 10
    while sim_a.requests[0].get("stream") == "open" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim_a.requests[0]["stream"] == "finished"


def test_a_provider_that_outlasts_the_drain_bound_is_settled_at_the_quote(
    database_url: str, redis_url: str, sim_a: Sim
) -> None:
    providers = ProviderSettings(
        OPENAI_API_KEY=SIM_KEY, IMAGEGATE_OPENAI_BASE_URL=f"{sim_a.url}/v1"
    )  # type: ignore[call-arg]
    settings = make_settings(
        database_url, redis_url, providers=providers, disconnect_drain_s=0.5, keepalive_s=0.2
    )
    sim_a.state.knobs.latency_s = 3
    with ServerThread(create_app(settings)) as server:
        admin = {"authorization": f"Bearer {MASTER_KEY}"}
        created = httpx.post(
            f"{server.url}/api/v1/keys", json={"name": "drain", "limit": 5}, headers=admin
        ).json()
        key = created["key"]
        body = {"model": MODEL, "prompt": "slow", "quality": "low", "size": "1024x1024"}
        with httpx.stream(
            "POST",
            f"{server.url}/api/v1/images",
            json=body,
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
        ) as resp:
            gid = resp.headers["x-generation-id"]
            next(resp.iter_bytes())  # the first keep-alive byte: the call is in flight
        record = generation(server.url, gid, key, wait_s=15)
        assert record["status"] == "cancelled"
        # settled at the quote: 272 tokens x $32/M + (prompt bytes + 64) x $5/M + 256 text x $10/M
        quote = (
            Decimal(272) * Decimal("0.000032")
            + Decimal(len("slow") + 64) * Decimal("0.000005")
            + Decimal(256) * Decimal("0.00001")
        )
        assert Decimal(record["cost_usd"]) == quote
        me = httpx.get(f"{server.url}/api/v1/key", headers={"authorization": f"Bearer {key}"})
        assert Decimal(str(me.json()["data"]["usage"])) == quote
