"""The MAI simulator over real HTTP, shared by the adapter tests of this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from simulator.azure_mai import MaiState, create_app
from tests.providers.microsoft.calls import SIM_KEY, SIM_TOKEN
from tests.servers import ServerThread


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, MaiState]]:
    """(root URL, state) of a simulator that accepts :data:`SIM_KEY` and :data:`SIM_TOKEN`."""
    app = create_app(api_key=SIM_KEY, token=SIM_TOKEN)
    with ServerThread(app, lifespan="off") as server:
        yield server.url, app.state.sim


@pytest.fixture
def sim(simulator: tuple[str, MaiState]) -> MaiState:
    state = simulator[1]
    state.reset()
    return state


@pytest.fixture
def base_url(simulator: tuple[str, MaiState]) -> str:
    return f"{simulator[0]}/mai/v1"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c
