"""BFL simulator: the shared fault directives and knobs, in BFL's own wire format."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.simulator.bfl_support import LiveBfl


@pytest.fixture(scope="module")
def live() -> Iterator[LiveBfl]:
    sim = LiveBfl()
    yield sim
    sim.close()


@pytest.fixture
def bfl(live: LiveBfl) -> LiveBfl:
    live.state.reset()
    return live


def test_429_directive_has_retry_after_and_the_rate_limit_body(bfl: LiveBfl) -> None:
    resp = bfl.submit(prompt="a storm [sim:429]")
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert resp.headers["x-ratelimit-remaining"] == "0"
    assert resp.json() == {
        "error": "rate_limit_exceeded",
        "message": "Too many concurrent requests",
        "retry_after": 1,
    }
    assert bfl.state.tasks.active("bfl-sim-test-key") == 0


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        (500, "Internal Server Error"),
        (503, "Service temporarily unavailable"),
        (403, "Forbidden: this API key has no permission for this endpoint"),
        (401, "Not authenticated"),
    ],
)
def test_status_directives_answer_fastapi_detail(bfl: LiveBfl, status: int, detail: str) -> None:
    resp = bfl.submit(prompt=f"a storm [sim:{status}]")
    assert resp.status_code == status and resp.json() == {"detail": detail}
    if status == 503:
        assert int(resp.headers["retry-after"]) >= 1


def test_422_directive_is_a_validation_list(bfl: LiveBfl) -> None:
    resp = bfl.submit(prompt="a storm [sim:422]")
    assert resp.status_code == 422 and isinstance(resp.json()["detail"], list)


def test_fail_next_knob_answers_the_next_submits(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"fail_next": [500, 429]})
    assert [bfl.submit().status_code for _ in range(3)] == [500, 429, 200]


def test_reset_drops_the_connection_after_the_headers(bfl: LiveBfl) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        bfl.submit(prompt="a storm [sim:reset]")


def test_malformed_answers_200_with_broken_json(bfl: LiveBfl) -> None:
    resp = bfl.submit(prompt="a storm [sim:malformed]")
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


def test_truncate_cuts_the_submit_answer(bfl: LiveBfl) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        bfl.submit(prompt="a storm [sim:truncate]")


def test_unknown_directive_is_a_422_on_the_prompt(bfl: LiveBfl) -> None:
    resp = bfl.submit(prompt="a storm [sim:tornado]")
    assert resp.status_code == 422
    assert resp.json()["detail"][0]["loc"] == ["body", "prompt"]
    bad = bfl.submit(prompt="a storm [sim:pollfail=abc]")
    assert bad.status_code == 422


def test_knobs_over_http(bfl: LiveBfl) -> None:
    resp = bfl.http.post(f"{bfl.url}/_sim/knobs", json={"generating_s": 0.3, "credits": 10})
    assert resp.status_code == 200
    assert resp.json()["generating_s"] == 0.3 and resp.json()["credits"] == 10
    assert bfl.state.bfl.generating_s == 0.3
    bad = bfl.http.post(f"{bfl.url}/_sim/knobs", json={"generating_s": -1, "latency_s": 2})
    assert bad.status_code == 400 and bfl.state.bfl.latency_s != 2
    assert bfl.http.post(f"{bfl.url}/_sim/knobs", json={"max_active_tasks": "x"}).status_code == 400
    assert bfl.http.post(f"{bfl.url}/_sim/reset").status_code == 200
    assert bfl.state.bfl.generating_s == 0.05 and bfl.state.bfl.credits is None


def test_reset_forgets_tasks(bfl: LiveBfl) -> None:
    answer = bfl.task()
    bfl.state.reset()
    assert bfl.poll(answer["polling_url"]).json()["status"] == "Task not found"


def test_unknown_paths_and_methods_are_fastapi_errors(bfl: LiveBfl) -> None:
    missing = bfl.http.get(f"{bfl.url}/v2/nothing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    wrong = bfl.http.get(f"{bfl.url}/v1/flux-2-pro")
    assert wrong.status_code == 405 and wrong.json() == {"detail": "Method Not Allowed"}


def test_the_combined_app_mounts_bfl_under_its_base_path() -> None:
    from simulator import SIMULATORS, create_combined_app

    assert "bfl" in SIMULATORS
    app = create_combined_app(api_keys={"bfl": "k"})
    transport = httpx.ASGITransport(app=app)

    async def submit() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
            return await client.post(
                "/bfl/v1/flux-2-pro", json={"prompt": "x"}, headers={"x-key": "k"}
            )

    resp = asyncio.run(submit())
    assert resp.status_code == 200
    # no loopback alias for a named host; the mount path is kept
    assert resp.json()["polling_url"].startswith("http://sim.test/bfl/cluster2/v1/get_result?id=")
