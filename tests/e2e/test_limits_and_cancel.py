"""Per-key rate limits shared through Redis, and client disconnects cancelling upstream work."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.config import ProviderSettings
from app.main import create_app
from tests.conftest import MASTER_KEY, make_settings
from tests.e2e.conftest import MODEL, SIM_KEY, Sim
from tests.e2e.helpers import generation, post, stream_images
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
        # routing runs while the rate check is on its way: its failure still comes second
        unknown = post(two.url, key, {**body, "model": "nobody/no-such-model"})
        assert unknown.status_code == 429, unknown.text
        assert len(sim_a.requests) == 2  # the limited requests never went upstream


def _billed_in_full_after_reading_to_the_end(
    gateway: ServerThread, api_key: str, sim_a: Sim, gid: str
) -> None:
    """The left generation is recorded ``cancelled`` at its real cost, and the provider's
    stream was read to its end in the background."""
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


def test_a_client_leaving_after_partials_is_billed_what_the_provider_charges(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Partial images reached the client: the provider bills the job, so the gateway reads the
    upstream answer to its end in the background and records its real cost."""
    sim_a.state.knobs.partial_delay_s = 0.5
    with stream_images(gateway.url, api_key, "walk away") as resp:
        gid = resp.headers["x-generation-id"]
        for line in resp.iter_lines():
            if "partial_image" in line:
                break  # leave after the first partial image
    _billed_in_full_after_reading_to_the_end(gateway, api_key, sim_a, gid)


