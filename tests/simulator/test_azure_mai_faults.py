"""MAI simulator: rate limits, content filter, latency, injected faults, admin (§6, §8)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.simulator.mai_support import (
    LiveMai,
    error_of,
    live_fixture,
    png_part,
    reset_fixture,
)

live_mai = live_fixture()
mai = reset_fixture()


def _body(prompt: str = "a lighthouse", model: str = "MAI-Image-2.5") -> dict[str, object]:
    return {"model": model, "prompt": prompt, "width": 768, "height": 768}


# -- rate limit -----------------------------------------------------------------------------


def test_requests_over_the_deployment_rpm_are_429s(mai: LiveMai) -> None:
    assert mai.state.config.rpm == 12
    mai.state.config.rpm = 2
    assert [mai.generate(_body()).status_code for _ in range(2)] == [200, 200]
    resp = mai.generate(_body())
    assert resp.status_code == 429
    seconds = int(resp.headers["retry-after"])
    assert 1 <= seconds <= 60
    assert error_of(resp) == {
        "code": "429",
        "message": f"Rate limit is exceeded. Try again in {seconds} seconds.",
    }
    # another deployment has its own window
    assert mai.generate(_body(model="MAI-Image-2.5-Flash")).status_code == 200
    mai.state.reset()
    assert mai.generate(_body()).status_code == 200


@pytest.mark.parametrize("prompt", ["a storm [sim:429]", "a storm [sim:quota]"])
def test_injected_429s_carry_retry_after(mai: LiveMai, prompt: str) -> None:
    resp = mai.generate(_body(prompt))
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert error_of(resp)["message"].startswith("Rate limit is exceeded.")


# -- content filter -------------------------------------------------------------------------


def _filter_result(resp: httpx.Response) -> dict[str, dict[str, object]]:
    assert resp.status_code == 400
    error = error_of(resp)
    assert error["code"] == "content_filter"
    assert "content management policy" in error["message"]
    assert error["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    result: dict[str, dict[str, object]] = error["innererror"]["content_filter_result"]
    return result


@pytest.mark.parametrize("prompt", ["a storm [sim:moderate]", "something Forbidden here"])
def test_input_refusals_are_azure_content_filter_400s(mai: LiveMai, prompt: str) -> None:
    result = _filter_result(mai.generate(_body(prompt)))
    assert result["violence"] == {"filtered": True, "severity": "medium"}
    assert result["hate"] == {"filtered": False, "severity": "safe"}
    assert result["jailbreak"] == {"filtered": False, "detected": False}


def test_the_filtered_category_can_be_chosen(mai: LiveMai) -> None:
    result = _filter_result(mai.generate(_body("x [sim:filter=sexual]")))
    assert [k for k, v in result.items() if v["filtered"]] == ["sexual"]
    result = _filter_result(mai.generate(_body("x [sim:filter=jailbreak]")))
    assert result["jailbreak"] == {"filtered": True, "detected": True}
    assert mai.generate(_body("x [sim:filter=spam]")).status_code == 400


def test_edits_are_filtered_too(mai: LiveMai) -> None:
    resp = mai.edit({"model": "MAI-Image-2.5", "prompt": "x [sim:moderate]"}, [png_part()])
    assert _filter_result(resp)["violence"]["filtered"] is True


def test_moderate_words_knob_and_output_stage(mai: LiveMai) -> None:
    mai.state.knobs.moderate_words = ("banana",)
    assert mai.generate(_body("forbidden is fine now")).status_code == 200
    mai.state.knobs.moderation_stage = "output"
    resp = mai.generate(_body("a banana"))
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] == [{}] and isinstance(body["created"], int)


def test_output_block_directive_is_a_200_without_an_image(mai: LiveMai) -> None:
    resp = mai.generate(_body("x [sim:moderate=output]"))
    assert resp.status_code == 200
    assert resp.json()["data"] == [{}]


def test_abuse_block_is_a_403(mai: LiveMai) -> None:
    resp = mai.generate(_body("x [sim:abuse]"))
    assert resp.status_code == 403
    error = error_of(resp)
    assert error["code"] == "Forbidden"
    assert "temporarily blocked" in error["message"]


# -- latency --------------------------------------------------------------------------------


def test_latency_knob_and_sleep_directive(mai: LiveMai) -> None:
    mai.state.knobs.latency_s = 0.3
    started = time.monotonic()
    assert mai.generate(_body()).status_code == 200
    assert time.monotonic() - started >= 0.3
    mai.state.knobs.latency_s = 0.0
    started = time.monotonic()
    assert mai.generate(_body("x [sim:sleep=0.4]")).status_code == 200
    assert time.monotonic() - started >= 0.4


# -- injected faults ------------------------------------------------------------------------


def test_502_is_a_plain_text_gateway_error(mai: LiveMai) -> None:
    resp = mai.generate(_body("x [sim:502]"))
    assert resp.status_code == 502
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text == "upstream gateway error"


def test_500_and_503_are_azure_envelopes(mai: LiveMai) -> None:
    resp = mai.generate(_body("x [sim:500]"))
    assert resp.status_code == 500
    assert error_of(resp)["code"] == "InternalServerError"
    resp = mai.generate(_body("x [sim:503]"))
    assert resp.status_code == 503
    assert error_of(resp)["code"] == "ServiceUnavailable"
    assert int(resp.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "unsupported_request_value"),
        (401, "401"),
        (403, "Forbidden"),
        (404, "DeploymentNotFound"),
    ],
)
def test_other_injected_statuses(mai: LiveMai, status: int, code: str) -> None:
    resp = mai.generate(_body(f"x [sim:{status}]"))
    assert resp.status_code == status
    assert error_of(resp)["code"] == code


def test_fail_next_knob(mai: LiveMai) -> None:
    mai.state.knobs.fail_next = [503, 429]
    assert mai.generate(_body()).status_code == 503
    assert mai.generate(_body()).status_code == 429
    assert mai.generate(_body()).status_code == 200


def test_reset_drops_the_connection(mai: LiveMai) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        mai.generate(_body("x [sim:reset]"))


def test_truncate_cuts_the_body(mai: LiveMai) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        mai.generate(_body("x [sim:truncate]"))


def test_malformed_is_a_200_that_is_not_json(mai: LiveMai) -> None:
    resp = mai.generate(_body("x [sim:malformed]"))
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()


def test_unknown_directives_are_400s(mai: LiveMai) -> None:
    resp = mai.generate(_body("x [sim:explode]"))
    assert resp.status_code == 400
    assert "unknown simulator directive" in error_of(resp)["message"]


# -- admin ----------------------------------------------------------------------------------


def test_settings_over_http(mai: LiveMai) -> None:
    resp = httpx.get(f"{mai.url}/_sim/mai")
    assert resp.json()["rpm"] == 12
    resp = httpx.post(f"{mai.url}/_sim/mai", json={"deployments": {"prod": "MAI-Image-2.6"}})
    assert resp.status_code == 200 and resp.json()["deployments"] == {"prod": "MAI-Image-2.6"}
    assert mai.generate({"model": "prod", "prompt": "x"}).status_code == 200
    bad = httpx.post(f"{mai.url}/_sim/mai", json={"deployments": {"prod": "MAI-Image-9"}})
    assert bad.status_code == 400
    assert httpx.post(f"{mai.url}/_sim/mai", json={"nope": 1}).status_code == 400
    assert httpx.post(f"{mai.url}/_sim/reset").status_code == 200
    assert "prod" not in httpx.get(f"{mai.url}/_sim/mai").json()["deployments"]


def test_request_log_over_http(mai: LiveMai) -> None:
    mai.edit({"model": "MAI-Image-2.5", "prompt": "blue"}, [png_part()])
    listing = httpx.get(f"{mai.url}/_sim/requests").json()
    (entry,) = listing["requests"]
    assert entry["status"] == 200
    assert entry["body"]["prompt"] == "blue"
    assert set(entry["body"]["image"][0]) == {"filename", "content_type", "bytes"}
