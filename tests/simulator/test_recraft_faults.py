"""Recraft simulator: shared fault directives and knobs, in Recraft's own wire shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.simulator.recraft_helpers import LiveRecraft, json_error, text_error


@pytest.fixture(scope="module")
def live() -> Iterator[LiveRecraft]:
    with LiveRecraft() as sim:
        yield sim


@pytest.fixture
def sim(live: LiveRecraft) -> LiveRecraft:
    return live.reset()


def _gen(sim: LiveRecraft, prompt: str, **extra: object) -> httpx.Response:
    return sim.generate(prompt=prompt, model="recraftv4", **extra)


def test_429_is_json_with_retry_after(sim: LiveRecraft) -> None:
    resp = _gen(sim, "x [sim:429]")
    assert json_error(resp, 429)["code"] == "too_many_requests"
    assert resp.headers["retry-after"] == "1"
    assert "retry-after-ms" not in resp.headers


def test_500_is_json_and_503_is_text_with_retry_after(sim: LiveRecraft) -> None:
    assert json_error(_gen(sim, "x [sim:500]"), 500)["code"] == "internal_error"
    resp = _gen(sim, "x [sim:503]")
    text_error(resp, 503, "Service Unavailable")
    assert int(resp.headers["retry-after"]) >= 1
    text_error(_gen(sim, "x [sim:502]"), 502, "Bad Gateway")


def test_injected_401_and_404_are_the_plain_text_ones(sim: LiveRecraft) -> None:
    text_error(_gen(sim, "x [sim:401]"), 401, "request unauthorized")
    text_error(_gen(sim, "x [sim:404]"), 404, "404 page not found")


def test_quota_is_402_not_enough_credits(sim: LiveRecraft) -> None:
    body = json_error(_gen(sim, "x [sim:quota]"), 402)
    assert body["code"] == "not_enough_credits"
    assert json_error(_gen(sim, "x [sim:402]"), 402)["code"] == "not_enough_credits"


def test_fail_next_knob(sim: LiveRecraft) -> None:
    sim.state.knobs.fail_next = [429, 500]
    assert _gen(sim, "x").status_code == 429
    assert _gen(sim, "x").status_code == 500
    assert _gen(sim, "x").status_code == 200


def test_moderation_directive_and_words(sim: LiveRecraft) -> None:
    assert json_error(_gen(sim, "x [sim:moderate]"), 400)["code"] == "content_moderation"
    assert json_error(_gen(sim, "something FORBIDDEN"), 400)["code"] == "content_moderation"
    sim.state.knobs.moderate_words = ("banana",)
    assert _gen(sim, "forbidden is fine now").status_code == 200
    body = json_error(_gen(sim, "a Banana"), 400)
    assert "inappropriate" in body["message"]


def test_output_stage_moderation_waits_for_the_latency(sim: LiveRecraft) -> None:
    sim.state.knobs.latency_s = 0.3
    started = time.monotonic()
    body = json_error(_gen(sim, "x [sim:moderate=output]"), 400)
    assert time.monotonic() - started >= 0.3
    assert body["code"] == "content_moderation" and "generated image" in body["message"]


def test_sleep_directive(sim: LiveRecraft) -> None:
    started = time.monotonic()
    assert _gen(sim, "x [sim:sleep=0.4]").status_code == 200
    assert time.monotonic() - started >= 0.4


def test_reset_drops_the_connection(sim: LiveRecraft) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _gen(sim, "x [sim:reset]")


def test_truncate_cuts_the_json_body(sim: LiveRecraft) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _gen(sim, "x [sim:truncate]")


def test_malformed_is_a_200_that_is_not_json(sim: LiveRecraft) -> None:
    resp = _gen(sim, "x [sim:malformed]")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        resp.json()


def test_unknown_directive_is_a_400(sim: LiveRecraft) -> None:
    assert json_error(_gen(sim, "x [sim:explode]"), 400)["code"] == "invalid_parameter"


def test_expired_urls(sim: LiveRecraft) -> None:
    urls = [d["url"] for d in _gen(sim, "x [sim:expired]", n=2).json()["data"]]
    assert [httpx.get(u).status_code for u in urls] == [404, 404]
    text_error(httpx.get(urls[0]), 404, "404 page not found")
    urls = [d["url"] for d in _gen(sim, "x [sim:expired=1]", n=2).json()["data"]]
    assert [httpx.get(u).status_code for u in urls] == [404, 200]


def test_foreign_urls(sim: LiveRecraft) -> None:
    url = _gen(sim, "x [sim:foreign]").json()["data"][0]["url"]
    assert url.startswith("https://cdn.example.net/img/")


def test_credits_directive(sim: LiveRecraft) -> None:
    assert _gen(sim, "x [sim:credits=123]", n=2).json()["credits"] == 123
    assert json_error(_gen(sim, "x [sim:credits=lots]"), 400)


def test_faults_come_before_validation(sim: LiveRecraft) -> None:
    """An injected fault wins over a request that would also fail validation."""
    assert _gen(sim, "x [sim:429]", size="7:3").status_code == 429
