"""POST /api/v1/images end to end: official SDK → gateway → OpenAI simulator, real Postgres."""

from __future__ import annotations

import base64
import io
import json
from decimal import Decimal

import httpx
import pytest
from openrouter import OpenRouter
from PIL import Image

from tests.e2e.conftest import IMAGE_IN, IMAGE_OUT, MODEL, SIM_KEY, TEXT_IN, Sim
from tests.e2e.helpers import (
    decode,
    generation,
    png_data_url,
    post,
    stream_images,
    token_cost,
)
from tests.servers import ServerThread

RATES = (TEXT_IN, IMAGE_IN, IMAGE_OUT)


def _sdk(gateway: ServerThread, key: str) -> OpenRouter:
    return OpenRouter(api_key=key, server_url=f"{gateway.url}/api/v1")


def test_sdk_buffered_generation_cost_and_ledger(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    with _sdk(gateway, api_key) as client:
        result = client.images.generate(
            model=MODEL, prompt="a red fox, flat vector", size="1536x1024", quality="low"
        )
    assert len(result.data) == 1
    image = decode(result.data[0].b64_json)
    assert image.size == (1536, 1024)
    assert result.data[0].media_type == "image/png"

    # exactly one upstream call, to the real OpenAI path, with our key and only accepted params
    (call,) = sim_a.requests
    assert call["path"] == "/v1/images/generations"
    assert call["body"]["model"] == "gpt-image-1.5" and call["body"]["size"] == "1536x1024"
    assert "response_format" not in call["body"]

    usage = result.usage
    assert usage is not None and usage.completion_tokens == 400  # low quality 1536x1024 (§8.2)
    text_tokens = usage.prompt_tokens
    expected = token_cost(text_tokens, 0, usage.completion_tokens, RATES)
    assert Decimal(str(usage.cost)) == expected
    assert usage.cost_details is not None
    assert Decimal(str(usage.cost_details.upstream_inference_completions_cost)) == Decimal("0.0128")


def test_response_shape_header_and_generation_record(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    resp = post(
        gateway.url, api_key, {"model": MODEL, "prompt": "a lighthouse", "quality": "medium"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    gid = resp.headers["x-generation-id"]
    assert gid.startswith("gen-img-")
    body = resp.json()
    assert isinstance(body["created"], int) and set(body) >= {"created", "data", "usage"}
    assert decode(body["data"][0]["b64_json"]).size == (1024, 1024)
    # the base64 the simulator produced is relayed byte for byte
    record = generation(gateway.url, gid, api_key)
    assert record["status"] == "succeeded" and record["api_type"] == "image"
    assert record["provider_name"] == "OpenAI" and record["images"] == 1
    assert record["pixels"] == 1024 * 1024
    assert Decimal(record["cost_usd"]) == Decimal(str(body["usage"]["cost"]))
    assert record["tokens_completion"] == body["usage"]["completion_tokens"] == 1056
    assert record["upstream_id"] == sim_a.requests[0]["request_id"]
    # another key cannot read it
    other = httpx.post(
        f"{gateway.url}/api/v1/keys",
        json={"name": "other"},
        headers={"authorization": "Bearer test-master-key-0123456789"},
    ).json()["key"]
    assert (
        httpx.get(
            f"{gateway.url}/api/v1/generation",
            params={"id": gid},
            headers={"authorization": f"Bearer {other}"},
        ).status_code
        == 404
    )


def test_sdk_generation_stats(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "stats", "quality": "low"})
    gid = resp.headers["x-generation-id"]
    generation(gateway.url, gid, api_key)
    with _sdk(gateway, api_key) as client:
        stats = client.generations.get_generation(id=gid)
    assert stats.data.id == gid and stats.data.api_type == "image"
    assert Decimal(str(stats.data.total_cost)) == Decimal(str(resp.json()["usage"]["cost"]))


def test_generation_stats_carry_the_requests_attribution(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """``HTTP-Referer``, the end user (``user``) and the session (body ``session_id``, else the
    ``x-session-id`` header) come back in ``GET /generation`` as OpenRouter names them."""
    headers = {
        "authorization": f"Bearer {api_key}",
        "HTTP-Referer": "https://app.example",
        "x-session-id": "from-header",
    }
    body = {"model": MODEL, "prompt": "attributed", "user": "u-17", "session_id": "sess-1"}
    resp = httpx.post(f"{gateway.url}/api/v1/images", json=body, headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    gid = resp.headers["x-generation-id"]
    generation(gateway.url, gid, api_key)
    with _sdk(gateway, api_key) as client:
        stats = client.generations.get_generation(id=gid).data
    assert (stats.http_referer, stats.external_user) == ("https://app.example", "u-17")
    assert stats.session_id == "sess-1"  # the body's wins
    del body["session_id"], body["user"]
    resp = httpx.post(f"{gateway.url}/api/v1/images", json=body, headers=headers, timeout=30)
    record = generation(gateway.url, resp.headers["x-generation-id"], api_key)
    assert (record["session_id"], record["external_user"]) == ("from-header", None)


def test_a_generation_can_be_read_right_after_its_answer(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    # no polling: the row, still lingering for its batch in this process, is waited for
    auth = {"authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=gateway.url, headers=auth) as http:
        for n in range(3):
            resp = http.post("/api/v1/images", json={"model": MODEL, "prompt": f"at once {n}"})
            assert resp.status_code == 200, resp.text
            gid = resp.headers["x-generation-id"]
            record = http.get("/api/v1/generation", params={"id": gid})
            assert record.status_code == 200, record.text
            cost = Decimal(str(resp.json()["usage"]["cost"]))
            assert Decimal(record.json()["data"]["cost_usd"]) == cost
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "at once, the SDK"})
    gid = resp.headers["x-generation-id"]
    with _sdk(gateway, api_key) as client:
        stats = client.generations.get_generation(id=gid)
    assert stats.data.id == gid
    assert Decimal(str(stats.data.total_cost)) == Decimal(str(resp.json()["usage"]["cost"]))
    # an id nobody holds is still a plain 404, at once
    missing = httpx.get(
        f"{gateway.url}/api/v1/generation",
        params={"id": "gen-img-0-none"},
        headers={"authorization": f"Bearer {api_key}"},
    )
    assert missing.status_code == 404


def test_sdk_streaming(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    with _sdk(gateway, api_key) as client:
        events = list(
            client.images.generate(model=MODEL, prompt="a cat", quality="low", stream=True)
        )
    types = [getattr(e, "type", None) for e in events]
    assert "image_generation.partial_image" in types, types
    assert types[-1] == "image_generation.completed"
    assert types.index("image_generation.partial_image") < types.index("image_generation.completed")
    completed = events[-1]
    assert decode(completed.b64_json).size == (1024, 1024)
    assert completed.usage is not None and completed.usage.cost and completed.usage.cost > 0
    assert sim_a.requests[0]["body"]["stream"] in (True, "true")


def test_stream_relays_events_before_completion(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    sim_a.state.knobs.partial_delay_s = 1.0
    lines: list[tuple[float, str]] = []
    import time

    start = time.monotonic()
    with httpx.stream(
        "POST",
        f"{gateway.url}/api/v1/images",
        json={"model": MODEL, "prompt": "slow partials", "stream": True, "quality": "low"},
        headers={"authorization": f"Bearer {api_key}"},
        timeout=30,
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-generation-id"].startswith("gen-img-")
        for line in resp.iter_lines():
            if line.startswith("data: "):
                lines.append((time.monotonic() - start, line[6:]))
    payloads = [(t, json.loads(d)) for t, d in lines if d != "[DONE]"]
    assert lines[-1][1] == "[DONE]"
    first_partial = next(t for t, p in payloads if p["type"] == "image_generation.partial_image")
    completed = next(t for t, p in payloads if p["type"] == "image_generation.completed")
    assert completed - first_partial >= 0.5, "partials were buffered until the end"


def test_a_large_partial_image_is_relayed_while_it_arrives(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Cut-through: the first half of a 4 MB partial image reaches the client while the
    provider has not yet sent the second half (it waits seconds between the two)."""
    sim_a.state.knobs.update({"fixed_image": "noise", "partial_split_s": 5.0})
    received = bytearray()
    with stream_images(gateway.url, api_key, "split partials") as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_raw():
            received += chunk
            at = received.find(b'"b64_json":"')
            if at >= 0 and len(received) - at > 1_000_000:
                break
        pieces = list(sim_a.requests[-1]["partial_pieces"])
    assert pieces == ["head"], "the partial was held until the provider had sent all of it"
    assert b'"type":"image_generation.partial_image"' in received


def test_an_upstream_cut_inside_a_relayed_partial_ends_as_an_error_event_and_is_recorded(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """A provider stream that breaks halfway through a partial image already being relayed:
    what was sent cannot be taken back, so the event's base64 string is closed there and the
    event completed as the error (a later ``type`` key), then [DONE]; the generation is
    recorded as failed, at no cost."""
    sim_a.state.knobs.update({"fixed_image": "noise", "cut_partial": True})
    with stream_images(gateway.url, api_key, "cut inside") as resp:
        assert resp.status_code == 200
        gid = resp.headers["x-generation-id"]
        body = resp.read()
    frames = [f for f in body.split(b"\n\n") if f.startswith(b"data: ")]
    assert frames[-1] == b"data: [DONE]"
    cut = json.loads(frames[-2].removeprefix(b"data: "))
    assert cut["type"] == "error"  # the later of the two "type" keys
    assert cut["error"]["code"] == "upstream_error" and cut["error"]["message"]
    assert frames[-2].startswith(b'data: {"type":"image_generation.partial_image"')
    record = generation(gateway.url, gid)
    assert record["status"] == "failed"
    assert Decimal(str(record["total_cost"])) == 0


def test_the_sdk_reads_a_cut_partial_as_the_streams_error(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Left unfinished, the cut event made the Python SDK raise a validation error."""
    sim_a.state.knobs.update({"fixed_image": "noise", "cut_partial": True})
    with _sdk(gateway, api_key) as client:
        events = list(
            client.images.generate(model=MODEL, prompt="cut inside", quality="low", stream=True)
        )
    assert [getattr(e, "type", None) for e in events] == ["error"]
    assert events[0].error.code == "upstream_error" and events[0].error.message


def test_slow_generation_with_sdk_defaults_makes_one_upstream_call(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """The SDK's 5 s read timeout would re-send the POST; keep-alive bytes prevent it. Seven
    seconds: past the SDK's timeout, with two keep-alives (3 s apart) before the answer."""
    sim_a.state.knobs.latency_s = 7.0
    with _sdk(gateway, api_key) as client:  # default settings: 5 s read timeout, retries on
        result = client.images.generate(model=MODEL, prompt="a slow one", quality="low")
    assert decode(result.data[0].b64_json).size == (1024, 1024)
    assert len(sim_a.requests) == 1


def test_edit_with_references(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    refs = [
        {"type": "image_url", "image_url": {"url": png_data_url(color=c)}} for c in ("red", "blue")
    ]
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "combine", "input_references": refs, "quality": "low"},
    )
    assert resp.status_code == 200, resp.text
    (call,) = sim_a.requests
    assert call["path"] == "/v1/images/edits"
    assert resp.json()["usage"]["prompt_tokens"] > 0


def test_reference_url_ssrf_is_blocked(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    refs = [{"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest/meta-data/"}}]
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "x", "input_references": refs})
    assert resp.status_code == 400, resp.text
    assert "input_references" in resp.text
    assert sim_a.requests == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"size": "2048x2048", "aspect_ratio": "16:9"}, "size"),
        ({"background": "transparent", "output_format": "jpeg"}, "background"),
        ({"provider": {"options": {"openai": {"nope": 1}}}}, "provider.options"),
        ({"aspect_ratio": "banana"}, "aspect_ratio"),
    ],
)
def test_invalid_parameters_are_400_without_upstream_call(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim, body: dict[str, object], param: str
) -> None:
    resp = post(gateway.url, api_key, {"model": MODEL, "prompt": "x", **body})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == 400
    assert param.split(".")[0] in json.dumps(resp.json())
    assert sim_a.requests == [] and sim_b.requests == []


def test_failed_generation_is_recorded_at_no_cost(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "no [sim:400]", "provider": {"allow_fallbacks": False}},
    )
    assert resp.status_code == 400
    record = generation(gateway.url, resp.headers["x-generation-id"], api_key)
    assert record["status"] == "failed" and Decimal(record["cost_usd"]) == 0
    assert record["error_code"] == 400


def test_provider_key_is_sent_upstream_but_never_returned(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "auth [sim:401]", "provider": {"allow_fallbacks": False}},
    )
    assert resp.status_code == 502, resp.text
    assert SIM_KEY not in resp.text


def test_end_user_id_is_hashed_before_it_goes_upstream(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    resp = post(
        gateway.url,
        api_key,
        {"model": MODEL, "prompt": "x", "quality": "low", "user": "alice@example.com"},
    )
    assert resp.status_code == 200, resp.text
    sent = sim_a.requests[0]["body"].get("safety_identifier")
    assert sent and "alice" not in sent and len(sent) == 32


def test_mid_stream_failure_is_an_error_event(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Output moderation after partials: the SDK sees partials, then a typed error event."""
    sim_a.state.knobs.partial_delay_s = 0.2
    with _sdk(gateway, api_key) as client:
        events = list(
            client.images.generate(
                model=MODEL, prompt="late [sim:moderate=output]", quality="low", stream=True
            )
        )
    types = [getattr(e, "type", None) for e in events]
    assert types[0] == "image_generation.partial_image", types
    assert types[-1] == "error", types
    error = events[-1].error
    assert isinstance(error.code, str) and "OpenAI" in error.message
    assert sim_a.requests and len(sim_a.requests) == 1  # no fallback once partials went out


def test_truncated_upstream_stream_ends_with_an_error_event(
    gateway: ServerThread, api_key: str, sim_a: Sim, sim_b: Sim
) -> None:
    """A stream cut before completion, after partials went out: an error event, no fallback."""
    sim_a.state.knobs.truncate_stream = True
    with _sdk(gateway, api_key) as client:
        events = list(client.images.generate(model=MODEL, prompt="cut", quality="low", stream=True))
    types = [getattr(e, "type", None) for e in events]
    # partials from the first endpoint were relayed, so the truncation ends the stream with an error
    assert types[-1] == "error", types
    assert sim_b.requests == []


def test_a_gif_reference_is_edited_as_a_png(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """OpenAI's edits take PNG, JPEG and WebP: a GIF reference goes as its first frame."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(buf, "GIF")
    url = "data:image/gif;base64," + base64.b64encode(buf.getvalue()).decode()
    refs = [{"type": "image_url", "image_url": {"url": url}}]
    body = {"model": MODEL, "prompt": "edit", "input_references": refs, "quality": "low"}
    resp = post(gateway.url, api_key, body)
    assert resp.status_code == 200, resp.text
    (call,) = sim_a.requests
    assert call["path"] == "/v1/images/edits"
