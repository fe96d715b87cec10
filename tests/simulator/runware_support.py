"""A live Runware simulator on a loopback port, driven with plain httpx (no Runware SDK)."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from simulator.runware import create_app
from simulator.runware_state import RunwareState
from tests.servers import ServerThread

API_KEY = "rw-test-simulator-key"
FAST_25 = "sourceful:riverflow-2.5@fast"
PRO_25 = "sourceful:riverflow-2.5@pro"
FAST_20 = "sourceful:riverflow-2.0@fast"
PRO_20 = "sourceful:riverflow-2.0@pro"


class LiveRunware:
    """The simulator app, its server, and a client that speaks to ``POST /v1``."""

    def __init__(self) -> None:
        self.app = create_app(api_key=API_KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url
        self.http = httpx.Client(base_url=self.url, timeout=30)

    @property
    def state(self) -> RunwareState:
        state: RunwareState = self.app.state.sim
        return state

    def post(self, body: Any, *, key: str | None = API_KEY, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key is not None else {}
        return self.http.post("/v1", json=body, headers=headers, **kwargs)

    def run(self, *tasks: dict[str, Any], key: str | None = API_KEY) -> httpx.Response:
        return self.post(list(tasks), key=key)


@pytest.fixture(scope="module")
def live_runware() -> Iterator[LiveRunware]:
    sim = LiveRunware()
    with sim.server:
        yield sim
    sim.http.close()


@pytest.fixture
def rw(live_runware: LiveRunware) -> LiveRunware:
    """The shared simulator, reset: default knobs and config, empty log, no stored images."""
    live_runware.state.reset()
    return live_runware


def task(
    model: str = FAST_25, prompt: str = "a lighthouse at dusk", **fields: Any
) -> dict[str, Any]:
    """An ``imageInference`` task as the reference's TL;DR writes it (§0)."""
    body: dict[str, Any] = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": model,
        "positivePrompt": prompt,
        "width": 1024,
        "height": 1024,
        "outputType": "base64Data",
        "outputFormat": "PNG",
        "includeCost": True,
        "deliveryMethod": "sync",
    }
    for name, value in fields.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def png(width: int, height: int, mode: str = "RGB", color: Any = "red") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def only_error(resp: httpx.Response) -> dict[str, Any]:
    body = resp.json()
    assert "data" not in body or not body["data"], body
    (error,) = body["errors"]
    assert isinstance(error, dict)
    return error
