"""The MAI simulator over real HTTP, shared by the adapter tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.azure_mai import MaiState, create_app
from tests.providers.microsoft.calls import SIM_KEY, SIM_TOKEN
from tests.servers import fresh, served_simulator


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, MaiState]]:
    """(root URL, state) of a simulator that accepts :data:`SIM_KEY` and :data:`SIM_TOKEN`."""
    yield from served_simulator(create_app(api_key=SIM_KEY, token=SIM_TOKEN))


@pytest.fixture
def sim(simulator: tuple[str, MaiState]) -> MaiState:
    return fresh(simulator[1])


@pytest.fixture
def base_url(simulator: tuple[str, MaiState]) -> str:
    return f"{simulator[0]}/mai/v1"
