"""A caller's own size on MAI, end to end: normalization → AzureMaiAdapter → the MAI simulator.

microsoft.md §3: ``width``/``height`` are each ≥ 768 with ``width*height`` under the model's
cap; "either side may exceed 1024 if the product fits, e.g. 768×1365", and "Microsoft states no
multiple-of-16 rule". Such a size is sent as given; a size the gateway derives from
``aspect_ratio`` stays a multiple of 16 (the reference's "safest" advice).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers.microsoft.adapter import AzureMaiAdapter
from providers.spec import Completed
from simulator.azure_mai import MaiState
from tests.generation.calls import planned_call
from tests.providers.microsoft.calls import SIM_KEY, endpoint

# model, request, width and height sent
CASES: list[tuple[str, dict[str, Any], tuple[int, int]]] = [
    ("microsoft/mai-image-2.5", {"size": "768x1365"}, (768, 1365)),  # Microsoft's example
    ("microsoft/mai-image-2.5", {"size": "1365x768"}, (1365, 768)),  # OpenRouter's 16:9
    ("microsoft/mai-image-2.5-flash", {"size": "768x1365"}, (768, 1365)),
    ("microsoft/mai-image-2.5-pro", {"size": "1365x768"}, (1365, 768)),
    ("microsoft/mai-image-2.5", {"size": "1000x1000"}, (1000, 1000)),
    ("microsoft/mai-image-2.6", {"size": "768x1365"}, (768, 1365)),
    ("microsoft/mai-image-2.6-flash", {"size": "1366x1366"}, (1366, 1366)),
    ("microsoft/mai-image-2.5", {"aspect_ratio": "9:16"}, (768, 1360)),  # derived: 16s
    ("microsoft/mai-image-2.6", {"aspect_ratio": "16:9"}, (1360, 768)),
]


@pytest.fixture
def adapter(client: httpx.AsyncClient, base_url: str) -> AzureMaiAdapter:
    return AzureMaiAdapter(client, api_key=SIM_KEY, base_url=base_url)


@pytest.mark.parametrize(("model_id", "fields", "sent"), CASES)
async def test_the_size_is_sent_as_normalized(
    adapter: AzureMaiAdapter,
    sim: MaiState,
    model_id: str,
    fields: dict[str, Any],
    sent: tuple[int, int],
) -> None:
    norm, call = planned_call(endpoint(model_id), model_id, **fields)
    assert (norm.width, norm.height) == sent and norm.warnings == ()
    events = [event async for event in adapter.run(call)]
    done = events[-1]
    assert isinstance(done, Completed)
    (entry,) = sim.log.entries
    assert (entry["body"]["width"], entry["body"]["height"]) == sent
    (image,) = done.images
    assert (image.width, image.height) == sent
