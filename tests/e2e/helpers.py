from __future__ import annotations

import base64
import io
import time
from decimal import Decimal
from typing import Any

import httpx
from PIL import Image

from tests.conftest import MASTER_KEY
from tests.e2e.conftest import MODEL


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def png_data_url(width: int = 64, height: int = 64, color: str = "red") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def post(gateway_url: str, key: str, body: dict[str, Any], timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{gateway_url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=timeout,
    )


def generation(
    gateway_url: str, gid: str, key: str = MASTER_KEY, wait_s: float = 5
) -> dict[str, Any]:
    """The recorded generation; it is written just after the response, so poll briefly."""
    deadline = time.monotonic() + wait_s
    while True:
        resp = httpx.get(
            f"{gateway_url}/api/v1/generation",
            params={"id": gid},
            headers={"authorization": f"Bearer {key}"},
        )
        if resp.status_code == 200:
            data: dict[str, Any] = resp.json()["data"]
            return data
        assert resp.status_code == 404, resp.text
        if time.monotonic() > deadline:
            raise AssertionError(f"generation {gid} was never recorded")
        time.sleep(0.05)


def token_cost(
    prompt_text: int, prompt_image: int, image_out: int, rates: tuple[int, int, int]
) -> Decimal:
    """Hand-computed cost from per-million-token rates."""
    text_in, image_in, out = (Decimal(r) / Decimal(1_000_000) for r in rates)
    return prompt_text * text_in + prompt_image * image_in + image_out * out


def stream_images(gateway_url: str, key: str, prompt: str) -> Any:
    """``POST /api/v1/images`` with ``stream: true`` (gpt-image-1.5, low), as a context manager
    for reading the raw event stream."""
    return httpx.stream(
        "POST",
        f"{gateway_url}/api/v1/images",
        json={"model": MODEL, "prompt": prompt, "stream": True, "quality": "low"},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
