"""A live Seedream simulator on a loopback port, driven with plain httpx (no SDK exists)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
from PIL import Image

from simulator.bytedance import create_app
from simulator.knobs import SimState
from tests.servers import ServerThread

API_KEY = "ark-test-simulator-key"
PATH = "/api/v3/images/generations"
V40, V45 = "seedream-4-0-250828", "seedream-4-5-251128"
LITE, PRO = "seedream-5-0-260128", "dola-seedream-5-0-pro-260628"


class LiveSeedream:
    """The simulator app, its server, its state, and a client with our key."""

    def __init__(self) -> None:
        self.app = create_app(api_key=API_KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url
        self.client = httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30
        )

    @property
    def state(self) -> SimState:
        state: SimState = self.app.state.sim
        return state

    def reset(self) -> LiveSeedream:
        self.state.reset()
        self.app.state.files.ttl_s = 24 * 3600.0
        return self

    def post(self, **body: Any) -> httpx.Response:
        body.setdefault("model", V40)
        body.setdefault("prompt", "a lighthouse")
        return self.client.post(PATH, json=body)

    def ok(self, **body: Any) -> dict[str, Any]:
        resp = self.post(**body)
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data


def live() -> Iterator[LiveSeedream]:
    """Body of a module-scoped fixture: start, yield, stop."""
    sim = LiveSeedream()
    with sim.server:
        yield sim
    sim.client.close()


def decode(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def image_bytes(width: int = 64, height: int = 64, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "blue").save(buf, fmt)
    return buf.getvalue()


def data_uri(width: int = 64, height: int = 64, fmt: str = "png") -> str:
    data = image_bytes(width, height, "JPEG" if fmt in ("jpeg", "jpg") else fmt.upper())
    return f"data:image/{fmt};base64," + base64.b64encode(data).decode()


def error_of(resp: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a ModelArk error answer, checking the envelope's fields."""
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    error: dict[str, Any] = resp.json()["error"]
    assert set(error) == {"code", "message", "param", "type"}, error
    assert "Request id: " in error["message"] or "request id: " in error["message"]
    return error


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event, in order, as the wire framed them."""
    events: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((name, "\n".join(data)))
    return events


def payloads(text: str) -> list[dict[str, Any]]:
    """The JSON ``data:`` payloads of a stream (``[DONE]`` left out), each checked against its
    ``event:`` line."""
    out = []
    for name, data in sse_events(text):
        if data == "[DONE]":
            continue
        obj: dict[str, Any] = orjson.loads(data)
        assert name == obj.get("type", "error"), (name, obj)
        out.append(obj)
    return out
