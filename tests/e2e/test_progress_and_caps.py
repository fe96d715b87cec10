"""Progress for providers that cannot stream (opt-in SSE), and provider concurrency caps.

BFL is the model provider here: it answers by polling, never with partial images, and it
caps active tasks per key (24; Kontext Max 6), which the gateway enforces across processes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from openrouter import OpenRouter

from app.main import create_app
from tests.conftest import MASTER_KEY, SimServer, make_settings, provider_settings_for
from tests.e2e.helpers import generation
from tests.e2e.test_js_clients import _node
from tests.servers import ServerThread

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}
MODEL = "black-forest-labs/flux.2-pro"
PROGRESS = {"x-imagegate-progress": "true"}


def _body(prompt: str = "a fox", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "prompt": prompt, "aspect_ratio": "1:1", **extra}


@pytest.fixture
def sims(simulators: SimServer) -> SimServer:
    simulators.reset()
    return simulators


def _events(resp: httpx.Response) -> list[dict[str, Any]]:
    lines = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [orjson.loads(line) for line in lines[:-1]]


def test_stream_on_a_polling_provider_stays_buffered_by_default(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images", json=_body(stream=True), headers=AUTH, timeout=60
    )
    assert resp.headers["content-type"].startswith("application/json")
    assert len(resp.json()["data"]) == 1


def test_opted_in_progress_streams_statuses_then_the_image(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    with httpx.stream(
        "POST",
        f"{sim_gateway.url}/api/v1/images",
        json=_body("a fox [sim:sleep=1]", stream=True),
        headers={**AUTH, **PROGRESS},
        timeout=60,
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = _events(resp)
    progress = [e for e in events if e["type"] == "imagegate.progress"]
    statuses = [e["status"] for e in progress]
    assert statuses[0] == "queued" and "generating" in statuses
    assert "Pending" in statuses  # BFL's own polling status
    assert all(isinstance(e["elapsed_s"], float) for e in progress)
    assert [e["elapsed_s"] for e in progress] == sorted(e["elapsed_s"] for e in progress)
    assert events[-1]["type"] == "image_generation.completed"
    assert Decimal(str(events[-1]["usage"]["cost"])) == Decimal("0.03")


def test_the_python_sdk_parses_both_modes_and_skips_extension_events(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    with OpenRouter(api_key=MASTER_KEY, server_url=f"{sim_gateway.url}/api/v1") as client:
        buffered = client.images.generate(model=MODEL, prompt="a fox", stream=True)
        assert not hasattr(buffered, "__iter__") or hasattr(buffered, "data")
        stream = client.images.generate(
            model=MODEL, prompt="a fox", stream=True, http_headers={"X-Imagegate-Progress": "1"}
        )
        kinds = [getattr(event, "type", None) for event in stream]
    assert kinds[-1] == "image_generation.completed"
    assert "UNKNOWN" in kinds  # the SDK keeps unknown events as opaque items, without failing
    assert kinds.count("image_generation.completed") == 1


def test_the_ts_sdk_parses_both_modes(sim_gateway: ServerThread, sims: SimServer) -> None:
    api = f"{sim_gateway.url}/api/v1"
    body = json.dumps(_body())
    buffered = _node("sdk.mjs", "stream", api, MASTER_KEY, body)
    assert buffered["mode"] == "buffered" and len(buffered["images"]) == 1
    streamed = _node(
        "sdk.mjs",
        "stream",
        api,
        MASTER_KEY,
        body,
        env={"IMAGEGATE_JS_HEADERS": json.dumps(PROGRESS)},
    )
    assert "error" not in streamed, streamed
    assert streamed["mode"] == "stream"
    assert len(streamed["completed"]) == 1 and streamed["stream_errors"] == []
    assert any(e["type"] == "UNKNOWN" for e in streamed["events"])


def test_a_client_leaving_a_bfl_job_stops_the_polling_and_pays_bfls_charge(
    sim_gateway: ServerThread, sims: SimServer
) -> None:
    with httpx.stream(
        "POST",
        f"{sim_gateway.url}/api/v1/images",
        json=_body("walk away [sim:sleep=3]", stream=True),
        headers={**AUTH, **PROGRESS},
        timeout=60,
    ) as resp:
        gid = resp.headers["x-generation-id"]
        for line in resp.iter_lines():
            if '"Pending"' in line:
                break
    record = generation(sim_gateway.url, gid, wait_s=10)
    assert record["status"] == "cancelled"
    assert Decimal(record["cost_usd"]) == Decimal("0.03")  # BFL's cost at submit
    polls = len([e for e in sims.sim("bfl").log.entries if e["method"] == "GET"])
    time.sleep(1.5)
    assert len([e for e in sims.sim("bfl").log.entries if e["method"] == "GET"]) == polls


# ------------------------------------------------------------------------------------------
# Provider concurrency caps, shared by two gateway processes through Redis
# ------------------------------------------------------------------------------------------

KONTEXT_MAX = "black-forest-labs/flux.1-kontext-max"  # BFL caps it at 6 active tasks


@pytest.fixture
def capped_gateways(
    simulators: SimServer, database_url: str, redis_url: str
) -> Iterator[tuple[ServerThread, ServerThread]]:
    simulators.reset()
    settings = make_settings(
        database_url,
        redis_url,
        providers=provider_settings_for(simulators.url, simulators.names),
        provider_wait_s=1.0,
        rate_limit_rpm=100_000,
    )
    with ServerThread(create_app(settings)) as one, ServerThread(create_app(settings)) as two:
        yield one, two


async def _burst(urls: list[str], body: dict[str, Any], count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(i: int) -> int:
            resp = await client.post(f"{urls[i % 2]}/api/v1/images", json=body, headers=AUTH)
            return resp.status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def test_the_kontext_max_cap_holds_across_processes_and_waiters_get_429(
    capped_gateways: tuple[ServerThread, ServerThread], simulators: SimServer
) -> None:
    body = {"model": KONTEXT_MAX, "prompt": "capped [sim:sleep=2]", "aspect_ratio": "1:1"}
    urls = [capped_gateways[0].url, capped_gateways[1].url]
    statuses = asyncio.run(_burst(urls, body, 10))
    # 6 run at once; the 4 beyond the cap wait 1 s for a slot, then get a clean 429
    assert statuses.count(200) == 6 and statuses.count(429) == 4, statuses
    submits = [e for e in simulators.sim("bfl").log.entries if e["method"] == "POST"]
    assert len(submits) == 6


def test_a_request_cancelled_while_queued_for_a_slot_costs_nothing(
    capped_gateways: tuple[ServerThread, ServerThread], simulators: SimServer
) -> None:
    one, two = capped_gateways
    busy = {"model": KONTEXT_MAX, "prompt": "busy [sim:sleep=3]", "aspect_ratio": "1:1"}

    async def scenario() -> tuple[str, list[int]]:
        async with httpx.AsyncClient(timeout=60) as client:
            fill = [
                asyncio.create_task(
                    client.post(f"{one.url}/api/v1/images", json=busy, headers=AUTH)
                )
                for _ in range(6)
            ]
            await asyncio.sleep(0.5)  # the six slots are taken
            waiting = {**busy, "prompt": "queued", "stream": True}
            async with client.stream(
                "POST", f"{two.url}/api/v1/images", json=waiting, headers={**AUTH, **PROGRESS}
            ) as resp:
                gid = resp.headers["x-generation-id"]
                async for line in resp.aiter_lines():
                    if '"queued"' in line and '"black-forest-labs"' in line:
                        break  # the gateway said it is waiting for a slot: leave
            done = await asyncio.gather(*fill)
            return gid, [r.status_code for r in done]

    gid, statuses = asyncio.run(scenario())
    assert statuses == [200] * 6
    record = generation(two.url, gid, wait_s=10)
    assert record["status"] == "cancelled" and Decimal(record["cost_usd"]) == 0
    prompts = [(e.get("body") or {}).get("prompt", "") for e in simulators.sim("bfl").log.entries]
    assert sum("busy" in p for p in prompts) == 6
    assert not any("queued" in p for p in prompts)  # it never reached the provider
