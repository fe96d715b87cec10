"""Every Seedream model end to end: official OpenRouter SDK → gateway → Seedream simulator.

Costs are computed by hand from the catalog's per-image prices (bytedance.md §6), written out
here: Seedream bills per successfully generated image, whatever its size.
"""

from __future__ import annotations

import base64
import time
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from openrouter import OpenRouter

from app.catalog import load_catalog
from simulator.bytedance_output import watermarked
from tests.conftest import MASTER_KEY, SimServer
from tests.e2e.helpers import decode, generation, png_data_url
from tests.servers import ServerThread

# model -> (a tier it offers, the pixel range it accepts, USD per image)
SEEDREAM: dict[str, tuple[str, tuple[int, int], Decimal]] = {
    "bytedance-seed/seedream-4.0": ("1K", (921_600, 16_777_216), Decimal("0.03")),
    "bytedance-seed/seedream-4.5": ("2K", (3_686_400, 16_777_216), Decimal("0.04")),
    "bytedance-seed/seedream-5.0-lite": ("2K", (3_686_400, 9_437_184), Decimal("0.035")),
    # USD price unknown (§6): the catalog's placeholder is 4.5's $0.04
    "bytedance-seed/seedream-5.0-pro": ("1K", (921_600, 4_624_220), Decimal("0.04")),
}
UPSTREAM = {
    "bytedance-seed/seedream-4.0": "seedream-4-0-250828",
    "bytedance-seed/seedream-4.5": "seedream-4-5-251128",
    "bytedance-seed/seedream-5.0-lite": "seedream-5-0-260128",
    "bytedance-seed/seedream-5.0-pro": "dola-seedream-5-0-pro-260628",
}
TIER_PIXELS = {"1K": 1024**2, "2K": 2048**2}
ONLY_SEED: dict[str, Any] = {"only": ["seed"], "allow_fallbacks": False}


@pytest.fixture
def seedream(simulators: SimServer) -> Any:
    state = simulators.sim("bytedance")
    state.reset()
    return state


class Sdk:
    """The official SDK over an httpx client that notes each ``x-generation-id``."""

    def __init__(self, gateway: ServerThread) -> None:
        self.generation_ids: list[str] = []
        self.last: httpx.Response | None = None
        self.http = httpx.Client(timeout=60, event_hooks={"response": [self._note]})
        self.client = OpenRouter(
            api_key=MASTER_KEY, server_url=f"{gateway.url}/api/v1", client=self.http
        )

    def _note(self, response: httpx.Response) -> None:
        gid = response.headers.get("x-generation-id")
        if gid:
            self.generation_ids.append(gid)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
            self.last = response

    def __enter__(self) -> Sdk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    @property
    def images(self) -> Any:
        return self.client.images


def _sdk(gateway: ServerThread) -> Sdk:
    return Sdk(gateway)


def _posts(state: Any) -> list[dict[str, Any]]:
    return [e for e in state.log.entries if e["method"] == "POST"]


def test_every_seedream_model_is_covered() -> None:
    catalog = load_catalog()
    served = {m.id for m in catalog.models() if any(e.provider_slug == "seed" for e in m.endpoints)}
    assert served == set(SEEDREAM)


@pytest.mark.parametrize("model", sorted(SEEDREAM))
def test_model_generates_the_requested_shape_at_its_per_image_price(
    sim_gateway: ServerThread, seedream: Any, model: str
) -> None:
    tier, (low, high), price = SEEDREAM[model]
    with _sdk(sim_gateway) as client:
        result = client.images.generate(
            model=model,
            prompt="shape check",
            aspect_ratio="16:9",
            resolution=tier,
            provider=ONLY_SEED,
        )
    (item,) = result.data
    image = decode(item.b64_json)
    width, height = image.size
    assert abs(width / height - 16 / 9) < 0.02, image.size
    assert low <= width * height <= high
    assert abs(width * height - min(max(TIER_PIXELS[tier], low), high)) / (width * height) < 0.05
    assert item.media_type == "image/jpeg" and image.format == "JPEG"
    assert not watermarked(base64.b64decode(item.b64_json))

    (call,) = _posts(seedream)
    assert call["path"] == "/bytedance/api/v3/images/generations"
    body = call["body"]
    assert body["model"] == UPSTREAM[model] and body["size"] == f"{width}x{height}"
    assert (body["watermark"], body["response_format"]) == (False, "b64_json")
    assert not {"seed", "n", "quality", "guidance_scale", "stream"} & set(body)

    assert result.usage is not None
    assert Decimal(str(result.usage.cost)) == price
    assert result.usage.completion_tokens == 0  # output_tokens is informational only
    (gid,) = client.generation_ids
    row = generation(sim_gateway.url, gid)
    assert row["status"] == "succeeded" and row["images"] == 1
    assert Decimal(row["cost_usd"]) == price