def test_a_client_leaving_inside_a_partial_relayed_cut_through_is_billed_in_full(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """The client leaves while a 4 MB partial image is half relayed (the provider sends it in
    two halves, seconds apart): the gateway still reads the provider's stream to its end in the
    background, the half-sent image included, and records the job's real cost."""
    sim_a.state.knobs.update({"fixed_image": "noise", "partial_split_s": 0.5})
    received = 0
    with stream_images(gateway.url, api_key, "leave mid-image") as resp:
        gid = resp.headers["x-generation-id"]
        for chunk in resp.iter_raw():
            received += len(chunk)
            if received > 1_000_000:
                break  # inside the first partial: its second half has not been sent yet
        assert sim_a.requests[0]["partial_pieces"] == ["head"]
    _billed_in_full_after_reading_to_the_end(gateway, api_key, sim_a, gid)
    assert sim_a.requests[0]["partial_pieces"] == ["head", "tail", "head", "tail"]


def test_a_finished_generation_the_client_never_received_is_still_billed(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """The client stops reading while 4 MB partial images are on their way, the upstream call
    finishes (the gateway holds its result, unsent), then the client leaves: the provider
    billed the whole job, so the ledger records it at its full cost (as ``succeeded`` when the
    server had accepted the final event's bytes before it saw the disconnect, else as
    ``cancelled``)."""
    sim_a.state.knobs.fixed_image = "noise"  # ~4 MB per event: the socket buffers fill up
    url = urlsplit(gateway.url)
    body = (
        b'{"model": "%s", "prompt": "unread", "stream": true, "quality": "low", "n": 2, "partial_images": 3}'
        % MODEL.encode()
    )
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((url.hostname, url.port))
    client.sendall(
        b"POST /api/v1/images HTTP/1.1\r\nHost: gateway\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
        % (api_key.encode(), len(body), body)
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += client.recv(1024)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    gid = next(
        line.split(b":", 1)[1].strip().decode()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-generation-id:")
    )
    deadline = time.monotonic() + 20
    while (not sim_a.requests or sim_a.requests[0].get("stream") != "finished") and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert sim_a.requests[0]["stream"] == "finished"  # the provider delivered everything
    time.sleep(0.2)  # and the gateway has read it to its end
    client.close()  # without having read the final image
    record = generation(gateway.url, gid, api_key, wait_s=15)
    assert record["status"] in ("succeeded", "cancelled"), record
    assert record["images"] == 2
    # gpt-image-1.5 low 1024x1024, two images: 2 x 272 image tokens + 4 partials x 100 (the
    # partial images the simulator streams for this request), at $32/M, plus the prompt's text
    # tokens at $5/M
    assert Decimal(record["cost_usd"]) >= Decimal(944) * Decimal("0.000032")


@pytest.mark.parametrize("drain_s", [0.5, 0.0], ids=["outlasts-the-drain", "no-drain"])
def test_a_provider_call_left_in_flight_is_settled_at_the_quote(
    database_url: str, redis_url: str, sim_a: Sim, drain_s: float
) -> None:
    """A provider that outlasts the drain bound, or a call left in flight with
    ``IMAGEGATE_DISCONNECT_DRAIN_S=0`` (nothing runs on after the client leaves): the provider
    may bill the call, so it is settled at its quote, not at nothing."""
    providers = ProviderSettings(
        OPENAI_API_KEY=SIM_KEY, IMAGEGATE_OPENAI_BASE_URL=f"{sim_a.url}/v1"
    )  # type: ignore[call-arg]
    settings = make_settings(
        database_url, redis_url, providers=providers, disconnect_drain_s=drain_s, keepalive_s=0.2
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


class _SlowSecondSubmitBfl:
    """A BFL that takes every task (3 credits each, polling says ``Pending`` for ever) but
    answers the second submit only once ``release`` is set."""

    def __init__(self) -> None:
        self.submits = 0
        self.answered = 0
        self.polls = 0
        self.release = threading.Event()
        self.url = ""  # the fake's own address, once it serves
        self.app = Starlette(
            routes=[
                Route("/v1/get_result", self.result),
                Route("/v1/{model}", self.submit, methods=["POST"]),
            ]
        )

    async def submit(self, request: Request) -> JSONResponse:
        await request.body()
        self.submits += 1
        task = f"task-{self.submits}"
        if self.submits == 2:
            await asyncio.to_thread(self.release.wait, 10)
        self.answered += 1
        return JSONResponse(
            {"id": task, "polling_url": f"{self.url}/v1/get_result?id={task}", "cost": 3}
        )

    async def result(self, request: Request) -> JSONResponse:
        self.polls += 1
        return JSONResponse({"id": request.query_params["id"], "status": "Pending", "result": None})


def test_a_client_leaving_while_one_bfl_task_is_still_being_submitted_pays_for_every_task(
    database_url: str, redis_url: str
) -> None:
    """``n: 2`` on BFL is two tasks, submitted together. The client leaves when BFL has
    stated the first task's cost but not yet answered the second submit, which BFL has
    received and will bill: the gateway waits for that answer, then stops both tasks and
    records both charges (it recorded only the first)."""
    bfl = _SlowSecondSubmitBfl()
    with ServerThread(bfl.app, lifespan="off") as fake:
        bfl.url = fake.url
        providers = ProviderSettings(
            BFL_API_KEY="bfl-test", IMAGEGATE_BFL_BASE_URL=f"{fake.url}/v1"
        )  # type: ignore[call-arg]
        settings = make_settings(database_url, redis_url, providers=providers, keepalive_s=0.2)
        with ServerThread(create_app(settings)) as server:
            admin = {"authorization": f"Bearer {MASTER_KEY}"}
            key = httpx.post(
                f"{server.url}/api/v1/keys", json={"name": "bfl-leave", "limit": 5}, headers=admin
            ).json()["key"]
            body = {
                "model": "black-forest-labs/flux.2-pro",
                "prompt": "two foxes",
                "n": 2,
                "size": "1024x1024",
            }
            with httpx.stream(
                "POST",
                f"{server.url}/api/v1/images",
                json=body,
                headers={"authorization": f"Bearer {key}"},
                timeout=30,
            ) as resp:
                gid = resp.headers["x-generation-id"]
                deadline = time.monotonic() + 10
                while (bfl.submits, bfl.answered) != (2, 1) and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert (bfl.submits, bfl.answered) == (2, 1)
            time.sleep(0.5)  # the gateway has seen the client leave
            bfl.release.set()  # BFL now answers the second submit: it took the task
            record = generation(server.url, gid, key, wait_s=15)
            assert record["status"] == "cancelled", record
            assert Decimal(record["cost_usd"]) == Decimal("0.06")  # 2 tasks x 3 credits
            polls = bfl.polls
            time.sleep(1.5)
            assert bfl.polls == polls  # both tasks' polling stopped
