"""A live Gemini simulator on a loopback port, driven with plain httpx."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from simulator.google import create_app
from simulator.knobs import SimState
from tests.servers import ServerThread

KEY = "AIzaSy-simulator-test-key-0123456789ab"
HEADERS = {"x-goog-api-key": KEY}
FLASH = "/v1beta/models/gemini-3.1-flash-image:generateContent"


class GoogleSim:
    def __init__(self) -> None:
        self.app = create_app(api_key=KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.url = self.server.url

    @property
    def state(self) -> SimState:
        state: SimState = self.app.state.sim
        return state


# Fixtures are registered under their short names; test modules import the functions (whose
# names differ, so parameters do not shadow the imports).


@pytest.fixture(scope="session", name="google_live")
def google_live_fixture() -> Iterator[GoogleSim]:
    sim = GoogleSim()
    with sim.server:
        yield sim


@pytest.fixture(name="gsim")
def gsim_fixture(google_live: GoogleSim) -> GoogleSim:
    google_live.state.reset()
    return google_live


@pytest.fixture(name="http")
def http_fixture(gsim: GoogleSim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gsim.url, timeout=30) as client:
        yield client


def body(prompt: str = "a cat", *parts: dict[str, Any], **config: Any) -> dict[str, Any]:
    """A request as the reference's §2 example builds it."""
    payload: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": prompt}, *parts]}],
    }
    generation: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"], **config}
    payload["generationConfig"] = generation
    return payload


def image_config(ratio: str | None = None, size: str | None = None) -> dict[str, str]:
    out = {}
    if ratio is not None:
        out["aspectRatio"] = ratio
    if size is not None:
        out["imageSize"] = size
    return out


def png(width: int = 64, height: int = 48, color: str = "blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def inline(data: bytes, mime: str = "image/png") -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def decode(data: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    image.load()
    return image


def images(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The final image parts (inlineData, not thought) of a buffered answer."""
    parts = answer["candidates"][0]["content"].get("parts", [])
    return [p for p in parts if "inlineData" in p and not p.get("thought")]


def error(resp: httpx.Response, code: int, status: str) -> dict[str, Any]:
    assert resp.status_code == code, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    err: dict[str, Any] = resp.json()["error"]
    assert (err["code"], err["status"]) == (code, status)
    assert err["message"]
    return err
