"""Seedream simulator, ``stream: true`` (§4): framing, late headers, per-image events, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.simulator.seedream_sim import (
    LITE,
    PATH,
    PRO,
    V40,
    LiveSeedream,
    decode,
    error_of,
    live,
    payloads,
    sse_events,
)

SUCCEEDED = "image_generation.partial_succeeded"
FAILED = "image_generation.partial_failed"
COMPLETED = "image_generation.completed"
STREAM: dict[str, Any] = {
    "size": "1280x720",
    "stream": True,
    "sequential_image_generation": "auto",
    "sequential_image_generation_options": {"max_images": 3},
    "response_format": "b64_json",
    "watermark": False,
}


@pytest.fixture(scope="module")
def live_seedream() -> Iterator[LiveSeedream]:
    yield from live()


@pytest.fixture
def sim(live_seedream: LiveSeedream) -> LiveSeedream:
    return live_seedream.reset()


def test_frames_are_event_plus_data_and_end_with_done(sim: LiveSeedream) -> None:
    resp = sim.post(**STREAM)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.text)
    assert events[-1] == (None, "[DONE]")
    got = payloads(resp.text)
    assert [p["type"] for p in got] == [SUCCEEDED] * 3 + [COMPLETED]
    assert [p["image_index"] for p in got[:3]] == [0, 1, 2]
    for part in got[:3]:
        assert part["model"] == V40 and part["size"] == "1280x720"
        assert decode(part["b64_json"]).size == (1280, 720)
        assert "usage" not in part
    done = got[-1]
    assert done["usage"] == {
        "generated_images": 3,
        "output_tokens": 3 * 1280 * 720 // 256,
        "total_tokens": 3 * 1280 * 720 // 256,
    }
    assert sim.state.log.entries[-1]["stream"] == "finished"


def test_each_data_line_is_single_line_json(sim: LiveSeedream) -> None:
    resp = sim.post(**{**STREAM, "sequential_image_generation_options": {"max_images": 1}})
    for block in resp.text.strip().split("\n\n"):
        lines = block.split("\n")
        assert sum(1 for line in lines if line.startswith("data: ")) == 1, block


def test_headers_wait_for_the_first_image_then_images_flow(sim: LiveSeedream) -> None:
    sim.state.knobs.latency_s = 0.5
    sim.state.knobs.partial_delay_s = 0.4
    start = time.monotonic()
    with sim.client.stream("POST", PATH, json={"model": V40, "prompt": "slow", **STREAM}) as resp:
        headers_at = time.monotonic() - start
        arrivals = []
        for line in resp.iter_lines():
            if line.startswith("event: "):
                arrivals.append((line[7:], time.monotonic() - start))
    assert headers_at >= 0.5  # nothing, not even the status line, before the first image
    assert arrivals[0][0] == SUCCEEDED and arrivals[0][1] - headers_at < 0.3
    assert (
        arrivals[-1][0] == COMPLETED and arrivals[-1][1] - headers_at >= 0.7
    )  # flushed one by one


def test_a_moderated_image_is_a_partial_failed_event(sim: LiveSeedream) -> None:
    got = payloads(sim.post(prompt="three [sim:fail_images=1]", **STREAM).text)
    assert [p["type"] for p in got] == [SUCCEEDED, FAILED, SUCCEEDED, COMPLETED]
    failed = got[1]
    assert failed["image_index"] == 1
    assert failed["error"]["code"] == "OutputImageSensitiveContentDetected"
    assert got[-1]["usage"]["generated_images"] == 2


def test_all_failed_still_streams_and_completes_with_zero(sim: LiveSeedream) -> None:
    got = payloads(sim.post(prompt="bad [sim:moderate=output]", **STREAM).text)
    assert [p["type"] for p in got] == [FAILED] * 3 + [COMPLETED]
    assert got[-1]["usage"]["generated_images"] == 0


def test_validation_errors_are_plain_json_even_when_streaming(sim: LiveSeedream) -> None:
    resp = sim.post(**{**STREAM, "size": "1x1"})
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert error_of(resp)["param"] == "size"
    resp = sim.post(model=PRO, size="1K", stream=True)
    assert resp.status_code == 400 and error_of(resp)["param"] == "stream"
    resp = sim.post(prompt="[sim:429]", **STREAM)
    assert resp.status_code == 429 and error_of(resp)["code"].startswith("RateLimitExceeded")


def test_truncate_ends_the_stream_before_completed(sim: LiveSeedream) -> None:
    resp = sim.post(prompt="cut [sim:truncate]", **STREAM)
    assert resp.status_code == 200
    got = payloads(resp.text)
    assert [p["type"] for p in got] == [SUCCEEDED] * 3
    assert "[DONE]" not in resp.text
    sim.state.knobs.truncate_stream = True
    assert COMPLETED not in sim.post(prompt="knob", **STREAM).text


def test_a_stream_level_error_event(sim: LiveSeedream) -> None:
    resp = sim.post(prompt="x [sim:stream_error]", **STREAM)
    events = sse_events(resp.text)
    assert [name for name, _ in events] == [SUCCEEDED, "error"]
    got = payloads(resp.text)
    assert set(got[-1]) == {"error"} and "Request ID: " in got[-1]["error"]["message"]
    # §4 shows the stream-level error as {"error":{"code":"BadRequest","message":"... Request ID: {id}"}}
    assert set(got[-1]["error"]) == {"code", "message"}
    assert got[-1]["error"]["code"] == "BadRequest"
    assert got[-1]["error"]["message"].endswith(f"Request ID: {resp.headers['x-request-id']}")


def test_a_stream_level_error_with_another_documented_code(sim: LiveSeedream) -> None:
    got = payloads(sim.post(prompt="x [sim:stream_error=internalserviceerror]", **STREAM).text)
    assert got[-1]["error"]["code"] == "InternalServiceError"
    got = payloads(sim.post(prompt="x [sim:stream_error=BadRequest]", **STREAM).text)
    assert got[-1]["error"]["code"] == "BadRequest"
    resp = sim.post(prompt="x [sim:stream_error=nosuchcode]", **STREAM)
    assert resp.status_code == 400 and error_of(resp)["param"] == "prompt"


def test_url_mode_and_output_format_in_events(sim: LiveSeedream) -> None:
    body = {**STREAM, "response_format": "url", "output_format": "png", "size": "2560x1440"}
    got = payloads(sim.post(model=LITE, **body).text)
    first = got[0]
    assert first["output_format"] == "png" and "b64_json" not in first
    image = httpx.get(first["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"


def test_client_going_away_is_logged(sim: LiveSeedream) -> None:
    sim.state.knobs.partial_delay_s = 0.5
    with sim.client.stream("POST", PATH, json={"model": V40, "prompt": "bye", **STREAM}) as resp:
        next(resp.iter_lines())
    deadline = time.monotonic() + 3
    while sim.state.log.entries[-1].get("stream") != "client_closed":
        assert time.monotonic() < deadline, sim.state.log.entries[-1]
        time.sleep(0.05)
