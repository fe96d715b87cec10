"""A live xAI simulator on a loopback port, driven with plain httpx (there is no REST SDK)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from PIL import Image

from simulator.xai import create_app
from simulator.xai_state import XaiState
from tests.servers import ServerThread

KEY = "xai-sim-test-key-0123456789"
AUTH = {"authorization": f"Bearer {KEY}"}
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"


class XaiLive:
    """The simulator app, its server and its in-process state."""

    def __init__(self) -> None:
        self.app = create_app(api_key=KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url
        self.http = httpx.Client(base_url=self.url, timeout=30)

    @property
    def state(self) -> XaiState:
        state: XaiState = self.app.state.sim
        return state

    def post(
        self, path: str, body: Any, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.http.post(path, json=body, headers=AUTH if headers is None else headers)

    def generate(self, **body: Any) -> httpx.Response:
        return self.post(GENERATIONS, {"prompt": "a red fox", **body})

    def edit(self, **body: Any) -> httpx.Response:
        return self.post(EDITS, {"prompt": "make it blue", **body})

    def last(self) -> dict[str, Any]:
        entry: dict[str, Any] = self.state.log.entries[-1]
        return entry


@contextmanager
def live() -> Iterator[XaiLive]:
    sim = XaiLive()
    with sim.server:
        yield sim
    sim.http.close()


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


def data_url(width: int = 64, height: int = 48, fmt: str = "PNG") -> str:
    encoded = base64.b64encode(image_bytes(width, height, fmt)).decode()
    return f"data:image/{fmt.lower()};base64,{encoded}"


def ref(width: int = 64, height: int = 48, fmt: str = "PNG", **extra: Any) -> dict[str, Any]:
    return {"url": data_url(width, height, fmt), "type": "image_url", **extra}


def decode(b64_json: str) -> Image.Image:
    """A ``b64_json`` value, with or without its ``data:`` prefix."""
    payload = b64_json.partition("base64,")[2] if b64_json.startswith("data:") else b64_json
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image
