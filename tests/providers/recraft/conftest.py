"""The Recraft simulator and an adapter pointed at it, shared by the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers.recraft.adapter import RecraftAdapter
from simulator.knobs import SimState
from tests.simulator.recraft_helpers import API_KEY, LiveRecraft


@pytest.fixture(scope="module")
def live() -> Iterator[LiveRecraft]:
    with LiveRecraft() as sim:
        yield sim


@pytest.fixture
def sim(live: LiveRecraft) -> SimState:
    return live.reset().state


@pytest.fixture
def adapter(live: LiveRecraft, client: httpx.AsyncClient) -> RecraftAdapter:
    return RecraftAdapter(client, api_key=API_KEY, base_url=f"{live.url}/v1")
