"""A live MAI simulator on a loopback port, driven with plain httpx (reference microsoft.md §8).

Each test module makes its own server with :func:`live_fixture`, so the simulator tests of
this provider need nothing from the shared ``conftest.py``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from simulator.azure_mai import MaiState, create_app
from tests.servers import ServerThread

API_KEY = "mai-test-key-0123456789abcdef"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra.token"
BASE = "/mai/v1"


class LiveMai:
    """The simulator app, its server, and a small client for its routes."""

    def __init__(self) -> None:
        self.app = create_app(api_key=API_KEY, token=TOKEN)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url

    @property
    def state(self) -> MaiState:
        state: MaiState = self.app.state.sim
        return state

    def generate(
        self, body: dict[str, Any], *, headers: dict[str, str] | None = None, query: str = ""
    ) -> httpx.Response:
        return httpx.post(
            f"{self.url}{BASE}/images/generations{query}",
            json=body,
            headers={"api-key": API_KEY} if headers is None else headers,
            timeout=30,
        )

    def edit(
        self,
        fields: dict[str, str],
        images: list[tuple[str, bytes, str]],
        *,
        part: str = "image",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        files = [(part, image) for image in images]
        return httpx.post(
            f"{self.url}{BASE}/images/edits",
            data=fields,
            files=files or None,
            headers={"api-key": API_KEY} if headers is None else headers,
            timeout=30,
        )


def live_fixture() -> Callable[[], Iterator[LiveMai]]:
    """A module-scoped live simulator fixture; reset it per test with ``mai``."""

    @pytest.fixture(scope="module")
    def live_mai() -> Iterator[LiveMai]:
        sim = LiveMai()
        with sim.server:
            yield sim

    return live_mai


def reset_fixture() -> Callable[[LiveMai], LiveMai]:
    @pytest.fixture
    def mai(live_mai: LiveMai) -> LiveMai:
        live_mai.state.reset()
        return live_mai

    return mai


def decode(b64_json: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64_json)))
    img.load()
    return img


def encoded(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


def png_part(width: int = 96, height: int = 96, name: str = "in.png") -> tuple[str, bytes, str]:
    return (name, encoded(width, height), "image/png")


def error_of(resp: httpx.Response) -> dict[str, Any]:
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    error: dict[str, Any] = resp.json()["error"]
    return error
