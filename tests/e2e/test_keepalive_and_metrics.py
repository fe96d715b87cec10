"""Keep-alive bytes while a generation is slow, for buffered JSON and for SSE."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import MODEL, Sim
from tests.servers import ServerThread


def test_sse_sends_comments_while_waiting(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    sim_a.state.knobs.latency_s = 4.0  # longer than the 3 s keep-alive interval
    with httpx.stream(
        "POST",
        f"{gateway.url}/api/v1/images",
        json={"model": MODEL, "prompt": "slow", "stream": True, "quality": "low"},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    ) as resp:
        lines = [line for line in resp.iter_lines() if line]
    assert resp.status_code == 200
    assert lines[0] == ": OPENROUTER PROCESSING"
    assert lines[-1] == "data: [DONE]"
    assert any('"image_generation.completed"' in line for line in lines)


def test_late_failure_of_a_buffered_request_is_an_error_body(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Once keep-alive bytes went out the status is 200; the error object is the body."""
    body = {"model": MODEL, "prompt": "late refusal [sim:sleep=4] [sim:moderate=output]"}
    resp = httpx.post(
        f"{gateway.url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert resp.status_code == 200
    assert resp.content.startswith(b"\n")  # the keep-alive newline came first
    error = json.loads(resp.content)["error"]
    assert error["code"] == 403 and "OpenAI" in error["message"]


def test_fast_failure_keeps_its_status(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    body = {"model": MODEL, "prompt": "quick refusal [sim:moderate]"}
    resp = httpx.post(
        f"{gateway.url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == 403


def test_metrics_count_generations(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    def count() -> float:
        text = httpx.get(f"{gateway.url}/metrics").text
        for line in text.splitlines():
            if (
                line.startswith("imagegate_generations_total{")
                and 'status="succeeded"' in line
                and 'provider="openai"' in line
            ):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    resp = httpx.post(
        f"{gateway.url}/api/v1/images",
        json={"model": MODEL, "prompt": "counted", "quality": "low"},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert resp.status_code == 200
    assert count() == before + 1


def test_fast_failure_of_a_stream_keeps_its_status(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """The progress note queued before every upstream call is not shown on this door, so it
    does not commit the event stream: the refusal that follows keeps its 403."""
    body = {"model": MODEL, "prompt": "quick refusal [sim:moderate]", "stream": True}
    resp = httpx.post(
        f"{gateway.url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert resp.status_code == 403, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["error"]["code"] == 403


LATE_REFUSAL = "late refusal [sim:sleep=4] [sim:moderate=output]"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/images/generations", {"model": MODEL, "prompt": LATE_REFUSAL}),
        # where an OpenAI SDK at the images API's base URL sends chat
        (
            "/v1/chat/completions",
            {
                "model": MODEL,
                "modalities": ["image"],
                "messages": [{"role": "user", "content": LATE_REFUSAL}],
            },
        ),
    ],
)
def test_late_failure_on_the_openai_routes_keeps_its_status(
    gateway: ServerThread, api_key: str, sim_a: Sim, path: str, body: dict[str, object]
) -> None:
    """OpenAI's SDKs wait minutes and read any 200 as a success: no early commit on the
    ``/v1`` routes, so a refusal after the keep-alive interval still has its status: OpenAI's
    400 ``moderation_blocked``, in OpenAI's error shape."""
    resp = httpx.post(
        f"{gateway.url}{path}",
        json=body,
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    assert resp.status_code == 400, resp.text
    assert not resp.content.startswith(b"\n")
    error = resp.json()["error"]
    assert (error["code"], error["type"]) == ("moderation_blocked", "image_generation_user_error")
    assert "OpenAI" in error["message"]
