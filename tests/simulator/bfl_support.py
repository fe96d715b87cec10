"""A live BFL simulator on a loopback port and plain-httpx helpers for its tests."""

from __future__ import annotations

import base64
import io
import time
from typing import Any

import httpx
from PIL import Image

from simulator.bfl import BflSimState, create_app
from tests.servers import ServerThread

KEY = "bfl-sim-test-key"
IN_PROGRESS = ("Pending", "Generating", "Queued")


class LiveBfl:
    """The simulator app on a real port (so ``localhost`` and ``127.0.0.1`` both reach it)."""

    def __init__(self) -> None:
        self.app = create_app(api_key=KEY)
        self.server = ServerThread(self.app, lifespan="off").start()
        self.url = self.server.url  # http://127.0.0.1:<port>
        self.http = httpx.Client(timeout=10)

    @property
    def state(self) -> BflSimState:
        state: BflSimState = self.app.state.sim
        return state

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    def submit(
        self, model: str = "flux-2-pro", key: str | None = KEY, **body: Any
    ) -> httpx.Response:
        headers = {"x-key": key} if key is not None else {}
        body.setdefault("prompt", "a lighthouse at dusk")
        return self.http.post(f"{self.url}/v1/{model}", json=body, headers=headers)

    def task(self, model: str = "flux-2-pro", **body: Any) -> dict[str, Any]:
        resp = self.submit(model, **body)
        assert resp.status_code == 200, resp.text
        answer: dict[str, Any] = resp.json()
        return answer

    def poll(self, polling_url: str, key: str | None = KEY) -> httpx.Response:
        headers = {"x-key": key} if key is not None else {}
        return self.http.get(polling_url, headers=headers)

    def statuses_until_done(self, polling_url: str, limit_s: float = 10) -> list[dict[str, Any]]:
        """Every poll answer (200/202) until a terminal status, polling every 20 ms."""
        answers: list[dict[str, Any]] = []
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            resp = self.poll(polling_url)
            assert resp.status_code in (200, 202), resp.text
            answers.append(resp.json())
            if answers[-1]["status"] not in IN_PROGRESS:
                return answers
            time.sleep(0.02)
        raise AssertionError(f"task still in progress after {limit_s} s: {answers[-1]}")

    def ready(self, model: str = "flux-2-pro", **body: Any) -> dict[str, Any]:
        """Submit, poll to the end, and return the final ``Ready`` answer."""
        answer = self.task(model, **body)
        final = self.statuses_until_done(answer["polling_url"])[-1]
        assert final["status"] == "Ready", final
        return final


def png_b64(width: int, height: int, color: str = "blue") -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
