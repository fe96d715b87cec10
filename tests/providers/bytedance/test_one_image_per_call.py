"""Seedream's n images are n one-image calls (bytedance.md §2, §7), never one ``auto`` call.

``sequential_image_generation: "auto"`` "lets the model decide how many images to return, up
to max_images" (§2): "with auto the count is not guaranteed" (§7). The deterministic way is
"N parallel calls with disabled" (§7), which is what Vercel does (maxImagesPerCall = 1, §2). So
the shipped catalog makes one image per call and the gateway fans n out; a one-image call sends
no sequential field (the default is ``disabled``; 5.0 pro refuses the field outright).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.generation.normalize import Normalized, normalize
from app.generation.request import ImageGenerationRequest
from providers.bytedance.adapter import SeedreamAdapter
from providers.bytedance.translate import build_request
from providers.spec import Completed, GenerateCall, GenerationEvent, PartialImage
from tests.providers.bytedance.calls import CATALOG, LITE, PRO, V40, V45, call, endpoint
from tests.providers.bytedance.live import Sim

SEEDREAM = [V40, V45, LITE, PRO]
SEQUENTIAL = {"sequential_image_generation", "sequential_image_generation_options"}
URL_REF = {"type": "image_url", "image_url": {"url": "https://x.test/ref.png"}}


def fit(model: str, **fields: Any) -> Normalized:
    request = ImageGenerationRequest.model_validate({"model": model, "prompt": "p", **fields})
    return normalize(request, endpoint(model))


def fanned_out(model: str, norm: Normalized, prompt: str, **overrides: Any) -> list[GenerateCall]:
    """The calls the gateway makes for ``norm``: one per batch, at the placed size."""
    return [
        call(prompt, model, n=n, width=norm.width, height=norm.height, **overrides)
        for n in norm.batches
    ]


# -- catalog and normalization ---------------------------------------------------------------


def test_every_seedream_model_is_here() -> None:
    served = {m.id for m in CATALOG.models() if any(e.provider_slug == "seed" for e in m.endpoints)}
    assert served == set(SEEDREAM)


@pytest.mark.parametrize("model", SEEDREAM)
def test_one_image_per_call_on_every_model(model: str) -> None:
    assert endpoint(model).max_images_per_call == 1


@pytest.mark.parametrize("model", SEEDREAM)
@pytest.mark.parametrize(("n", "references"), [(3, 0), (4, 0), (10, 0), (3, 9)])
def test_n_fans_out_into_one_image_batches(model: str, n: int, references: int) -> None:
    refs = [URL_REF] * references
    norm = fit(model, n=n, **({"input_references": refs} if refs else {}))
    assert norm.batches == (1,) * n


# -- the request body ------------------------------------------------------------------------


@pytest.mark.parametrize("model", SEEDREAM)
def test_no_call_asks_for_sequential_generation(model: str) -> None:
    norm = fit(model, n=4, aspect_ratio="1:1")
    bodies = [build_request(c) for c in fanned_out(model, norm, "four")]
    assert len(bodies) == 4
    for body in bodies:
        assert not SEQUENTIAL & set(body), body.keys()
        assert body["size"] == f"{norm.width}x{norm.height}"


def test_a_streamed_one_image_call_sends_no_sequential_field() -> None:
    body = build_request(call(model_id=V45, width=2560, height=1440, stream=True))
    assert body["stream"] is True and not SEQUENTIAL & set(body)


# -- over real HTTP: the Seedream simulator --------------------------------------------------


async def events_of(adapter: SeedreamAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


def posted(sim: Sim) -> list[dict[str, Any]]:
    return [e["body"] for e in sim.state.log.entries if e["method"] == "POST"]


@pytest.mark.parametrize("model", SEEDREAM)
async def test_n_concurrent_calls_make_exactly_n_images(
    adapter: SeedreamAdapter, sim: Sim, model: str
) -> None:
    """``[sim:fewer=1]`` is an "auto" call returning fewer than asked: it cannot bite any more."""
    norm = fit(model, n=3, aspect_ratio="16:9")
    calls = fanned_out(model, norm, "three kites [sim:fewer=1]")
    runs = await asyncio.gather(*(events_of(adapter, c) for c in calls))
    results = [events[-1] for events in runs]
    assert all(isinstance(r, Completed) and len(r.images) == 1 for r in results)
    assert sum(r.usage.images for r in results if isinstance(r, Completed)) == 3
    bodies = posted(sim)
    assert len(bodies) == 3
    assert all(not SEQUENTIAL & set(b) for b in bodies)
    assert all(b["size"] == f"{norm.width}x{norm.height}" for b in bodies)


@pytest.mark.parametrize("model", [V40, V45, LITE])  # 5.0 pro does not stream
async def test_streamed_n_is_one_streamed_call_per_image(
    adapter: SeedreamAdapter, sim: Sim, model: str
) -> None:
    norm = fit(model, n=2)
    partials = 0
    for generate in fanned_out(model, norm, "two streamed", stream=True):
        events = await events_of(adapter, generate)
        partials += sum(isinstance(e, PartialImage) for e in events)
        done = events[-1]
        assert isinstance(done, Completed) and len(done.images) == 1
    assert partials == 2
    bodies = posted(sim)
    assert len(bodies) == 2
    assert all(b["stream"] is True and not SEQUENTIAL & set(b) for b in bodies)
