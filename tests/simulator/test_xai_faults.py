"""xAI simulator: faults, silent moderation, directives, knobs and wire switches (xai.md §2.3, §3)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.simulator.xai_helpers import XaiLive, decode, live


@pytest.fixture(scope="module")
def live_sim() -> Iterator[XaiLive]:
    with live() as sim:
        yield sim


@pytest.fixture
def sim(live_sim: XaiLive) -> XaiLive:
    live_sim.state.reset()
    return live_sim


def generate(sim: XaiLive, prompt: str, **body: object) -> httpx.Response:
    return sim.generate(prompt=prompt, response_format="b64_json", **body)


# ------------------------------------------------------------------------------------------
# Shared directives, in xAI's own shapes
# ------------------------------------------------------------------------------------------


def test_429_has_code_error_and_retry_after(sim: XaiLive) -> None:
    sim.state.knobs.retry_after_s = 1.5
    resp = generate(sim, "busy [sim:429]")
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "2"
    body = resp.json()
    assert body["code"] == "Some resource has been exhausted"
    assert isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize(
    ("directive", "status", "code"),
    [("[sim:500]", 500, "internal"), ("[sim:503]", 503, "unavailable"), ("[sim:404]", 404, None)],
)
def test_server_errors(sim: XaiLive, directive: str, status: int, code: str | None) -> None:
    resp = generate(sim, f"x {directive}")
    assert resp.status_code == status
    body = resp.json()
    assert set(body) == {"code", "error"} and isinstance(body["error"], str)
    if code:
        assert body["code"] == code
    if status == 503:
        assert int(resp.headers["retry-after"]) >= 1


def test_quota_is_a_403_about_credits(sim: XaiLive) -> None:
    resp = generate(sim, "x [sim:quota]")
    assert resp.status_code == 403
    assert resp.json()["code"] == (
        "The caller does not have permission to execute the specified operation"
    )
    assert "credits" in resp.json()["error"] and "spending limit" in resp.json()["error"]


def test_403_permission(sim: XaiLive) -> None:
    resp = generate(sim, "x [sim:403]")
    assert resp.status_code == 403 and "permission" in resp.json()["error"]
    assert "credits" not in resp.json()["error"]


def test_fail_next_knob(sim: XaiLive) -> None:
    sim.state.knobs.fail_next = [503, 429]
    assert generate(sim, "a").status_code == 503
    assert generate(sim, "a").status_code == 429
    assert generate(sim, "a").status_code == 200


def test_sleep(sim: XaiLive) -> None:
    start = time.monotonic()
    assert generate(sim, "slow [sim:sleep=0.4]").status_code == 200
    assert time.monotonic() - start >= 0.4


def test_latency_knob(sim: XaiLive) -> None:
    sim.state.knobs.latency_s = 0.3
    start = time.monotonic()
    generate(sim, "a")
    assert time.monotonic() - start >= 0.3


def test_reset_drops_the_connection(sim: XaiLive) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        generate(sim, "x [sim:reset]")


def test_truncate_cuts_the_json_body(sim: XaiLive) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        generate(sim, "x [sim:truncate]")


def test_malformed_is_a_200_that_is_not_json(sim: XaiLive) -> None:
    resp = generate(sim, "x [sim:malformed]")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        resp.json()


def test_unknown_directive_is_400(sim: XaiLive) -> None:
    resp = generate(sim, "x [sim:nonsense]")
    assert resp.status_code == 400 and "unknown simulator directive" in resp.json()["error"]


# ------------------------------------------------------------------------------------------
# Silent moderation: HTTP 200
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["x [sim:moderate]", "x [sim:block]", "something forbidden"])
def test_input_block_is_a_200_with_empty_data(sim: XaiLive, prompt: str) -> None:
    resp = generate(sim, prompt, n=2)
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] == []
    assert isinstance(body["block_reason"], str) and body["block_reason"]
    assert body["usage"] == {"cost_in_usd_ticks": 0}


def test_input_block_forms(sim: XaiLive) -> None:
    """The block's status and reason field are open questions (§2.3, §7): switches for each."""
    sim.state.wire.input_block = "no_data"
    body = generate(sim, "x [sim:block]").json()
    assert "data" not in body and "usage" not in body
    assert body["block_reason"] == "The prompt was blocked by input moderation."
    sim.state.wire.block_reason_field = "reason"
    sim.state.wire.send_created = False
    assert generate(sim, "x [sim:block]").json() == {
        "reason": "The prompt was blocked by input moderation."
    }
    sim.state.wire.input_block, sim.state.wire.block_reason_field = "empty_data", ""
    body = generate(sim, "x [sim:block]").json()
    assert body == {"data": [], "usage": {"cost_in_usd_ticks": 0}}
    sim.state.wire.input_block = "error_400"
    resp = generate(sim, "something forbidden")
    assert resp.status_code == 400
    assert resp.json() == {
        "code": "invalid-argument",
        "error": "The prompt was blocked by input moderation.",
    }