def test_png_output_on_5_0(sim_gateway: ServerThread, seedream: Any) -> None:
    with _sdk(sim_gateway) as client:
        result = client.images.generate(
            model="bytedance-seed/seedream-5.0-lite",
            prompt="png please",
            output_format="png",
            provider=ONLY_SEED,
        )
    assert result.data[0].media_type == "image/png"
    assert decode(result.data[0].b64_json).format == "PNG"
    assert _posts(seedream)[0]["body"]["output_format"] == "png"


@pytest.mark.parametrize("model", sorted(SEEDREAM))
def test_several_images_are_one_call_each_billed_per_image(
    sim_gateway: ServerThread, seedream: Any, model: str
) -> None:
    """n images are n one-image calls: "auto" only bounds the count (bytedance.md §2, §7), and a
    one-image call sends no sequential field at all (its default, "disabled", is one image)."""
    tier, _, price = SEEDREAM[model]
    with _sdk(sim_gateway) as client:
        result = client.images.generate(
            model=model,
            prompt="a set of three [sim:fewer=1]",  # what "auto" may do; "disabled" cannot
            n=3,
            resolution=tier,
            provider=ONLY_SEED,
        )
    assert len(result.data) == 3
    calls = _posts(seedream)
    assert len(calls) == 3
    for call in calls:
        assert not {"sequential_image_generation", "sequential_image_generation_options"} & set(
            call["body"]
        )
    assert result.usage is not None and Decimal(str(result.usage.cost)) == 3 * price


def test_a_failed_call_among_several_bills_only_the_images_made(
    sim_gateway: ServerThread, seedream: Any
) -> None:
    seedream.knobs.fail_next = [200, 200, 500]  # one of the three concurrent calls fails
    with _sdk(sim_gateway) as client:
        result = client.images.generate(
            model="bytedance-seed/seedream-4.0",
            prompt="three, one lost",
            n=3,
            resolution="1K",
            provider=ONLY_SEED,
        )
    assert len(result.data) == 2
    assert result.usage is not None and Decimal(str(result.usage.cost)) == Decimal("0.06")
    assert client.last is not None
    (warning,) = client.last.json()["warnings"]  # the caller learns why one image is missing
    assert "1 of 3 images failed upstream and are not billed" in warning, warning
    row = generation(sim_gateway.url, client.generation_ids[-1])
    assert row["images"] == 2 and Decimal(row["cost_usd"]) == Decimal("0.06")


def test_every_image_refused_is_a_403_at_no_cost(sim_gateway: ServerThread, seedream: Any) -> None:
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={
            "model": "bytedance-seed/seedream-4.0",
            "prompt": "nothing survives [sim:moderate=output]",
            "n": 2,
            "provider": ONLY_SEED,
        },
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=60,
    )
    assert resp.status_code == 403, resp.text
    row = generation(sim_gateway.url, resp.headers["x-generation-id"])
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == 0


def test_sdk_stream_relays_each_image_as_it_arrives(
    sim_gateway: ServerThread, seedream: Any
) -> None:
    seedream.knobs.latency_s = 0.6  # each one-image call takes 0.6 s
    arrivals: list[float] = []
    events: list[Any] = []
    with _sdk(sim_gateway) as client:
        stream = client.images.generate(
            model="bytedance-seed/seedream-4.0",
            prompt="two streamed",
            n=2,
            resolution="1K",
            stream=True,
            provider=ONLY_SEED,
        )
        for event in stream:
            arrivals.append(time.monotonic())
            events.append(event)
    assert arrivals[1] - arrivals[0] >= 0.4, "the first image waited for the second"
    types = [getattr(e, "type", None) for e in events]
    assert types == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
        "image_generation.completed",
    ]
    assert [decode(e.b64_json).size for e in events[:2]] == [decode(events[2].b64_json).size] * 2
    usage = events[-1].usage
    assert usage is not None and Decimal(str(usage.cost)) == 2 * Decimal("0.03")
    calls = _posts(seedream)  # one streamed call per image, one after another
    assert len(calls) == 2
    assert all(c["body"]["stream"] is True and c["stream"] == "finished" for c in calls)


