"""A live Recraft simulator on a loopback port, driven with plain httpx (no SDK exists)."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
from PIL import Image

from simulator.knobs import SimState
from simulator.recraft import create_app
from tests.servers import ServerThread

API_KEY = "rc-test-simulator-token"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class LiveRecraft:
    """The simulator app, its server, and an httpx client at its base URL."""

    def __init__(self) -> None:
        self.app = create_app(api_key=API_KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url

    def __enter__(self) -> LiveRecraft:
        self.server.start()
        self.client = httpx.Client(base_url=self.url, headers=AUTH, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.stop()

    @property
    def state(self) -> SimState:
        state: SimState = self.app.state.sim
        return state

    def reset(self) -> LiveRecraft:
        self.state.reset()
        return self

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body, **kwargs)

    def generate(self, **body: Any) -> httpx.Response:
        return self.post("/v1/images/generations", body)

    @property
    def posts(self) -> list[dict[str, Any]]:
        return [e for e in self.state.log.entries if e["method"] == "POST"]


def image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def png_bytes(width: int, height: int, color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def json_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    """A JSON error answer of the (synthetic) ``{code, message}`` shape."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body: dict[str, Any] = resp.json()
    assert set(body) == {"code", "message"} and body["message"], body
    return body


def text_error(resp: httpx.Response, status: int, text: str) -> None:
    """A plain-text answer, verbatim (reference §4)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.text.strip() == text
