"""BFL simulator, polling side: statuses over time, terminal statuses, poll faults (bfl.md §4, §9)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.simulator.bfl_support import KEY, LiveBfl


@pytest.fixture(scope="module")
def live() -> Iterator[LiveBfl]:
    sim = LiveBfl()
    yield sim
    sim.close()


@pytest.fixture
def bfl(live: LiveBfl) -> LiveBfl:
    live.state.reset()
    return live


def _statuses(answers: list[dict[str, object]]) -> list[object]:
    """The distinct statuses in order."""
    out: list[object] = []
    for answer in answers:
        if not out or out[-1] != answer["status"]:
            out.append(answer["status"])
    return out


def test_statuses_progress_pending_generating_ready_over_the_configured_time(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"latency_s": 0.2, "generating_s": 0.2})
    started = time.monotonic()  # before the submission, where the task's clock starts
    answer = bfl.task()
    answers = bfl.statuses_until_done(answer["polling_url"])
    assert time.monotonic() - started >= 0.4
    assert _statuses(answers) == ["Pending", "Generating", "Ready"]
    pending = answers[0]
    assert pending == {
        "id": answer["id"],
        "status": "Pending",
        "result": None,
        "progress": None,
        "details": None,
        "preview": None,
    }
    generating = next(a for a in answers if a["status"] == "Generating")
    assert 0 <= generating["progress"] <= 1
    ready = answers[-1]
    assert set(ready["result"]) >= {
        "sample",
        "prompt",
        "seed",
        "start_time",
        "end_time",
        "duration",
    }
    assert ready["result"]["prompt"] == "a lighthouse at dusk"


def test_sleep_directive_keeps_the_task_pending(bfl: LiveBfl) -> None:
    answer = bfl.task(prompt="slow [sim:sleep=0.5]")
    time.sleep(0.3)
    assert bfl.poll(answer["polling_url"]).json()["status"] == "Pending"
    assert bfl.statuses_until_done(answer["polling_url"])[-1]["status"] == "Ready"


def test_seed_is_echoed(bfl: LiveBfl) -> None:
    assert bfl.ready(seed=1234)["result"]["seed"] == 1234


@pytest.mark.parametrize(
    ("prompt", "status"),
    [
        ("a cat [sim:moderate]", "Request Moderated"),
        ("a cat [sim:moderate=output]", "Content Moderated"),
    ],
)
def test_moderation_statuses_carry_the_reasons(bfl: LiveBfl, prompt: str, status: str) -> None:
    answer = bfl.task(prompt=prompt)
    final = bfl.statuses_until_done(answer["polling_url"])
    assert final[-1]["status"] == status
    assert final[-1]["result"] is None
    assert final[-1]["details"] == {"Moderation Reasons": ["Protected Content"]}
    if status == "Request Moderated":  # the input is checked before processing
        assert len(final) == 1


def test_moderate_words_knob_and_stage(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"moderate_words": ["kraken"], "moderation_stage": "output"})
    answer = bfl.task(prompt="a Kraken rising")
    assert bfl.statuses_until_done(answer["polling_url"])[-1]["status"] == "Content Moderated"


@pytest.mark.parametrize(
    ("directive", "status"),
    [("[sim:error]", "Error"), ("[sim:failed]", "Failed"), ("[sim:notfound]", "Task not found")],
)
def test_failure_statuses(bfl: LiveBfl, directive: str, status: str) -> None:
    answer = bfl.task(prompt=f"a cat {directive}")
    final = bfl.statuses_until_done(answer["polling_url"])[-1]
    assert final["status"] == status and final["result"] is None
    if status != "Task not found":
        assert final["details"]


def test_unknown_ids_are_task_not_found_with_http_200(bfl: LiveBfl) -> None:
    answer = bfl.task()
    url = answer["polling_url"].replace(answer["id"], "00000000-0000-0000-0000-000000000000")
    resp = bfl.poll(url)
    assert resp.status_code == 200 and resp.json()["status"] == "Task not found"


def test_another_keys_task_is_not_found(bfl: LiveBfl) -> None:
    answer = bfl.task()
    assert bfl.poll(answer["polling_url"], key="other-key").status_code == 401  # wrong key
    bfl.state.tasks.get(answer["id"]).key = "someone-else"  # type: ignore[union-attr]
    assert bfl.poll(answer["polling_url"]).json()["status"] == "Task not found"


def test_poll_needs_the_key(bfl: LiveBfl) -> None:
    answer = bfl.task()
    resp = bfl.poll(answer["polling_url"], key=None)
    assert resp.status_code == 401 and resp.json() == {"detail": "Not authenticated"}


def test_queued_is_an_unknown_in_progress_status(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"latency_s": 0.1})
    answer = bfl.task(prompt="a cat [sim:queued]")
    assert _statuses(bfl.statuses_until_done(answer["polling_url"]))[0] == "Queued"


def test_unknown_status_rate_knob(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"unknown_status_rate": 1.0, "latency_s": 0.1})
    answer = bfl.task()
    assert bfl.poll(answer["polling_url"]).json()["status"] == "Queued"
    assert bfl.statuses_until_done(answer["polling_url"])[-1]["status"] == "Ready"


def test_pollfail_fails_the_next_polls_then_recovers(bfl: LiveBfl) -> None:
    answer = bfl.task(prompt="a cat [sim:pollfail=503*2]")
    first, second = bfl.poll(answer["polling_url"]), bfl.poll(answer["polling_url"])
    assert [first.status_code, second.status_code] == [503, 503]
    assert first.json() == {"detail": "Service temporarily unavailable"}
    assert int(first.headers["retry-after"]) >= 1
    assert bfl.statuses_until_done(answer["polling_url"])[-1]["status"] == "Ready"


def test_pollfail_reset_drops_the_next_polls_then_recovers(bfl: LiveBfl) -> None:
    answer = bfl.task(prompt="a cat [sim:pollfail=reset*2]")
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            bfl.poll(answer["polling_url"]).json()
    assert bfl.statuses_until_done(answer["polling_url"])[-1]["status"] == "Ready"


def test_http202_while_in_progress(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"latency_s": 0.2})
    answer = bfl.task(prompt="a cat [sim:http202]")
    resp = bfl.poll(answer["polling_url"])
    assert resp.status_code == 202 and resp.json()["status"] == "Pending"
    assert bfl.statuses_until_done(answer["polling_url"])[-1]["status"] == "Ready"


@pytest.mark.parametrize(("mode", "body"), [("bare", b'{"id":"%s"}'), ("empty", b"")])
def test_http202_can_come_without_a_status(bfl: LiveBfl, mode: str, body: bytes) -> None:
    """A 202 says "still pending" by itself (bfl.md §4); its body may carry no status at all."""
    bfl.state.bfl.update({"latency_s": 0.3})
    answer = bfl.task(prompt=f"a cat [sim:http202={mode}]")
    resp = bfl.poll(answer["polling_url"])
    assert resp.status_code == 202 and resp.content == body.replace(b"%s", answer["id"].encode())
    time.sleep(0.4)  # past Pending (0.3 s) and Generating (0.05 s): done, so a 200 again
    final = bfl.poll(answer["polling_url"])
    assert final.status_code == 200 and final.json()["status"] == "Ready"


def test_http202_takes_only_known_modes(bfl: LiveBfl) -> None:
    resp = bfl.submit(prompt="a cat [sim:http202=sometimes]")
    assert resp.status_code == 422 and resp.json()["detail"][0]["loc"] == ["body", "prompt"]


def test_noid_polling_url_needs_the_id_appended(bfl: LiveBfl) -> None:
    answer = bfl.task(prompt="a cat [sim:noid]")
    assert "?" not in answer["polling_url"]
    missing = bfl.poll(answer["polling_url"])
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "id"]
    assert bfl.poll(f"{answer['polling_url']}?id={answer['id']}").json()["id"] == answer["id"]


def test_polls_are_logged_as_gets(bfl: LiveBfl) -> None:
    answer = bfl.task()
    bfl.statuses_until_done(answer["polling_url"])
    methods = [e["method"] for e in bfl.state.log.entries]
    assert methods[0] == "POST" and set(methods[1:]) == {"GET"}
    assert all(e["headers"].get("x-key") == "<redacted>" for e in bfl.state.log.entries)
    assert KEY not in str(bfl.state.log.entries)
