"""Knobs, prompt directives and the request log."""

from __future__ import annotations

import pytest

from simulator.knobs import DirectiveError, Directives, Knobs, SimState, strip_directives


def test_directives_parse() -> None:
    d = Directives.parse("a [sim:503] b [SIM:sleep=0.5] [sim:truncate] [sim:done]")
    assert (d.fail_status, d.sleep_s, d.truncate, d.done) == (503, 0.5, True, True)
    assert Directives.parse("[sim:moderate]").moderate == "input"
    assert Directives.parse("[sim:moderate=output]").moderate == "output"
    assert Directives.parse("[sim:quota]").quota
    assert Directives.parse("plain prompt") == Directives()


@pytest.mark.parametrize("tag", ["[sim:200]", "[sim:sleep=x]", "[sim:moderate=later]", "[sim:]"])
def test_bad_directives_raise(tag: str) -> None:
    with pytest.raises(DirectiveError):
        Directives.parse(f"x {tag}")


def test_strip_directives() -> None:
    assert strip_directives("a  cat [sim:429] on [sim:sleep=1] a mat") == "a cat on a mat"


def test_knobs_update_is_validated_and_atomic() -> None:
    knobs = Knobs()
    knobs.update({"latency_s": 1, "fail_next": [429], "moderate_words": ["a", "b"]})
    assert (knobs.latency_s, knobs.fail_next, knobs.moderate_words) == (1.0, [429], ("a", "b"))
    for bad in (
        {"latency_s": True},
        {"fail_next": [201]},
        {"fail_next": [302]},
        {"moderation_stage": "later"},
        {"emit_done": "yes"},
        {"nope": 1},
        {"truncate_stream": True, "partial_delay_s": -1},
    ):
        with pytest.raises(ValueError):
            knobs.update(bad)
    assert knobs.truncate_stream is False


def test_state_reset_restores_creation_knobs_and_clears_log() -> None:
    state = SimState(Knobs(latency_s=0.5))
    knobs = state.knobs
    knobs.fail_next = [500, 429]
    assert state.take_fault() == 500
    knobs.fail_next = [200, 429]  # 200 lets one request through, then the fault applies
    assert state.take_fault() is None and state.take_fault() == 429
    knobs.fail_next = [500, 429]
    assert state.take_fault() == 500
    state.log.record("POST", "/v1/x", {"authorization": "Bearer sk-secret"}, "req_1")
    assert state.log.entries[0]["headers"]["authorization"] == "Bearer <redacted>"
    state.reset()
    assert state.knobs is knobs and knobs.fail_next == [] and knobs.latency_s == 0.5
    assert state.log.count == 0 and state.take_fault() is None


def test_transport_faults_and_provider_specific_directives() -> None:
    d = Directives.parse(
        "x [sim:reset] [sim:malformed] [sim:block=prompt] [sim:no_image]",
        extra={"block", "no_image"},
    )
    assert d.reset and d.malformed
    assert d.extra == {"block": "prompt", "no_image": ""}
    with pytest.raises(DirectiveError):
        Directives.parse("x [sim:block=prompt]")  # not understood by this simulator
