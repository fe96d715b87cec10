"""OpenAI sizes on xAI, end to end: normalization → XaiAdapter → the xAI simulator.

xai.md §5.2: "No ``size``: map OpenAI sizes to ``aspect_ratio`` (+``resolution``) … anything else
→ nearest ratio from the 13 supported; ``>~1.5 MP`` → ``resolution:"2k"``." The simulator answers
``size`` with xAI's own 400, so a size must arrive as a ratio and a tier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from providers.spec import Completed
from providers.xai.adapter import XaiAdapter
from simulator.xai_rules import output_size
from simulator.xai_state import XaiState
from tests.generation.calls import planned_call
from tests.providers.xai.calls import QUALITY, SIM_KEY, STANDARD, V2, endpoint

KEY = SIM_KEY

# model, OpenAI size, aspect_ratio and resolution sent, warned
CASES = [
    (STANDARD, "1792x1024", "16:9", "2k", True),
    (STANDARD, "1024x1792", "9:16", "2k", True),
    (STANDARD, "1536x1024", "3:2", "2k", False),
    (STANDARD, "1024x1024", "1:1", "1k", False),
    (QUALITY, "1024x1536", "2:3", "2k", False),
    (QUALITY, "1280x720", "16:9", "1k", False),
    (V2, "1792x1024", "16:9", "2k", True),
    (V2, "1000x3000", "9:20", "2k", True),
]


@pytest.fixture
async def adapter(simulator: tuple[str, XaiState]) -> AsyncIterator[XaiAdapter]:
    async with httpx.AsyncClient() as http:
        yield XaiAdapter(http, api_key=KEY, base_url=simulator[0])


@pytest.mark.parametrize(("model_id", "size", "ratio", "tier", "warned"), CASES)
async def test_a_size_goes_up_as_the_nearest_ratio_and_its_pixel_tier(
    adapter: XaiAdapter,
    sim: XaiState,
    model_id: str,
    size: str,
    ratio: str,
    tier: str,
    warned: bool,
) -> None:
    norm, call = planned_call(endpoint(model_id), model_id, size=size)
    assert bool(norm.warnings) == warned
    events = [event async for event in adapter.run(call)]
    done = events[-1]
    assert isinstance(done, Completed)
    (entry,) = [e for e in sim.log.entries if e["method"] == "POST"]
    assert entry["status"] == 200
    body = entry["body"]
    assert "size" not in body
    assert (body["aspect_ratio"], body["resolution"]) == (ratio, tier)
    (result,) = done.images
    assert (result.width, result.height) == output_size(ratio, tier)


def test_xai_itself_refuses_size(simulator: tuple[str, XaiState], sim: XaiState) -> None:
    """Why the gateway maps: xAI answers ``size`` with "Argument not supported: size"."""
    resp = httpx.post(
        f"{simulator[0]}/images/generations",
        json={"model": "grok-imagine-image", "prompt": "a fox", "size": "1792x1024"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert resp.status_code == 400 and "size" in resp.text
