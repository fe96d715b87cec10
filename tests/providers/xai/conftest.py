"""The xAI simulator over real HTTP, shared by the adapter tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.xai import create_app
from simulator.xai_state import XaiState
from tests.providers.xai.calls import SIM_KEY
from tests.servers import fresh, served_simulator


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, XaiState]]:
    """(base URL, state) of a simulator that accepts :data:`SIM_KEY`."""
    yield from served_simulator(create_app(api_key=SIM_KEY), "/v1")


@pytest.fixture
def sim(simulator: tuple[str, XaiState]) -> XaiState:
    return fresh(simulator[1])