def test_output_moderation_withholds_every_image(sim: XaiLive) -> None:
    resp = generate(sim, "x [sim:moderate=output]", n=2)
    assert resp.status_code == 200
    body = resp.json()
    assert (
        body["data"]
        == [{"revised_prompt": "", "respect_moderation": False, "mime_type": "image/jpeg"}] * 2
    )
    assert body["usage"] == {"cost_in_usd_ticks": 2 * 200_000_000}  # still billed (Choice)


def test_moderate_words_knob_with_output_stage(sim: XaiLive) -> None:
    sim.state.knobs.moderate_words = ("banana",)
    sim.state.knobs.moderation_stage = "output"
    assert generate(sim, "forbidden is fine now").json()["data"][0]["respect_moderation"]
    item = generate(sim, "a Banana").json()["data"][0]
    assert item["respect_moderation"] is False and "b64_json" not in item


@pytest.mark.parametrize(
    ("directive", "withheld"), [("[sim:withhold]", 1), ("[sim:withhold=2]", 2)]
)
def test_withhold_some_of_n(sim: XaiLive, directive: str, withheld: int) -> None:
    data = generate(sim, f"x {directive}", n=3).json()["data"]
    assert [d["respect_moderation"] for d in data] == [True] * (3 - withheld) + [False] * withheld
    assert all("b64_json" in d for d in data[: 3 - withheld])
    assert not any("b64_json" in d or "url" in d for d in data[3 - withheld :])


# ------------------------------------------------------------------------------------------
# xAI-specific directives and wire switches
# ------------------------------------------------------------------------------------------


def test_b64_directive_overrides_the_switch(sim: XaiLive) -> None:
    plain = generate(sim, "x [sim:b64=plain]").json()["data"][0]["b64_json"]
    assert plain.startswith("/9j/") and decode(plain).format == "JPEG"
    sim.state.wire.b64_data_uri = False
    prefixed = generate(sim, "x [sim:b64=datauri]").json()["data"][0]["b64_json"]
    assert prefixed.startswith("data:image/jpeg;base64,")
    assert generate(sim, "x [sim:b64=gif]").status_code == 400


def test_noticks_leaves_usage_out(sim: XaiLive) -> None:
    body = generate(sim, "x [sim:noticks]").json()
    assert "usage" not in body and len(body["data"]) == 1


@pytest.mark.parametrize(
    ("style", "auth_code", "other_code"),
    [
        ("documented", "Client specified an invalid argument", "invalid-argument"),
        ("prose", "Client specified an invalid argument", "Client specified an invalid argument"),
        ("hyphen", "invalid-argument", "invalid-argument"),
        ("snake", "invalid_argument", "invalid_argument"),
    ],
)
def test_code_styles(sim: XaiLive, style: str, auth_code: str, other_code: str) -> None:
    resp = sim.http.post(f"{sim.url}/_sim/xai", json={"code_style": style})
    assert resp.status_code == 200 and resp.json()["code_style"] == style
    bad_key = sim.post("/v1/images/generations", {"prompt": "x"}, headers={})
    assert bad_key.json()["code"] == auth_code
    assert generate(sim, "x", size="1x1").json()["code"] == other_code


def test_wire_switches_over_http(sim: XaiLive) -> None:
    assert sim.http.get("/_sim/xai").json() == {
        "b64_data_uri": True,
        "send_mime_type": True,
        "image_format": "jpeg",
        "code_style": "documented",
        "send_created": True,
        "url_ttl_s": 600.0,
        "input_block": "empty_data",
        "block_reason_field": "block_reason",
    }
    assert sim.http.post("/_sim/xai", json={"image_format": "gif"}).status_code == 400
    assert sim.http.post("/_sim/xai", json={"input_block": "451"}).status_code == 400
    assert sim.http.post("/_sim/xai", json={"block_reason_field": 3}).status_code == 400
    assert sim.http.post("/_sim/xai", json={"block_reason_field": "data"}).status_code == 400
    assert sim.http.post("/_sim/xai", json={"nope": True}).status_code == 400
    assert sim.http.post("/_sim/xai", json={"b64_data_uri": "yes"}).status_code == 400
    changed = sim.http.post("/_sim/xai", json={"image_format": "webp", "b64_data_uri": False})
    assert changed.json()["image_format"] == "webp"
    item = generate(sim, "x").json()["data"][0]
    assert item["mime_type"] == "image/webp" and decode(item["b64_json"]).format == "WEBP"
    assert sim.http.post("/_sim/reset").status_code == 200
    assert sim.http.get("/_sim/xai").json()["image_format"] == "jpeg"


def test_admin_request_log(sim: XaiLive) -> None:
    generate(sim, "logged")
    log = sim.http.get("/_sim/requests").json()
    assert log["count"] == 1
    assert log["requests"][0]["body"]["prompt"] == "logged"
    assert log["requests"][0]["status"] == 200
