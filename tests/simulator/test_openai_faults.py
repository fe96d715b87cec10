"""Fault knobs and prompt directives seen through the official SDK (errors §6, retries §1)."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest

from tests.simulator.conftest import LiveSim


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry delays the SDK asks for, recorded instead of slept.

    The SDK's sync client waits between attempts with ``time.sleep``; nothing else calls it
    while a test runs (the simulator thread is asyncio).
    """
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def _generate(client: openai.OpenAI, prompt: str = "a cat") -> Any:
    return client.images.generate(model="gpt-image-1.5", prompt=prompt, quality="low")


@pytest.mark.parametrize("prompt", ["something FORBIDDEN here", "fine [sim:moderate]"])
def test_moderation_refusal_is_the_reference_body(
    client: openai.OpenAI, sim: LiveSim, prompt: str
) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        _generate(client, prompt)
    body = err.value.body
    assert isinstance(body, dict)
    assert (body["type"], body["code"], body["param"]) == (
        "image_generation_user_error",
        "moderation_blocked",
        None,
    )
    assert body["moderation_details"]["moderation_stage"] == "input"
    assert err.value.request_id is not None and err.value.request_id in body["message"]
    assert "safety_violations=[" in body["message"]


def test_moderate_words_knob(client: openai.OpenAI, sim: LiveSim) -> None:
    sim.state.knobs.moderate_words = ("banana",)
    assert _generate(client, "forbidden is fine now").data
    with pytest.raises(openai.BadRequestError):
        _generate(client, "a Banana")


def test_output_stage_moderation_without_streaming(client: openai.OpenAI, sim: LiveSim) -> None:
    sim.state.knobs.moderation_stage = "output"
    with pytest.raises(openai.BadRequestError) as err:
        _generate(client, "forbidden")
    assert isinstance(err.value.body, dict)
    assert err.value.body["moderation_details"]["moderation_stage"] == "output"


def test_429_without_retries(client: openai.OpenAI, sim: LiveSim) -> None:
    sim.state.knobs.fail_next = [429]
    with pytest.raises(openai.RateLimitError) as err:
        _generate(client)
    assert (err.value.code, err.value.type) == ("rate_limit_exceeded", "requests")
    headers = err.value.response.headers
    assert headers["retry-after-ms"] == "20" and headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-images"] == "20ms"
    assert sim.state.log.count == 1
    assert _generate(client).data  # the fault is used up


def test_sdk_retries_429_honouring_retry_after_ms(
    make_client: Any, sim: LiveSim, sleeps: list[float]
) -> None:
    sim.state.knobs.fail_next = [429]
    sim.state.knobs.retry_after_s = 0.25
    result = _generate(make_client(max_retries=1))
    assert result.data is not None
    assert sleeps == [0.25]  # retry-after-ms, not the SDK's own 0.5 s backoff
    assert [e["status"] for e in sim.state.log.entries] == [429, 200]
    retry_counts = [e["headers"]["x-stainless-retry-count"] for e in sim.state.log.entries]
    assert retry_counts == ["0", "1"]


def test_insufficient_quota_is_not_retried(
    make_client: Any, sim: LiveSim, sleeps: list[float]
) -> None:
    with pytest.raises(openai.RateLimitError) as err:
        _generate(make_client(max_retries=2), "a cat [sim:quota]")
    assert (err.value.code, err.value.type) == ("insufficient_quota", "insufficient_quota")
    assert err.value.response.headers["x-should-retry"] == "false"
    assert sim.state.log.count == 1 and sleeps == []


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors(client: openai.OpenAI, status: int) -> None:
    with pytest.raises(openai.InternalServerError) as err:
        _generate(client, f"a cat [sim:{status}]")
    assert err.value.status_code == status
    assert err.value.type == "server_error"


def test_fail_next_is_consumed_in_order(
    make_client: Any, sim: LiveSim, sleeps: list[float]
) -> None:
    sim.state.knobs.fail_next = [503, 500]
    assert _generate(make_client(max_retries=2)).data
    assert [e["status"] for e in sim.state.log.entries] == [503, 500, 200]
    assert sim.state.knobs.fail_next == []
    assert len(sleeps) == 2


def test_directive_status_applies_to_every_attempt(make_client: Any, sleeps: list[float]) -> None:
    with pytest.raises(openai.RateLimitError):
        _generate(make_client(max_retries=1), "a cat [sim:429]")
    assert len(sleeps) == 1


def test_wrong_api_key(make_client: Any, sim: LiveSim) -> None:
    with pytest.raises(openai.AuthenticationError) as err:
        _generate(make_client(api_key="sk-wrong-key-123456"))
    assert err.value.code == "invalid_api_key"
    assert "sk-wrong-key-123456" not in err.value.message  # the key is masked
    assert sim.state.log.entries[0]["headers"]["authorization"] == "Bearer <redacted>"


def test_sleep_directive_and_latency_knob(client: openai.OpenAI, sim: LiveSim) -> None:
    started = time.monotonic()
    _generate(client, "slow [sim:sleep=0.2]")
    assert time.monotonic() - started >= 0.2
    sim.state.knobs.latency_s = 0.15
    started = time.monotonic()
    _generate(client)
    assert time.monotonic() - started >= 0.15


def test_unknown_directive_fails_loudly(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        _generate(client, "oops [sim:sleeep=1]")
    assert err.value.code == "invalid_sim_directive"
    assert "[sim:sleeep=1]" in err.value.message


def test_directives_are_not_drawn_into_the_image(client: openai.OpenAI) -> None:
    plain = _generate(client, "same picture")
    tagged = _generate(client, "same picture [sim:sleep=0]")
    assert plain.data is not None and tagged.data is not None
    assert plain.data[0].b64_json == tagged.data[0].b64_json
