"""Runware simulator: faults, async delivery and latency (reference sourceful.md §2, §5, §9)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import httpx
import orjson
import pytest

from simulator import runware as runware_module
from tests.simulator.runware_support import (
    FAST_25,
    PRO_25,
    LiveRunware,
    live_runware,
    only_error,
    rw,
    task,
)

__all__ = ["live_runware", "rw"]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Latencies the simulator asks for, recorded (and not slept)."""
    recorded: list[float] = []

    async def fake(delay: float) -> None:
        recorded.append(delay)
        await asyncio.sleep(0)

    monkeypatch.setattr(runware_module, "_wait", fake)
    return recorded


# -- whole-request faults ------------------------------------------------------------------------


def test_429_is_rate_limit_exceeded_without_retry_after(rw: LiveRunware) -> None:
    t = task(prompt="a storm [sim:429]")
    resp = rw.run(t)
    assert resp.status_code == 429
    error = only_error(resp)
    assert (error["code"], error["taskUUID"]) == ("rateLimitExceeded", t["taskUUID"])
    assert "retry-after" not in resp.headers


def test_429_in_the_pre_stream_envelope(rw: LiveRunware) -> None:
    t = task(prompt="a storm [sim:429] [sim:prestream]")
    resp = rw.run(t)
    assert resp.status_code == 429
    assert resp.json() == {
        "error": {"code": "rateLimitExceeded", "message": resp.json()["error"]["message"]},
        "taskUUID": t["taskUUID"],
        "taskType": "imageInference",
    }


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_has_a_plain_text_body(rw: LiveRunware, status: int) -> None:
    resp = rw.run(task(prompt=f"a storm [sim:{status}]"))
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("text/plain")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "invalidParameter"),
        (401, "invalidApiKey"),
        (402, "insufficientCredits"),
        (403, "forbidden"),
    ],
)
def test_injected_statuses_use_runware_codes(rw: LiveRunware, status: int, code: str) -> None:
    rw.state.knobs.fail_next = [status]
    resp = rw.run(task())
    assert resp.status_code == status and only_error(resp)["code"] == code
    assert rw.run(task()).status_code == 200  # fail_next is used up


def test_quota_directive_is_insufficient_credits(rw: LiveRunware) -> None:
    resp = rw.run(task(prompt="a storm [sim:quota]"))
    assert resp.status_code == 402 and only_error(resp)["code"] == "insufficientCredits"


def test_402_once_the_balance_runs_out(rw: LiveRunware) -> None:
    rw.state.config.balance_usd = Decimal("0.03")
    assert rw.run(task()).status_code == 200  # 0.022 spent
    assert rw.state.config.balance_usd == Decimal("0.008")
    assert rw.run(task()).status_code == 200  # still above zero: goes negative
    resp = rw.run(task())
    assert resp.status_code == 402 and only_error(resp)["code"] == "insufficientCredits"


def test_reset_drops_the_connection(rw: LiveRunware) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        rw.run(task(prompt="a storm [sim:reset]"))


def test_malformed_is_a_200_that_is_not_json(rw: LiveRunware) -> None:
    resp = rw.run(task(prompt="a storm [sim:malformed]"))
    assert resp.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(resp.content)


def test_truncate_cuts_the_body(rw: LiveRunware) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        rw.run(task(prompt="a storm [sim:truncate]"))


def test_sleep_directive(rw: LiveRunware, sleeps: list[float]) -> None:
    rw.run(task(prompt="a storm [sim:sleep=2.5]"))
    assert sleeps == [2.5]


# -- per-task faults -----------------------------------------------------------------------------


def test_taskfail_in_a_200_with_empty_data(rw: LiveRunware) -> None:
    t = task(prompt="a storm [sim:taskfail]")
    resp = rw.run(t)
    assert resp.status_code == 200
    body = resp.json()
    assert body["data"] == []
    (error,) = body["errors"]
    assert (error["code"], error["message"], error["taskUUID"]) == (
        "timeoutProvider",
        "Provider timed out",
        t["taskUUID"],
    )


