"""The Seedream simulator and an adapter pointed at it, shared by the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers.bytedance.adapter import SeedreamAdapter
from tests.providers.bytedance.live import KEY, Sim


@pytest.fixture(scope="module")
def live_sim() -> Iterator[Sim]:
    sim = Sim()
    with sim.server:
        yield sim


@pytest.fixture
def sim(live_sim: Sim) -> Sim:
    live_sim.state.reset()
    live_sim.app.state.files.ttl_s = 3600.0
    return live_sim


@pytest.fixture
def adapter(client: httpx.AsyncClient, sim: Sim) -> SeedreamAdapter:
    return SeedreamAdapter(client, api_key=KEY, base_url=sim.base_url)
