"""The official JavaScript clients (@openrouter/sdk, @openrouter/ai-sdk-provider + ai) as judges.

The Node packages are installed by `make install` (`npm ci --prefix tests/js`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.conftest import MODEL, Sim
from tests.e2e.helpers import png_data_url
from tests.servers import ServerThread

JS = Path(__file__).resolve().parent.parent / "js"


def _node(script: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    assert (JS / "node_modules").is_dir(), "run `make install` (npm ci --prefix tests/js)"
    proc = subprocess.run(
        ["node", str(JS / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert proc.stdout.strip(), proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if proc.returncode != 0:
        result.setdefault("exit", proc.returncode)
    return result


def test_ts_sdk_lists_models_and_endpoints(gateway: ServerThread) -> None:
    api = f"{gateway.url}/api/v1"
    models = _node("sdk.mjs", "models", api, "")
    # only what this gateway can serve: the OpenAI models (its one configured provider)
    assert models["count"] >= 8 and MODEL in models["ids"]
    assert all(i.startswith("openai/") for i in models["ids"])
    assert models["unknown_descriptors"] == []
    endpoints = _node("sdk.mjs", "endpoints", api, "", MODEL)
    assert endpoints["count"] == 2  # OpenAI and the operator-added endpoint
    assert endpoints["unknown_descriptors"] == []


def test_ts_sdk_generates_buffered(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    body = {"model": MODEL, "prompt": "a fox", "size": "1536x1024", "quality": "low"}
    out = _node("sdk.mjs", "generate", f"{gateway.url}/api/v1", api_key, json.dumps(body))
    assert "error" not in out, out
    (image,) = out["images"]
    assert (image["width"], image["height"]) == (1536, 1024)
    assert out["usage"]["cost"] > 0 and out["usage"]["completion_tokens"] == 400
    assert len(out["http"]) == 1 and out["http"][0]["generation_id"].startswith("gen-img-")
    assert len(sim_a.requests) == 1


def test_ts_sdk_streams(gateway: ServerThread, api_key: str, sim_a: Sim) -> None:
    body = {"model": MODEL, "prompt": "a fox", "quality": "low"}
    out = _node("sdk.mjs", "stream", f"{gateway.url}/api/v1", api_key, json.dumps(body))
    assert out.get("mode") == "stream", out
    types = [e["type"] for e in out["events"]]
    assert "image_generation.partial_image" in types and "UNKNOWN" not in types
    assert types[-1] == "image_generation.completed"
    (done,) = out["completed"]
    assert (done["width"], done["height"]) == (1024, 1024)
    assert out["usage"]["cost"] > 0


def test_ts_sdk_reads_a_partial_cut_by_the_provider_as_the_streams_error(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """Left unfinished, the cut event made the TS SDK end the stream with no error at all."""
    sim_a.state.knobs.update({"fixed_image": "noise", "cut_partial": True})
    body = {"model": MODEL, "prompt": "cut inside", "quality": "low"}
    out = _node("sdk.mjs", "stream", f"{gateway.url}/api/v1", api_key, json.dumps(body))
    assert out.get("mode") == "stream", out
    assert [e["type"] for e in out["events"]] == ["error"]
    (error,) = out["stream_errors"]
    assert error["code"] == "upstream_error" and "inside an image" in error["message"]
    assert out["completed"] == []


def test_ts_sdk_sees_typed_errors(gateway: ServerThread, api_key: str) -> None:
    body = {"model": MODEL, "prompt": "x", "size": "2048x2048", "aspect_ratio": "16:9"}
    out = _node("sdk.mjs", "generate", f"{gateway.url}/api/v1", api_key, json.dumps(body))
    assert out["error"]["statusCode"] == 400 and out["exit"] == 3


def test_ai_sdk_generates_with_size_and_reference(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    api = f"{gateway.url}/api/v1"
    out = _node(
        "aisdk.mjs",
        api,
        api_key,
        json.dumps({"model": MODEL, "prompt": "a fox", "size": "1024x1536", "n": 2}),
    )
    assert "error" not in out, out
    assert [(i["width"], i["height"]) for i in out["images"]] == [(1024, 1536)] * 2
    assert out["usage"]["totalTokens"] > 0
    with_ref = {"model": MODEL, "prompt": "like this", "images": [png_data_url()]}
    out = _node("aisdk.mjs", api, api_key, json.dumps(with_ref))
    assert "error" not in out, out
    assert sim_a.requests[-1]["path"] == "/v1/images/edits"


def _chat(prompt: str) -> str:
    return json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": prompt}],
            "modalities": ["image", "text"],
        }
    )


def test_ts_sdk_reads_a_late_chat_failure_as_the_streams_error_chunk(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """After the keep-alive comments the stream is committed; the refusal is an error chunk
    with finish_reason "error", which @openrouter/sdk parses like any chunk."""
    prompt = "late refusal [sim:sleep=4] [sim:moderate=output]"
    out = _node("sdk.mjs", "chatstream", f"{gateway.url}/api/v1", api_key, _chat(prompt))
    assert "error" not in out, out
    assert out["finish_reasons"] == ["error"]
    (error,) = out["errors"]
    assert error["code"] == 403 and "OpenAI" in error["message"]


def test_ai_sdk_chat_reads_images_and_a_late_failure_in_a_200_body(
    gateway: ServerThread, api_key: str, sim_a: Sim
) -> None:
    """The provider reads an error object in a 200 body only when ``user_id`` is absent or a
    string; the gateway leaves it out, so the refusal is the error the caller sees."""
    out = _node("aichat.mjs", f"{gateway.url}/api/v1", api_key, json.dumps({"model": MODEL,
                "prompt": "a red fox"}))  # fmt: skip
    assert "error" not in out, out
    (image,) = out["files"]
    assert image["media_type"] == "image/png" and image["b64_len"] > 100
    assert out["provider"] == "OpenAI"  # the answer names the provider that served it
    late = json.dumps(
        {"model": MODEL, "prompt": "late refusal [sim:sleep=4] [sim:moderate=output]"}
    )
    out = _node("aichat.mjs", f"{gateway.url}/api/v1", api_key, late)
    error = out["error"]
    assert error["name"] == "AI_APICallError", error
    assert "OpenAI" in error["message"] and "Invalid JSON" not in error["message"]
