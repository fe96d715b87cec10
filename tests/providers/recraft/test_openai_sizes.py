"""OpenAI sizes on Recraft, end to end: normalization → RecraftAdapter → the Recraft simulator.

recraft.md §2.4: "OpenAI → Recraft mapping for a gateway: 1024x1024→1:1, 1536x1024→3:2,
1024x1536→2:3, 1792x1024→16:9, 1024x1792→9:16; send the aspect form so it works for every model
family." The simulator refuses a ``WxH`` outside the model's table, as Recraft does, so these
requests only succeed when the gateway sends the aspect form.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from providers.recraft.adapter import RecraftAdapter
from providers.spec import Completed
from simulator.knobs import SimState
from tests.generation.calls import planned_call
from tests.providers.recraft.calls import endpoint
from tests.simulator.recraft_helpers import LiveRecraft, image

# model, OpenAI size, the aspect form sent, the size Recraft makes (§2.4 table)
CASES = [
    ("recraft/recraft-v4", "1792x1024", "16:9", (1344, 768)),
    ("recraft/recraft-v4", "1024x1792", "9:16", (768, 1344)),
    ("recraft/recraft-v4", "1536x1024", "3:2", (1280, 832)),
    ("recraft/recraft-v4", "1024x1536", "2:3", (832, 1280)),
    ("recraft/recraft-v4", "1024x1024", "1:1", (1024, 1024)),
    ("recraft/recraft-v4.1-flash", "1792x1024", "16:9", (1344, 768)),
    ("recraft/recraft-v4-pro", "1024x1024", "1:1", (2048, 2048)),
    ("recraft/recraft-v4.1-pro", "1024x1024", "1:1", (2048, 2048)),
    ("recraft/recraft-v4.1-utility-pro", "1536x1024", "3:2", (2560, 1664)),
    ("recraft/recraft-v3", "1792x1024", "16:9", (1820, 1024)),
    ("recraft/recraft-v3", "1024x1792", "9:16", (1024, 1820)),
    ("recraft/recraft-v3", "1536x1024", "3:2", (1536, 1024)),
]


def _posts(sim: SimState) -> list[dict[str, Any]]:
    return [e for e in sim.log.entries if e["method"] == "POST"]


@pytest.mark.parametrize(("model_id", "size", "aspect", "made"), CASES)
async def test_an_openai_size_goes_up_in_aspect_form_and_comes_back_at_the_familys_size(
    adapter: RecraftAdapter,
    sim: SimState,
    model_id: str,
    size: str,
    aspect: str,
    made: tuple[int, int],
) -> None:
    norm, call = planned_call(endpoint(model_id), model_id, size=size)
    assert (norm.width, norm.height) == made
    assert bool(norm.warnings) == (size != f"{made[0]}x{made[1]}")
    events = [event async for event in adapter.run(call)]
    done = events[-1]
    assert isinstance(done, Completed)
    (post,) = _posts(sim)
    assert post["status"] == 200
    assert post["body"]["size"] == aspect
    assert post["body"]["model"] == endpoint(model_id).upstream_model
    (result,) = done.images
    assert (result.width, result.height) == made
    assert isinstance(result.b64, str)
    assert image(base64.b64decode(result.b64)).size == made
    assert done.warnings == ()  # the image is the size the gateway announced


async def test_a_vector_model_takes_the_aspect_form_too(
    adapter: RecraftAdapter, sim: SimState
) -> None:
    model_id = "recraft/recraft-v4-pro-vector"
    norm, call = planned_call(endpoint(model_id), model_id, size="1792x1024")
    assert (norm.width, norm.height, norm.size_wire) == (2688, 1536, "16:9")
    events = [event async for event in adapter.run(call)]
    assert isinstance(events[-1], Completed)
    (post,) = _posts(sim)
    assert post["body"]["size"] == "16:9" and post["status"] == 200


def test_recraft_itself_refuses_the_raw_openai_size(live: LiveRecraft, sim: SimState) -> None:
    """Why the gateway maps: the WxH as OpenAI spells it is not a V4 size (§2.4)."""
    resp = live.generate(prompt="a red fox", model="recraftv4", size="1792x1024")
    assert resp.status_code == 400, resp.text
