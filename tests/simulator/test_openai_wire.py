"""Byte-level checks the SDK hides: SSE framing, headers, JSON edits, admin endpoints, mounts."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import httpx
import openai
import pytest

from simulator import create_combined_app
from simulator.knobs import Knobs
from simulator.openai import create_app as create_openai_app
from tests.servers import ServerThread
from tests.simulator.conftest import API_KEY, LiveSim, decode, png

AUTH = {"authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def http(sim: LiveSim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        yield client


def _frames(body: bytes) -> list[bytes]:
    assert body.endswith(b"\n\n")
    return body[:-2].split(b"\n\n")


def test_sse_framing_is_event_then_compact_data(http: httpx.Client) -> None:
    response = http.post(
        "/v1/images/generations",
        headers={**AUTH, "accept": "application/json"},  # what the SDK sends, even for streams
        json={"model": "gpt-image-1.5", "prompt": "p", "stream": True, "partial_images": 1},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = _frames(response.content)
    assert len(frames) == 2 and b"[DONE]" not in response.content
    for frame, kind in zip(frames, ["partial_image", "completed"], strict=True):
        event_line, data_line = frame.split(b"\n")
        assert event_line == f"event: image_generation.{kind}".encode()
        assert data_line.startswith(b"data: {")
        payload = json.loads(data_line[len(b"data: ") :])
        assert payload["type"] == f"image_generation.{kind}"
        assert data_line == b"data: " + json.dumps(payload, separators=(",", ":")).encode()
    keys = list(json.loads(frames[0].split(b"\n")[1][6:]))
    assert keys == [
        "type",
        "b64_json",
        "created_at",
        "size",
        "quality",
        "background",
        "output_format",
        "partial_image_index",
    ]


def test_done_terminator_on_request(http: httpx.Client, sim: LiveSim) -> None:
    sim.state.knobs.emit_done = True
    response = http.post(
        "/v1/images/generations",
        headers=AUTH,
        json={"model": "gpt-image-1.5", "prompt": "p", "stream": True},
    )
    assert _frames(response.content)[-1] == b"data: [DONE]"


def test_request_id_and_processing_headers_everywhere(http: httpx.Client, sim: LiveSim) -> None:
    ok = http.post(
        "/v1/images/generations", headers=AUTH, json={"model": "gpt-image-1.5", "prompt": "p"}
    )
    bad = http.post("/v1/images/generations", headers=AUTH, json={"model": "nope", "prompt": "p"})
    for response in (ok, bad):
        assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])
        assert int(response.headers["openai-processing-ms"]) >= 0
    assert ok.headers["content-type"] == "application/json"
    logged = [e["request_id"] for e in sim.state.log.entries]
    assert logged == [ok.headers["x-request-id"], bad.headers["x-request-id"]]


def test_missing_auth_is_401_envelope(http: httpx.Client) -> None:
    response = http.post("/v1/images/generations", json={"model": "gpt-image-1.5", "prompt": "p"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_auth_can_be_switched_off_for_keyless_compatible_servers() -> None:
    with ServerThread(create_openai_app(require_auth=False), lifespan="off") as server:
        response = httpx.post(
            f"{server.url}/v1/images/generations",
            json={"model": "gpt-image-1.5", "prompt": "p", "quality": "low"},
        )
    assert response.status_code == 200, response.text


def test_unparseable_json_and_unknown_paths(http: httpx.Client) -> None:
    bad = http.post("/v1/images/generations", headers=AUTH, content=b"{nope")
    assert bad.status_code == 400 and "could not parse the JSON" in bad.json()["error"]["message"]
    retired = http.post("/v1/images/variations", headers=AUTH)
    assert retired.status_code == 404
    assert retired.json()["error"]["message"] == "Invalid URL (POST /v1/images/variations)"


def test_json_form_of_edits_accepts_data_urls(http: httpx.Client, sim: LiveSim) -> None:
    url = "data:image/png;base64," + base64.b64encode(png(400, 300)).decode()
    response = http.post(
        "/v1/images/edits",
        headers=AUTH,
        json={
            "images": [{"image_url": url}, {"image_url": url}],
            "prompt": "Add a watercolor effect",
            "model": "gpt-image-2",
            "moderation": "low",
            "output_format": "jpeg",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    width, height = (int(v) for v in body["size"].split("x"))
    assert width > height and width % 16 == 0 and height % 16 == 0  # auto follows the input
    assert decode(body["data"][0]["b64_json"]).size == (width, height)
    logged = sim.state.log.entries[0]["body"]["images"]
    assert logged[0]["content_type"] == "image/png" and "image_url" not in logged[0]


def test_multipart_edit_has_no_moderation_field(http: httpx.Client) -> None:
    """§3.1: the SDK's multipart edit params have no ``moderation``; unknown fields are a 400
    ``unknown_parameter`` (§6)."""
    response = http.post(
        "/v1/images/edits",
        headers=AUTH,
        data={"model": "gpt-image-1.5", "prompt": "x", "moderation": "low"},
        files=[("image", ("a.png", png(64, 64), "image/png"))],
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Unknown parameter: 'moderation'.",
            "type": "invalid_request_error",
            "param": "moderation",
            "code": "unknown_parameter",
        }
    }


def test_json_edit_takes_moderation_mask_fidelity_and_stream(
    http: httpx.Client, sim: LiveSim
) -> None:
    """§3.3: the JSON form accepts ``moderation``, ``input_fidelity``, ``stream``,
    ``partial_images`` and ``mask: {image_url}``; its events are the edit ones (§5.2)."""

    def url(data: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(data).decode()

    response = http.post(
        "/v1/images/edits",
        headers=AUTH,
        json={
            "model": "gpt-image-1.5",
            "prompt": "paint it",
            "images": [{"image_url": url(png(640, 480))}],
            "mask": {"image_url": url(png(640, 480, "RGBA", (0, 0, 0, 0)))},
            "moderation": "low",
            "input_fidelity": "high",
            "n": 2,
            "quality": "low",
            "stream": True,
            "partial_images": 1,
        },
    )
    assert response.status_code == 200, response.text
    types = [json.loads(f.split(b"data: ", 1)[1])["type"] for f in _frames(response.content)]
    assert types == ["image_edit.partial_image", "image_edit.completed"] * 2
    body = sim.state.log.entries[0]["body"]
    assert body["moderation"] == "low" and body["mask"]["content_type"] == "image/png"


def test_json_edit_validates_moderation(http: httpx.Client) -> None:
    response = http.post(
        "/v1/images/edits",
        headers=AUTH,
        json={
            "model": "gpt-image-1.5",
            "prompt": "x",
            "images": [
                {"image_url": "data:image/png;base64," + base64.b64encode(png(8, 8)).decode()}
            ],
            "moderation": "off",
        },
    )
    assert response.status_code == 400
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (
        "moderation",
        "invalid_value",
    )


def test_json_edit_refuses_remote_urls(http: httpx.Client) -> None:
    response = http.post(
        "/v1/images/edits",
        headers=AUTH,
        json={
            "images": [{"image_url": "https://example.com/a.png"}],
            "prompt": "x",
            "model": "gpt-image-1.5",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "images[0].image_url"


def test_admin_endpoints(http: httpx.Client, sim: LiveSim) -> None:
    changed = http.post("/_sim/knobs", json={"fail_next": [500], "moderate_words": ["x"]})
    assert changed.status_code == 200 and changed.json()["fail_next"] == [500]
    assert sim.state.knobs.moderate_words == ("x",)
    failed = http.post(
        "/v1/images/generations", headers=AUTH, json={"model": "gpt-image-1.5", "prompt": "p"}
    )
    assert failed.status_code == 500
    log = http.get("/_sim/requests").json()
    assert log["count"] == 1 and log["requests"][0]["status"] == 500
    assert log["requests"][0]["body"] == {"model": "gpt-image-1.5", "prompt": "p"}
    rejected = http.post("/_sim/knobs", json={"latency_s": -1, "emit_done": True})
    assert rejected.status_code == 400 and sim.state.knobs.emit_done is False
    assert http.post("/_sim/knobs", json={"nope": 1}).status_code == 400
    assert http.post("/_sim/reset").status_code == 200
    assert http.get("/_sim/requests").json()["count"] == 0
    assert http.get("/_sim/knobs").json() == Knobs().as_dict()


def test_combined_app_mounts_openai_under_a_prefix() -> None:
    app = create_combined_app({"openai": Knobs(fail_next=[429])}, api_keys={"openai": "sk-x"})
    with ServerThread(app, lifespan="off") as server:
        assert httpx.get(f"{server.url}/").json()["simulators"]["openai"]["base_path"] == "/openai"
        client = openai.OpenAI(api_key="sk-x", base_url=f"{server.url}/openai/v1", max_retries=0)
        with pytest.raises(openai.RateLimitError):
            client.images.generate(model="gpt-image-1.5", prompt="p")
        result = client.images.generate(model="gpt-image-1.5", prompt="p", quality="low")
        assert result.usage is not None and result.usage.output_tokens == 272
        log = httpx.get(f"{server.url}/openai/_sim/requests").json()
        assert [r["path"] for r in log["requests"]] == ["/openai/v1/images/generations"] * 2
        client.close()
