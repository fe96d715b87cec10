"""Reference images fetched from a slow host: the answer is kept alive while they arrive.

The OpenRouter Python SDK reads with a 5 s timeout and re-sends a request that sent nothing
for that long. Reference images are fetched before the generation starts, from hosts as slow
as they like, so that wait is inside the keep-alive window like the generation itself: past
one keep-alive period a buffered answer is committed to 200 (newlines until the body) and an
event stream to its keep-alive comments. The reference host here holds its answer until the
test lets it go, so "kept alive while fetching" is observed, not timed.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.config import ProviderSettings
from app.main import create_app
from tests.conftest import MASTER_KEY, make_settings
from tests.e2e.conftest import MODEL, SIM_KEY, Sim
from tests.e2e.helpers import generation
from tests.servers import ServerThread


class HeldHost:
    """Serves ``/ref.png`` (or a 404 at ``/missing.png``) once :meth:`release` is called."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.asked = threading.Event()
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), "teal").save(buf, "PNG")
        self.png = buf.getvalue()
        self.server = ServerThread(
            Starlette(routes=[Route("/{name}", self._serve)]), lifespan="off"
        ).start()

    async def _serve(self, request: Request) -> Response:
        import anyio.to_thread

        self.asked.set()
        await anyio.to_thread.run_sync(self.gate.wait, 30)
        if request.path_params["name"] == "ref.png":
            return Response(self.png, media_type="image/png")
        return Response(b"gone", status_code=404)

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def host() -> Iterator[HeldHost]:
    held = HeldHost()
    yield held
    held.release()
    held.server.stop()


@pytest.fixture(scope="module")
def patient_gateway(database_url: str, redis_url: str, sims: tuple[Sim, Sim]) -> Iterator[str]:
    providers = ProviderSettings(
        OPENAI_API_KEY=SIM_KEY, IMAGEGATE_OPENAI_BASE_URL=f"{sims[0].url}/v1"
    )  # type: ignore[call-arg]
    settings = make_settings(
        database_url,
        redis_url,
        providers=providers,
        keepalive_s=0.2,
        reference_allow_networks=["127.0.0.0/8"],
    )
    with ServerThread(create_app(settings)) as server:
        yield server.url


def _key(url: str, **fields: Any) -> str:
    admin = {"authorization": f"Bearer {MASTER_KEY}"}
    resp = httpx.post(f"{url}/api/v1/keys", json={"name": "slow refs", **fields}, headers=admin)
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def _body(ref: str, **extra: Any) -> dict[str, Any]:
    refs = [{"type": "image_url", "image_url": {"url": ref}}]
    return {"model": MODEL, "prompt": "edit", "quality": "low", "input_references": refs, **extra}


def _open(url: str, key: str, body: dict[str, Any]) -> Any:
    # A read timeout shorter than the test's patience: a gateway that sent nothing while the
    # host is held would fail here instead of hanging.
    return httpx.stream(
        "POST",
        f"{url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=httpx.Timeout(10, read=5),
    )


def _held_buffered(
    url: str, key: str, host: HeldHost, name: str, sim: Sim
) -> tuple[bytes, str, int]:
    """A buffered request whose reference ``name`` the host holds: the first byte must arrive
    while it is held (a keep-alive newline); then the host lets go. Returns the whole body,
    the generation id and how many upstream calls were made while the host held the image."""
    with _open(url, key, _body(host.url(name))) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/json")
        chunks = resp.iter_bytes()
        first = next(chunks)
        assert first.strip() == b""  # a keep-alive newline, sent while the host holds the image
        assert host.asked.is_set()
        upstream = len(sim.requests)
        host.release()
        return first + b"".join(chunks), resp.headers["x-generation-id"], upstream


def test_a_buffered_answer_is_committed_while_a_reference_is_fetched(
    patient_gateway: str, host: HeldHost, sim_a: Sim
) -> None:
    key = _key(patient_gateway)
    rest, gid, upstream_while_held = _held_buffered(patient_gateway, key, host, "ref.png", sim_a)
    assert upstream_while_held == 0  # nothing went upstream while the host held the image
    answer = orjson.loads(rest)
    assert answer["data"][0]["b64_json"]
    assert len(sim_a.requests) == 1  # the edit, with the reference the host sent
    record = generation(patient_gateway, gid, key)
    assert record["status"] == "succeeded"
    assert Decimal(record["cost_usd"]) == Decimal(str(answer["usage"]["cost"]))


def test_a_reference_failing_after_the_commit_is_the_error_object_in_the_body(
    patient_gateway: str, host: HeldHost, sim_a: Sim
) -> None:
    key = _key(patient_gateway)
    rest, gid, _ = _held_buffered(patient_gateway, key, host, "missing.png", sim_a)
    error = orjson.loads(rest)["error"]
    assert error["code"] == 400
    assert "input_references" in error["message"] and "404" in error["message"]
    assert not sim_a.requests
    record = generation(patient_gateway, gid, key)
    assert record["status"] == "failed"
    assert Decimal(record["cost_usd"]) == 0


def test_a_stream_is_kept_alive_while_a_reference_is_fetched(
    patient_gateway: str, host: HeldHost, sim_a: Sim
) -> None:
    key = _key(patient_gateway)
    with _open(patient_gateway, key, _body(host.url("ref.png"), stream=True)) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        assert next(lines).startswith(":")  # an SSE comment while the host holds the image
        assert not sim_a.requests
        host.release()
        events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    kinds = [orjson.loads(e)["type"] for e in events[:-1]]
    assert kinds[-1] == "image_generation.completed", kinds
    assert "image_generation.partial_image" in kinds  # the endpoint streamed as usual


def test_a_stream_whose_reference_fails_after_the_commit_ends_with_an_error_event(
    patient_gateway: str, host: HeldHost, sim_a: Sim
) -> None:
    key = _key(patient_gateway)
    with _open(patient_gateway, key, _body(host.url("missing.png"), stream=True)) as resp:
        lines = resp.iter_lines()
        assert next(lines).startswith(":")
        host.release()
        events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    error = orjson.loads(events[-2])["error"]
    assert error["code"] == "invalid_request", error  # a string: the SDKs drop integer codes
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "input_references[0]"
    assert "404" in error["message"]
    assert not sim_a.requests


def test_a_client_leaving_while_a_reference_is_fetched_costs_nothing_and_frees_its_hold(
    patient_gateway: str, host: HeldHost, sim_a: Sim
) -> None:
    """The generation never starts; the credit held for it and the key's concurrency slot are
    given back once the fetch ends, and the request is recorded as cancelled at no cost."""
    key = _key(patient_gateway, limit=1, concurrency_limit=1)
    with _open(patient_gateway, key, _body(host.url("ref.png"))) as resp:
        gid = resp.headers["x-generation-id"]
        assert next(resp.iter_bytes()).strip() == b""
    host.release()  # the client is gone; the fetch ends after it
    record = generation(patient_gateway, gid, key, wait_s=15)
    assert record["status"] == "cancelled", record
    assert Decimal(record["cost_usd"]) == 0
    assert not sim_a.requests
    # the slot is free again: the key, limited to one generation at a time, can generate
    ok = httpx.post(
        f"{patient_gateway}/api/v1/images",
        json={"model": MODEL, "prompt": "after", "quality": "low"},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert ok.status_code == 200, ok.text
    me = httpx.get(f"{patient_gateway}/api/v1/key", headers={"authorization": f"Bearer {key}"})
    assert Decimal(str(me.json()["data"]["usage"])) == Decimal(str(ok.json()["usage"]["cost"]))
