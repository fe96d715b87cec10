"""Routing preferences and fallback across two real endpoints."""

from __future__ import annotations

from decimal import Decimal

import httpx

from tests.conftest import MASTER_KEY
from tests.e2e.conftest import MODEL, Sim
from tests.e2e.helpers import generation, post
from tests.servers import ServerThread


def test_default_order_uses_the_primary_endpoint(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    assert (
        post(gateway.url, api_key, {"model": MODEL, "prompt": "x", "quality": "low"}).status_code
        == 200
    )
    assert len(sim_a.requests) == 1 and sim_b.requests == []


def test_order_only_ignore(gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim) -> None:
    for provider in (
        {"order": ["fake-provider"]},
        {"only": ["Local OpenAI-compatible"]},
        {"ignore": ["OpenAI"]},
    ):
        resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "x", "provider": provider})
        assert resp.status_code == 200, resp.text
    assert sim_a.requests == [] and len(sim_b.requests) == 3
    # the operator endpoint bills per image (its own pricing lines)
    assert Decimal(str(resp.json()["usage"]["cost"])) == Decimal("0.01")


def test_sort_by_price(gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim) -> None:
    resp = post(
        gateway.url, api_key, {"model": MODEL, "prompt": "x", "provider": {"sort": "price"}}
    )
    assert resp.status_code == 200
    # fake-provider: $0.01/image; OpenAI: $32/M output tokens → nominal $0.032 per 1,000 tokens
    assert sim_a.requests == [] and len(sim_b.requests) == 1


def test_429_falls_back_when_allowed(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    sim_a.state.knobs.fail_next = [429]
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "x"})
    assert resp.status_code == 200, resp.text
    assert len(sim_a.requests) == 1 and len(sim_b.requests) == 1
    record = generation(gateway.url, resp.headers["x-generation-id"], api_key)
    assert record["provider_name"] == "Local OpenAI-compatible"


def test_5xx_falls_back_when_allowed(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    sim_a.state.knobs.fail_next = [500]
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "x"})
    assert resp.status_code == 200, resp.text
    assert len(sim_b.requests) == 1


def test_no_fallback_when_disallowed(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    sim_a.state.knobs.fail_next = [429]
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "x", "provider": {"allow_fallbacks": False}},
    )
    assert resp.status_code == 429, resp.text
    assert resp.json()["error"]["code"] == 429
    assert "retry-after" in resp.headers
    assert sim_b.requests == []
    sim_a.state.knobs.fail_next = [503]
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "x", "provider": {"allow_fallbacks": False}},
    )
    assert resp.status_code == 502, resp.text
    assert sim_b.requests == []


def test_moderation_never_falls_back(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "something forbidden"})
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["metadata"]["provider_name"] == "OpenAI"
    assert len(sim_a.requests) == 1 and sim_b.requests == []


def test_all_endpoints_failing_is_a_clean_502(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    sim_a.state.knobs.fail_next = [500]
    sim_b.state.knobs.fail_next = [503]
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "x"})
    assert resp.status_code == 502, resp.text
    assert "Traceback" not in resp.text


def test_n_above_per_call_max_is_split(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "x", "n": 3, "provider": {"only": ["fake-provider"]}},
    )
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["data"]) == 3
    assert len(sim_b.requests) == 3  # max_images_per_call = 1 on this endpoint
    assert Decimal(str(resp.json()["usage"]["cost"])) == Decimal("0.03")


def test_credit_limit_is_enforced(gateway: ServerThread, sim_a: Sim) -> None:
    # A request is quoted before it runs: gpt-image-1.5 low at its largest size (1536x1024:
    # 408 tokens x $32/M) + 65 prompt tokens x $5/M + 256 text tokens x $10/M = $0.015941.
    # A $0.02 limit covers one quote; after the first real cost (a square, 272 tokens) the
    # remaining credit no longer covers another.
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    key = httpx.post(
        f"{gateway.url}/api/v1/keys", json={"name": "poor", "limit": 0.02}, headers=admin
    ).json()["key"]
    first = post(gateway.url, key, {"model": MODEL, "prompt": "x", "quality": "low"})
    assert first.status_code == 200
    generation(gateway.url, first.headers["x-generation-id"], key)  # usage is settled with the row
    second = post(gateway.url, key, {"model": MODEL, "prompt": "x", "quality": "low"})
    assert second.status_code == 402, second.text
    assert len(sim_a.requests) == 1
    me = httpx.get(f"{gateway.url}/api/v1/key", headers={"authorization": f"Bearer {key}"}).json()[
        "data"
    ]
    assert Decimal(str(me["usage"])) == Decimal(str(first.json()["usage"]["cost"]))
    assert me["usage_daily"] == me["usage_weekly"] == me["usage_monthly"] == me["usage"]