def test_taskfail_fails_only_the_first_tasks(rw: LiveRunware) -> None:
    tasks = [task(prompt="kites [sim:taskfail]") for _ in range(3)]
    body = rw.run(*tasks).json()
    assert [e["taskUUID"] for e in body["errors"]] == [tasks[0]["taskUUID"]]
    assert [d["taskUUID"] for d in body["data"]] == [t["taskUUID"] for t in tasks[1:]]
    body = rw.run(*[task(prompt="kites [sim:taskfail=2]") for _ in range(3)]).json()
    assert (len(body["errors"]), len(body["data"])) == (2, 1)
    body = rw.run(*[task(prompt="kites [sim:taskfail=all]") for _ in range(3)]).json()
    assert (len(body["errors"]), body["data"]) == (3, [])


def test_moderation_is_a_400_content_policy_violation(rw: LiveRunware) -> None:
    for prompt in ("a forbidden thing", "fine [sim:moderate]"):
        t = task(prompt=prompt)
        resp = rw.run(t)
        assert resp.status_code == 400
        error = only_error(resp)
        assert (error["code"], error["taskUUID"]) == ("contentPolicyViolation", t["taskUUID"])


def test_moderate_words_knob(rw: LiveRunware) -> None:
    rw.state.knobs.moderate_words = ("banana",)
    assert rw.run(task(prompt="forbidden is fine now")).status_code == 200
    assert rw.run(task(prompt="a Banana")).status_code == 400


def test_output_moderation_flags_nsfw_content_when_checked(rw: LiveRunware) -> None:
    flagged = rw.run(task(prompt="x [sim:moderate=output]", safety={"checkContent": True}))
    assert flagged.status_code == 200
    assert flagged.json()["data"][0]["NSFWContent"] is True
    clean = rw.run(task(safety={"checkContent": True}))
    assert clean.json()["data"][0]["NSFWContent"] is False
    unchecked = rw.run(task(prompt="x [sim:moderate=output]"))
    assert unchecked.status_code == 400
    assert only_error(unchecked)["code"] == "providerContentPolicyViolation"


# -- async delivery ------------------------------------------------------------------------------


def test_async_ack_then_processing_then_success(rw: LiveRunware) -> None:
    rw.state.config.async_polls = 2
    t = task(deliveryMethod="async")
    ack = rw.run(t).json()["data"]
    assert ack == [{"taskType": "imageInference", "taskUUID": t["taskUUID"]}]
    poll = {"taskType": "getResponse", "taskUUID": t["taskUUID"]}
    progress = []
    for _ in range(2):
        (item,) = rw.run(poll).json()["data"]
        assert item["status"] == "processing" and "imageBase64Data" not in item
        progress.append(item["progress"])
    assert progress == sorted(progress) and 0 < progress[0] < 100
    (done,) = rw.run(poll).json()["data"]
    assert done["status"] == "success" and done["taskUUID"] == t["taskUUID"]
    assert done["imageBase64Data"] and done["cost"] == 0.022


def test_async_failure_is_reported_by_get_response(rw: LiveRunware) -> None:
    rw.state.config.async_polls = 0
    t = task(prompt="x [sim:taskfail]", deliveryMethod="async")
    assert rw.run(t).status_code == 200
    body = rw.run({"taskType": "getResponse", "taskUUID": t["taskUUID"]}).json()
    assert body["errors"][0]["code"] == "timeoutProvider"


def test_get_response_for_an_unknown_task(rw: LiveRunware) -> None:
    unknown = str(uuid.uuid4())
    resp = rw.run({"taskType": "getResponse", "taskUUID": unknown})
    assert resp.status_code == 400
    error = only_error(resp)
    assert (error["code"], error["taskUUID"]) == ("taskFailedOrNotFound", unknown)


# -- latency -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "level", "factor"),
    [(FAST_25, "low", 0.5), (FAST_25, None, 1.0), (FAST_25, "high", 2.0), (PRO_25, "xhigh", 4.0)],
)
def test_latency_scales_with_thinking_level(
    rw: LiveRunware, sleeps: list[float], model: str, level: str | None, factor: float
) -> None:
    rw.state.knobs.latency_s = 1.5
    settings = {"thinkingLevel": level} if level else None
    assert rw.run(task(model=model, settings=settings)).status_code == 200
    assert sleeps == [1.5 * factor]
