"""A live OpenAI simulator on a loopback port, driven by the official ``openai`` SDK."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from PIL import Image

from simulator.knobs import SimState
from simulator.openai import create_app
from tests.servers import ServerThread

API_KEY = "sk-test-simulator-key"


class LiveSim:
    """The simulator app, its server and its in-process state."""

    def __init__(self) -> None:
        self.app = create_app(api_key=API_KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url

    @property
    def state(self) -> SimState:
        state: SimState = self.app.state.sim
        return state


@pytest.fixture(scope="session")
def live_sim() -> Iterator[LiveSim]:
    sim = LiveSim()
    with sim.server:
        yield sim


@pytest.fixture
def sim(live_sim: LiveSim) -> LiveSim:
    """The shared simulator with default knobs and an empty request log."""
    live_sim.state.reset()
    return live_sim


@pytest.fixture
def make_client(sim: LiveSim) -> Iterator[Callable[..., openai.OpenAI]]:
    clients: list[openai.OpenAI] = []

    def make(*, api_key: str = API_KEY, max_retries: int = 0, **kwargs: Any) -> openai.OpenAI:
        client = openai.OpenAI(
            api_key=api_key, base_url=f"{sim.url}/v1", max_retries=max_retries, **kwargs
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., openai.OpenAI]) -> openai.OpenAI:
    return make_client()


def decode(b64_json: str | None) -> Image.Image:
    assert b64_json, "expected base64 image data"
    img = Image.open(io.BytesIO(base64.b64decode(b64_json)))
    img.load()
    return img


def png(width: int, height: int, mode: str = "RGB", color: Any = "red") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), color).save(buf, "PNG")
    return buf.getvalue()
