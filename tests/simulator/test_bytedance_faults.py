"""Seedream simulator: the shared fault directives and knobs in ModelArk's own shapes (§5), and
per-image failures inside ``data[]`` (§3)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from simulator.bytedance_errors import CODES
from tests.simulator.seedream_sim import LiveSeedream, error_of, live

MULTI: dict[str, Any] = {
    "size": "1280x720",
    "sequential_image_generation": "auto",
    "sequential_image_generation_options": {"max_images": 3},
    "response_format": "b64_json",
}


@pytest.fixture(scope="module")
def live_seedream() -> Iterator[LiveSeedream]:
    yield from live()


@pytest.fixture
def sim(live_seedream: LiveSeedream) -> LiveSeedream:
    return live_seedream.reset()


@pytest.mark.parametrize(
    ("directive", "status", "code", "kind"),
    [
        ("[sim:429]", 429, "RateLimitExceeded.EndpointRPMExceeded", "TooManyRequests"),
        ("[sim:500]", 500, "InternalServiceError", "InternalServiceError"),
        ("[sim:503]", 503, "ServiceUnavailable", "ServiceUnavailable"),
        ("[sim:401]", 401, "AuthenticationError", "Unauthorized"),
        ("[sim:403]", 403, "AccessDenied", "Forbidden"),
        ("[sim:404]", 404, "InvalidEndpoint.NotFound", "NotFound"),
        ("[sim:quota]", 403, "AccountOverdueError", "Forbidden"),
        ("[sim:moderate]", 400, "InputTextSensitiveContentDetected", "BadRequest"),
        ("[sim:moderate=input]", 400, "InputTextSensitiveContentDetected", "BadRequest"),
    ],
)
def test_directives_answer_in_modelark_shapes(
    sim: LiveSeedream, directive: str, status: int, code: str, kind: str
) -> None:
    resp = sim.post(prompt=f"a storm {directive}", size="1280x720")
    assert resp.status_code == status, resp.text
    error = error_of(resp)
    assert (error["code"], error["type"]) == (code, kind)
    assert "retry-after" not in resp.headers  # ModelArk documents none (§5)
    assert sim.state.log.entries[-1]["status"] == status


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_documented_code_can_be_asked_for(sim: LiveSeedream, code: str) -> None:
    resp = sim.post(prompt=f"x [sim:error={code.lower()}]")
    assert resp.status_code == CODES[code].status
    error = error_of(resp)
    assert (error["code"], error["type"]) == (code, CODES[code].type)


def test_unknown_directives_and_codes_are_400(sim: LiveSeedream) -> None:
    for prompt in ("x [sim:explode]", "x [sim:error=nosuchcode]", "x [sim:fail_images=a]"):
        resp = sim.post(prompt=prompt, size="1280x720")
        assert resp.status_code == 400 and error_of(resp)["param"] == "prompt", prompt


def test_fail_next_knob_and_moderate_words(sim: LiveSeedream) -> None:
    sim.state.knobs.fail_next = [429, 500]
    assert sim.post(size="1280x720").status_code == 429
    assert sim.post(size="1280x720").status_code == 500
    assert sim.post(size="1280x720").status_code == 200
    resp = sim.post(prompt="something FORBIDDEN", size="1280x720")
    assert error_of(resp)["code"] == "InputTextSensitiveContentDetected"
    sim.state.knobs.moderate_words = ("banana",)
    assert sim.post(prompt="forbidden is fine now", size="1280x720").status_code == 200


def test_validation_comes_after_faults_and_before_moderation(sim: LiveSeedream) -> None:
    assert sim.post(prompt="[sim:429]", size="1x1").status_code == 429
    resp = sim.post(prompt="[sim:moderate]", size="1x1")
    assert error_of(resp)["param"] == "size"


def test_sleep_delays_the_answer(sim: LiveSeedream) -> None:
    start = time.monotonic()
    assert sim.post(prompt="slow [sim:sleep=0.4]", size="1280x720").status_code == 200
    assert time.monotonic() - start >= 0.4


def test_reset_drops_the_connection(sim: LiveSeedream) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        sim.post(prompt="x [sim:reset]", size="1280x720")


def test_malformed_is_a_200_that_is_not_json(sim: LiveSeedream) -> None:
    resp = sim.post(prompt="x [sim:malformed]", size="1280x720")
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


def test_truncate_cuts_a_buffered_body(sim: LiveSeedream) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        sim.post(prompt="x [sim:truncate]", size="1280x720", response_format="b64_json")


# -- per-image failures ----------------------------------------------------------------------


def test_a_moderated_image_is_an_error_item_and_is_not_billed(sim: LiveSeedream) -> None:
    body = sim.ok(prompt="three [sim:fail_images=1]", **MULTI)
    first, failed, third = body["data"]
    assert "b64_json" in first and "b64_json" in third
    assert failed == {
        "error": {
            "code": "OutputImageSensitiveContentDetected",
            "message": CODES["OutputImageSensitiveContentDetected"].message,
        }
    }
    assert body["usage"] == {
        "generated_images": 2,
        "output_tokens": 2 * 1280 * 720 // 256,
        "total_tokens": 2 * 1280 * 720 // 256,
    }


def test_an_internal_item_error_stops_the_series(sim: LiveSeedream) -> None:
    body = sim.ok(prompt="three [sim:item_error=1]", **MULTI)
    assert len(body["data"]) == 2 and "b64_json" in body["data"][0]
    assert body["data"][1]["error"]["code"] == "InternalServiceError"
    assert body["usage"]["generated_images"] == 1


def test_no_image_at_all_is_a_top_level_error(sim: LiveSeedream) -> None:
    resp = sim.post(prompt="all bad [sim:moderate=output]", **MULTI)
    assert resp.status_code == 400
    assert error_of(resp)["code"] == "OutputImageSensitiveContentDetected"
    resp = sim.post(prompt="first dies [sim:item_error=0]", **MULTI)
    assert resp.status_code == 500 and error_of(resp)["code"] == "InternalServiceError"
    sim.state.knobs.moderation_stage = "output"
    resp = sim.post(prompt="forbidden", size="1280x720")
    assert error_of(resp)["code"] == "OutputImageSensitiveContentDetected"
