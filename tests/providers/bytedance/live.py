"""The Seedream simulator over real HTTP, for the adapter tests of this folder."""

from __future__ import annotations

from typing import Any

from simulator.bytedance import create_app
from simulator.knobs import SimState
from tests.servers import ServerThread

KEY = "ark-sim-adapter-test-key"


class Sim:
    def __init__(self) -> None:
        self.app = create_app(api_key=KEY)
        self.server = ServerThread(self.app, lifespan="off")
        self.base_url = f"{self.server.url}/api/v3"

    @property
    def state(self) -> SimState:
        state: SimState = self.app.state.sim
        return state

    def last_body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.state.log.entries[-1]["body"]
        return body
