"""`imagegate serve --simulate` and `imagegate simulate`: real processes, real ports."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from simulator import SIMULATORS
from tests.servers import free_port


def _start(args: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError(
                    proc.stderr.read().decode() if proc.stderr else "exited"
                ) from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{args} did not start")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "IMAGEGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "IMAGEGATE_MASTER_KEY": "demo-master-key",
    }


@pytest.fixture
def demo_gateway(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(["serve", "--simulate", "--port", str(port)], env, f"{url}/health")
    yield url
    proc.terminate()
    proc.wait(timeout=15)


def test_serve_simulate_generates_with_no_provider_keys(demo_gateway: str) -> None:
    resp = httpx.post(
        f"{demo_gateway}/api/v1/images",
        json={
            "model": "openai/gpt-image-1.5",
            "prompt": "a demo",
            "size": "1024x1536",
            "quality": "low",
        },
        headers={"authorization": "Bearer demo-master-key"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    image = Image.open(io.BytesIO(base64.b64decode(resp.json()["data"][0]["b64_json"])))
    assert image.size == (1024, 1536)
    assert resp.json()["usage"]["cost"] > 0


def test_simulate_command_serves_openai_wire_format(env: dict[str, str]) -> None:
    port = free_port()
    proc = _start(["simulate", "--port", str(port)], env, f"http://127.0.0.1:{port}/")
    try:
        client = openai.OpenAI(
            api_key="anything", base_url=f"http://127.0.0.1:{port}/openai/v1", max_retries=0
        )
        result = client.images.generate(
            model="gpt-image-1.5", prompt="a fox", size="1536x1024", quality="low"
        )
        assert result.data and result.data[0].b64_json
        assert result.usage is not None and result.usage.output_tokens == 400
        listing = httpx.get(f"http://127.0.0.1:{port}/").json()["simulators"]
        assert set(listing) == set(SIMULATORS)
        assert len(listing) == 8
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.parametrize(
    "model",
    [
        "google/gemini-3.1-flash-image",
        "bytedance-seed/seedream-4.0",
        "x-ai/grok-imagine-image",
        "black-forest-labs/flux.2-pro",
        "recraft/recraft-v3",
        "microsoft/mai-image-2.5",
        "sourceful/riverflow-v2-fast",
    ],
)
def test_serve_simulate_serves_every_provider(demo_gateway: str, model: str) -> None:
    resp = httpx.post(
        f"{demo_gateway}/api/v1/images",
        json={"model": model, "prompt": "a demo", "aspect_ratio": "1:1"},
        headers={"authorization": "Bearer demo-master-key"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    image = Image.open(io.BytesIO(base64.b64decode(resp.json()["data"][0]["b64_json"])))
    assert abs(image.width - image.height) <= image.width * 0.02
    assert resp.json()["usage"]["cost"] > 0