def test_a_stream_cut_after_its_images_is_an_error_that_bills_them(
    sim_gateway: ServerThread, seedream: Any
) -> None:
    """The first call's image arrived (as a partial image), then its stream broke before
    `completed`: Seedream generated, and bills, it; the failure records that charge, not $0,
    and no further call is made once a partial image reached the client."""
    body = {
        "model": "bytedance-seed/seedream-4.0",
        "prompt": "two then a cut [sim:truncate]",
        "n": 2,
        "resolution": "1K",
        "stream": True,
        "provider": ONLY_SEED,
    }
    gid, events = _stream_events(sim_gateway.url, body)
    assert [e["type"] for e in events] == ["image_generation.partial_image", "error"]
    assert len(_posts(seedream)) == 1
    row = generation(sim_gateway.url, gid)
    assert row["status"] == "failed" and Decimal(row["cost_usd"]) == Decimal("0.03")


def test_a_later_streamed_batch_failing_keeps_the_images_already_made(
    sim_gateway: ServerThread, seedream: Any
) -> None:
    """n=6 streams as six one-image calls, one after the other; the fourth fails: the 3 images
    made (and billed) by the first three are the answer, not an error that loses them."""
    seedream.knobs.fail_next = [200, 200, 200, 500]
    body = {
        "model": "bytedance-seed/seedream-4.0",
        "prompt": "six, then a failure",
        "n": 6,
        "resolution": "1K",
        "stream": True,
        "provider": ONLY_SEED,
    }
    gid, events = _stream_events(sim_gateway.url, body)
    types = [e["type"] for e in events]
    assert types == ["image_generation.partial_image"] * 3 + ["image_generation.completed"] * 3
    calls = _posts(seedream)
    assert len(calls) == 4  # no call after the one that failed
    assert not any("sequential_image_generation" in c["body"] for c in calls)
    row = generation(sim_gateway.url, gid)
    assert row["status"] == "succeeded"
    assert row["images"] == 3 and Decimal(row["cost_usd"]) == 3 * Decimal("0.03")


def test_5_0_pro_is_never_asked_to_stream(sim_gateway: ServerThread, seedream: Any) -> None:
    """5.0 pro rejects `stream` (§1): the gateway serves a stream request buffered."""
    resp = httpx.post(
        f"{sim_gateway.url}/api/v1/images",
        json={
            "model": "bytedance-seed/seedream-5.0-pro",
            "prompt": "no stream here",
            "stream": True,
            "provider": ONLY_SEED,
        },
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=60,
    )
    assert resp.status_code == 200, resp.text
    assert "stream" not in _posts(seedream)[0]["body"]


def test_references_travel_in_the_image_field(sim_gateway: ServerThread, seedream: Any) -> None:
    refs = [
        {"type": "image_url", "image_url": {"url": png_data_url(96, 96, c)}}
        for c in ("red", "blue")
    ]
    with _sdk(sim_gateway) as client:
        result = client.images.generate(
            model="bytedance-seed/seedream-4.5",
            prompt="combine these",
            input_references=refs,
            provider=ONLY_SEED,
        )
    assert len(result.data) == 1
    image = _posts(seedream)[0]["body"]["image"]
    assert [i["data_url"] for i in image] == ["data:image/png;base64,…"] * 2


def test_many_references_go_with_each_one_image_call(
    sim_gateway: ServerThread, seedream: Any
) -> None:
    """References + generated images ≤ 15 per call (§2): 13 references and one image fit."""
    refs = [{"type": "image_url", "image_url": {"url": png_data_url(32, 32)}}] * 13
    with _sdk(sim_gateway) as client:
        result = client.images.generate(
            model="bytedance-seed/seedream-4.0",
            prompt="many references",
            n=3,
            resolution="1K",
            input_references=refs,
            provider=ONLY_SEED,
        )
    assert len(result.data) == 3
    calls = [c["body"] for c in _posts(seedream)]
    assert len(calls) == 3
    assert not any("sequential_image_generation_options" in c for c in calls)
    assert all(len(c["image"]) == 13 for c in calls)
    assert result.usage is not None and Decimal(str(result.usage.cost)) == 3 * Decimal("0.03")


def _stream_events(url: str, body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A streamed generation's id and its events (the final ``[DONE]`` left out)."""
    with httpx.stream(
        "POST",
        f"{url}/api/v1/images",
        json=body,
        headers={"authorization": f"Bearer {MASTER_KEY}"},
        timeout=60,
    ) as resp:
        assert resp.status_code == 200
        gid = resp.headers["x-generation-id"]
        payloads = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    return gid, [orjson.loads(p) for p in payloads[:-1]]
