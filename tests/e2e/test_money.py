"""Money that cannot leak: credit is reserved from a quote before any upstream call, across
several gateway processes sharing Postgres and Redis.

The gateways here are real ``imagegate serve`` processes (separate interpreters, separate
connection pools), pointed at one OpenAI simulator over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, REDIS_URL
from tests.e2e.conftest import SIM_KEY, Sim
from tests.e2e.helpers import generation
from tests.servers import free_port

MODEL = "openai/gpt-image-1.5"
ADMIN = {"authorization": f"Bearer {MASTER_KEY}"}
# gpt-image-1.5 low at 1024x1024, prompt "x": the quote holds 272 image tokens x $32/M +
# (1 prompt byte + 64) x $5/M + 256 text tokens x $10/M.
QUOTE = (
    Decimal(272) * Decimal("0.000032")
    + Decimal(65) * Decimal("0.000005")
    + Decimal(256) * Decimal("0.00001")
)
BODY = {"model": MODEL, "prompt": "x", "quality": "low", "size": "1024x1024"}


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("gateway process exited during start-up")
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gateway process did not start")


@pytest.fixture(scope="module")
def two_gateways(
    sims: tuple[Sim, Sim],
    database_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("home")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "IMAGEGATE_DATABASE_URL": database_url,
        "IMAGEGATE_REDIS_URL": REDIS_URL,
        "IMAGEGATE_MASTER_KEY": MASTER_KEY,
        "OPENAI_API_KEY": SIM_KEY,
        "IMAGEGATE_OPENAI_BASE_URL": f"{sims[0].url}/v1",
        "IMAGEGATE_RATE_LIMIT_RPM": "100000",
        "IMAGEGATE_LOG_LEVEL": "WARNING",
    }
    ports = [free_port(), free_port()]
    procs = [_serve(env, port) for port in ports]
    yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=15)


def _key(url: str, **fields: Any) -> dict[str, Any]:
    resp = httpx.post(f"{url}/api/v1/keys", json={"name": "money", **fields}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    return resp.json()  # type: ignore[no-any-return]


async def _burst(urls: tuple[str, str], key: str, count: int, body: dict[str, Any]) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(i: int) -> int:
            resp = await client.post(
                f"{urls[i % 2]}/api/v1/images",
                json=body,
                headers={"authorization": f"Bearer {key}"},
            )
            return resp.status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def _usage(url: str, key: str) -> Decimal:
    me = httpx.get(f"{url}/api/v1/key", headers={"authorization": f"Bearer {key}"})
    return Decimal(str(me.json()["data"]["usage"]))


def test_fifty_concurrent_requests_never_overspend_across_two_processes(
    two_gateways: tuple[str, str], sim_a: Sim
) -> None:
    sim_a.state.knobs.latency_s = 0.3  # every request is in flight at once
    limit = QUOTE * 10  # covers exactly ten quotes
    created = _key(two_gateways[0], limit=float(limit))
    statuses = asyncio.run(_burst(two_gateways, created["key"], 50, BODY))
    assert set(statuses) <= {200, 402}, statuses
    assert statuses.count(200) <= 10
    assert statuses.count(200) >= 1
    time.sleep(1.0)  # ledger rows settle just after the responses
    spent = _usage(two_gateways[1], created["key"])
    assert spent <= limit
    assert len(sim_a.requests) == statuses.count(200)  # a 402 never reached the provider


def test_one_request_that_alone_exceeds_the_limit_is_refused(
    two_gateways: tuple[str, str], sim_a: Sim
) -> None:
    created = _key(two_gateways[0], limit=float(QUOTE * 3))
    resp = httpx.post(
        f"{two_gateways[0]}/api/v1/images",
        json={**BODY, "n": 10, "quality": "high"},
        headers={"authorization": f"Bearer {created['key']}"},
    )
    assert resp.status_code == 402, resp.text
    message = resp.json()["error"]["message"]
    assert "may cost up to" in message and "left of its" in message
    assert Decimal(resp.json()["error"]["metadata"]["quote"]) > QUOTE * 3
    assert sim_a.requests == []


def test_the_402_names_the_remaining_credit_and_the_quote(
    two_gateways: tuple[str, str], sim_a: Sim
) -> None:
    created = _key(two_gateways[0], limit=0.001)
    resp = httpx.post(
        f"{two_gateways[1]}/api/v1/images",
        json=BODY,
        headers={"authorization": f"Bearer {created['key']}"},
    )
    assert resp.status_code == 402
    meta = resp.json()["error"]["metadata"]
    assert Decimal(meta["limit_remaining"]) == Decimal("0.001")
    assert Decimal(meta["quote"]) == QUOTE


def test_a_daily_limit_is_visible_and_holds_settle_to_the_actual_cost(
    two_gateways: tuple[str, str], sim_a: Sim
) -> None:
    url = two_gateways[0]
    created = _key(url, limit=1, limit_reset="daily")
    assert created["data"]["limit_reset"] == "daily"
    key = created["key"]
    resp = httpx.post(f"{url}/api/v1/images", json=BODY, headers={"authorization": f"Bearer {key}"})
    assert resp.status_code == 200
    cost = Decimal(str(resp.json()["usage"]["cost"]))
    assert cost < QUOTE  # the actual cost, not the quote that was held
    generation(url, resp.headers["x-generation-id"], key)
    me = httpx.get(f"{url}/api/v1/key", headers={"authorization": f"Bearer {key}"}).json()["data"]
    assert me["limit_reset"] == "daily"
    assert Decimal(str(me["usage_daily"])) == cost
    assert Decimal(str(me["limit_remaining"])) == Decimal(1) - cost
    listed = httpx.get(f"{url}/api/v1/keys", headers=ADMIN).json()["data"]
    mine = next(k for k in listed if k["hash"] == created["data"]["hash"])
    assert mine["limit_reset"] == "daily" and mine["limit_held"] == 0


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"limit": True}, "limit"),
        ({"limit": "5"}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": 1e20}, "limit"),
        ({"limit_reset": "hourly"}, "limit_reset"),
        ({"rate_limit_rpm": "60"}, "rate_limit_rpm"),
        ({"concurrency_limit": 0}, "concurrency_limit"),
    ],
)
def test_key_fields_are_parsed_strictly(
    two_gateways: tuple[str, str], fields: dict[str, Any], param: str
) -> None:
    url = two_gateways[0]
    resp = httpx.post(f"{url}/api/v1/keys", json={"name": "strict", **fields}, headers=ADMIN)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["metadata"]["param"] == param
    created = _key(url)
    patched = httpx.patch(
        f"{url}/api/v1/keys/{created['data']['hash']}", json=fields, headers=ADMIN
    )
    assert patched.status_code == 400, patched.text


def test_non_finite_limits_are_a_400(two_gateways: tuple[str, str]) -> None:
    resp = httpx.post(
        f"{two_gateways[0]}/api/v1/keys",
        content=b'{"name": "nan", "limit": NaN}',
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert resp.status_code == 400, resp.text


def test_max_price_skips_endpoints_and_says_so(two_gateways: tuple[str, str]) -> None:
    url = two_gateways[0]
    too_low = {**BODY, "provider": {"max_price": {"request": "0.001"}}}
    resp = httpx.post(f"{url}/api/v1/images", json=too_low, headers=ADMIN)
    assert resp.status_code == 404, resp.text
    error = resp.json()["error"]
    assert "max_price" in error["message"]
    assert Decimal(error["metadata"]["quotes"]["openai"]) == QUOTE
    within = {**BODY, "provider": {"max_price": {"image": 1, "request": "0.5"}}}
    assert httpx.post(f"{url}/api/v1/images", json=within, headers=ADMIN).status_code == 200
    bad = {**BODY, "provider": {"max_price": {"request": True}}}
    assert httpx.post(f"{url}/api/v1/images", json=bad, headers=ADMIN).status_code == 400


def test_quote_endpoint_prices_without_generating(
    two_gateways: tuple[str, str], sim_a: Sim
) -> None:
    url = two_gateways[0]
    created = _key(url, limit=0.01)
    resp = httpx.post(
        f"{url}/api/v1/images/quote",
        json={**BODY, "n": 2},
        headers={"authorization": f"Bearer {created['key']}"},
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    (endpoint,) = data["endpoints"]
    assert endpoint["provider_slug"] == "openai" and endpoint["eligible"]
    assert Decimal(endpoint["quote_usd"]) == 2 * QUOTE - Decimal(65) * Decimal("0.000005")
    assert endpoint["parameters"]["size"] == "1024x1024" and endpoint["parameters"]["n"] == 2
    assert data["limit_remaining"] == "0.0100000000"
    assert endpoint["affordable"] is False
    assert sim_a.requests == []
