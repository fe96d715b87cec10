"""XaiAdapter over real HTTP: the xAI simulator (simulator/xai.py) on a loopback port.

Failures are driven with the simulator's knobs, wire switches and ``[sim:…]`` directives; a
small hand-written server covers answers the simulator never gives (a foreign result URL).
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    RateLimited,
    Unavailable,
    UpstreamTimeout,
)
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent
from providers.xai.adapter import XaiAdapter
from simulator.xai_state import XaiState
from tests.providers.xai.calls import QUALITY, SIM_KEY, V2, call, endpoint, image_b64, reference
from tests.servers import ServerThread, free_port

KEY = SIM_KEY


@pytest.fixture
def base_url(simulator: tuple[str, XaiState]) -> str:
    return simulator[0]


@pytest.fixture
def adapter(client: httpx.AsyncClient, base_url: str, sim: XaiState) -> XaiAdapter:
    return XaiAdapter(client, api_key=KEY, base_url=base_url)


async def collect(adapter: XaiAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


async def done(adapter: XaiAdapter, generate: GenerateCall) -> Completed:
    events = await collect(adapter, generate)
    assert isinstance(events[0], Accepted) and len(events) == 2
    assert isinstance(events[-1], Completed)
    return events[-1]


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def last(sim: XaiState) -> dict[str, Any]:
    entry: dict[str, Any] = sim.log.entries[-1]
    return entry


# ------------------------------------------------------------------------------------------
# Success
# ------------------------------------------------------------------------------------------


async def test_generation_with_data_uri_b64(adapter: XaiAdapter, sim: XaiState) -> None:
    result = await done(
        adapter, call("a red fox", n=2, aspect_ratio="16:9", resolution="1K", resolution_wire="1k")
    )
    assert len(result.images) == 2
    for image in result.images:
        assert (image.media_type, image.width, image.height) == ("image/jpeg", 1360, 768)
        assert not image.b64.startswith("data:")
        assert decode(image.b64).size == (1360, 768)
    assert result.usage.images == 2 and result.usage.pixels == 2 * 1360 * 768
    assert result.usage.provider_cost_usd == Decimal("0.04")  # 2 x 200_000_000 ticks
    entry = last(sim)
    assert entry["path"] == "/v1/images/generations"
    assert entry["headers"]["content-type"] == "application/json"
    assert entry["body"] == {
        "model": "grok-imagine-image",
        "prompt": "a red fox",
        "n": 2,
        "response_format": "b64_json",
        "aspect_ratio": "16:9",
        "resolution": "1k",
    }


async def test_bare_b64_and_other_encodings(adapter: XaiAdapter, sim: XaiState) -> None:
    sim.wire.b64_data_uri = False
    sim.wire.image_format = "png"
    image = (await done(adapter, call())).images[0]
    assert image.media_type == "image/png" and decode(image.b64).format == "PNG"
    sim.wire.send_mime_type = False
    sim.wire.image_format = "webp"
    image = (await done(adapter, call())).images[0]
    assert image.media_type == "image/webp" and (image.width, image.height) == (1024, 1024)


async def test_2_0_sends_quality_and_costs_its_tier(adapter: XaiAdapter, sim: XaiState) -> None:
    generate = call(model_id=V2, quality="low", resolution="2K", resolution_wire="2k")
    result = await done(adapter, generate)
    assert result.usage.provider_cost_usd == Decimal("0.048")
    assert (result.images[0].width, result.images[0].height) == (2048, 2048)
    assert last(sim)["body"]["quality"] == "low"


async def test_quality_model_never_gets_quality(adapter: XaiAdapter, sim: XaiState) -> None:
    result = await done(adapter, call(model_id=QUALITY, quality="low"))
    assert result.usage.provider_cost_usd == Decimal("0.05")
    assert "quality" not in last(sim)["body"]


async def test_edit_with_one_reference(adapter: XaiAdapter, sim: XaiState) -> None:
    result = await done(adapter, call("make it blue", input_images=(reference(300, 200),)))
    assert result.usage.input_images == 1 and result.usage.input_pixels == 300 * 200
    assert result.usage.provider_cost_usd == Decimal("0.04")  # output + input image
    assert (result.images[0].width, result.images[0].height) == (1248, 832)  # auto: 3:2
    entry = last(sim)
    assert entry["path"] == "/v1/images/edits"
    assert entry["body"]["image"]["type"] == "image_url"
    assert entry["body"]["image"]["url"]["data_url"] == "image/png;base64"
    assert "images" not in entry["body"]


async def test_edit_with_three_references(adapter: XaiAdapter, sim: XaiState) -> None:
    refs = (reference(), reference(20, 20, "JPEG"), reference(10, 30, "WEBP"))
    result = await done(adapter, call(model_id=V2, n=2, input_images=refs))
    assert result.usage.provider_cost_usd == Decimal("0.156")  # 2 x 0.048 + 3 x 0.02
    body = last(sim)["body"]
    assert len(body["images"]) == 3 and "image" not in body


async def test_url_answers_are_downloaded(adapter: XaiAdapter, sim: XaiState) -> None:
    """An operator pinning ``response_format: url`` (fixed) still gets the images inline."""
    spec = endpoint(fixed={"response_format": "url"})
    result = await done(adapter, call(endpoint=spec, n=2))
    assert [decode(i.b64).format for i in result.images] == ["JPEG", "JPEG"]
    assert result.images[0].media_type == "image/jpeg" and result.images[0].width == 1024
    assert last(sim)["body"]["response_format"] == "url"


async def test_an_expired_url_is_a_protocol_error(adapter: XaiAdapter, sim: XaiState) -> None:
    sim.wire.url_ttl_s = 0.0
    with pytest.raises(ProtocolError, match="HTTP 404"):
        await collect(adapter, call(endpoint=endpoint(fixed={"response_format": "url"})))


async def test_without_ticks_the_catalog_prices(adapter: XaiAdapter) -> None:
    result = await done(adapter, call("x [sim:noticks]"))
    assert result.usage.provider_cost_usd is None and result.usage.images == 1


# ------------------------------------------------------------------------------------------
# Silent moderation
# ------------------------------------------------------------------------------------------


async def test_input_block_is_content_moderated(adapter: XaiAdapter) -> None:
    seen: list[GenerationEvent] = []
    with pytest.raises(ContentModerated, match="blocked by input moderation") as info:
        async for event in adapter.run(call("bad [sim:moderate]")):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["Accepted"]
    assert info.value.code == "no_image" and not info.value.retryable


@pytest.mark.parametrize(
    ("form", "field", "fragment"),
    [
        ("empty_data", "reason", ": The prompt was blocked by input moderation."),
        ("no_data", "block_reason", ": The prompt was blocked by input moderation."),
        ("no_data", "moderation_message", ": The prompt was blocked by input moderation."),
        ("no_data", "", "xAI returned no image (blocked by moderation)"),
        ("empty_data", "", "xAI returned no image (blocked by moderation)"),
    ],
)
async def test_every_form_of_a_silent_input_block_is_content_moderated(
    adapter: XaiAdapter, sim: XaiState, form: str, field: str, fragment: str
) -> None:
    """xai.md §2.3/§7: the reason's field name is unknown; §5.5: no image is a content-policy
    error, never a broken answer to retry on another endpoint."""
    sim.wire.input_block, sim.wire.block_reason_field = form, field
    with pytest.raises(ContentModerated) as info:
        await collect(adapter, call("bad [sim:block]"))
    assert fragment in info.value.message and info.value.code == "no_image"
    assert not info.value.retryable and info.value.provider == "xai"


@pytest.mark.parametrize("style", ["documented", "prose", "snake"])
async def test_an_input_block_answered_as_a_400_is_content_moderated(
    adapter: XaiAdapter, sim: XaiState, style: str
) -> None:
    """xai.md §7: the HTTP status of an input block is an open question."""
    sim.wire.input_block, sim.wire.code_style = "error_400", style
    seen: list[GenerationEvent] = []
    with pytest.raises(ContentModerated) as info:
        async for event in adapter.run(call("a forbidden thing")):
            seen.append(event)
    assert seen == [] and info.value.status_code == 400 and not info.value.retryable
    assert info.value.message == "The prompt was blocked by input moderation."
    assert info.value.code == "invalid_argument"


async def test_output_moderation_is_content_moderated(adapter: XaiAdapter) -> None:
    with pytest.raises(ContentModerated) as info:
        await collect(adapter, call("bad [sim:moderate=output]", n=2))
    assert info.value.code == "respect_moderation"


async def test_some_withheld_returns_the_others(adapter: XaiAdapter) -> None:
    result = await done(adapter, call("some [sim:withhold=2]", n=3))
    assert len(result.images) == 1 and result.usage.images == 1
    # the simulator bills all 3 slots (withheld ones too) in its ticks, 3 x $0.02: the cost
    assert result.usage.provider_cost_usd == Decimal("0.06")
    assert "withheld 2 of 3" in result.warnings[0]


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["documented", "prose", "hyphen", "snake"])
@pytest.mark.parametrize("key", ["xai-bad", "xai-wrong-but-long-key-0123"])
async def test_bad_key_is_an_auth_error(
    client: httpx.AsyncClient, base_url: str, sim: XaiState, key: str, style: str
) -> None:
    sim.wire.code_style = style
    bad = XaiAdapter(client, api_key=key, base_url=base_url)
    with pytest.raises(AuthError) as info:
        await collect(bad, call())
    err = info.value
    assert err.status_code == 400 and err.retryable and err.code == "invalid_argument"
    assert "Incorrect API key provided: ***." in err.message
    for shown in (key, key[:2] + "***" + key[-2:]):
        assert shown not in str(err) and shown not in repr(err.raw)
    assert key not in repr(bad)


@pytest.mark.parametrize(
    ("prompt", "cls", "status", "code"),
    [
        ("x [sim:quota]", InsufficientCredit, 403, "permission_denied"),
        ("x [sim:403]", AuthError, 403, "permission_denied"),
        ("x [sim:500]", Unavailable, 500, "internal"),
        ("x [sim:503]", Unavailable, 503, "unavailable"),
        ("x [sim:408]", Unavailable, 408, "deadline_exceeded"),
        ("x [sim:404]", Unavailable, 404, "not_found"),
    ],
)
async def test_error_statuses(
    adapter: XaiAdapter, prompt: str, cls: type[Exception], status: int, code: str
) -> None:
    with pytest.raises(cls) as info:
        await collect(adapter, call(prompt))
    assert getattr(info.value, "status_code", None) == status
    assert getattr(info.value, "code", None) == code


async def test_rate_limited_with_retry_after(adapter: XaiAdapter, sim: XaiState) -> None:
    sim.knobs.retry_after_s = 2.0
    with pytest.raises(RateLimited) as info:
        await collect(adapter, call("busy [sim:429]"))
    assert info.value.retry_after == 2.0 and info.value.code == "resource_exhausted"


async def test_size_sent_by_an_operator_is_a_400(adapter: XaiAdapter) -> None:
    with pytest.raises(InvalidRequest, match="Argument not supported: size"):
        await collect(adapter, call(endpoint=endpoint(fixed={"size": "1024x1024"})))


async def test_unknown_field_is_a_plain_text_422(adapter: XaiAdapter) -> None:
    with pytest.raises(InvalidRequest) as info:
        await collect(adapter, call(endpoint=endpoint(fixed={"output_format": "png"})))
    assert info.value.status_code == 422
    assert "unknown field `output_format`" in info.value.message


async def test_unknown_model_is_unavailable_not_the_callers_fault(adapter: XaiAdapter) -> None:
    with pytest.raises(Unavailable, match="grok-9") as info:
        await collect(adapter, call(endpoint=endpoint(upstream_model="grok-9")))
    assert type(info.value) is Unavailable and info.value.status_code == 404


@pytest.mark.parametrize("directive", ["[sim:malformed]", "[sim:truncate]", "[sim:reset]"])
async def test_broken_answers_are_protocol_errors(adapter: XaiAdapter, directive: str) -> None:
    with pytest.raises(ProtocolError) as info:
        await collect(adapter, call(f"x {directive}"))
    assert info.value.retryable and info.value.provider == "xai"


async def test_read_timeout_is_upstream_timeout(client: httpx.AsyncClient, base_url: str) -> None:
    slow = XaiAdapter(client, api_key=KEY, base_url=base_url, timeout=httpx.Timeout(5.0, read=0.2))
    with pytest.raises(UpstreamTimeout):
        await collect(slow, call("wait [sim:sleep=1]"))


async def test_connection_refused_is_unavailable(client: httpx.AsyncClient) -> None:
    dead = XaiAdapter(client, api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(Unavailable) as info:
        await collect(dead, call())
    assert KEY not in str(info.value)


async def test_closing_while_waiting_does_not_hang(adapter: XaiAdapter, sim: XaiState) -> None:
    sim.knobs.latency_s = 2.0
    stream = adapter.run(call("slow"))
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(stream.aclose(), timeout=1.0)


# ------------------------------------------------------------------------------------------
# Answers the simulator never gives
# ------------------------------------------------------------------------------------------


async def _foreign_url(_: Request) -> Response:
    body = {"data": [{"url": "https://images.example.com/x.jpeg", "respect_moderation": True}]}
    return Response(orjson.dumps(body), media_type="application/json")


async def _request_id(_: Request) -> Response:
    body = {"data": [{"b64_json": image_b64(20, 10)}], "usage": {"cost_in_usd_ticks": 7}}
    return Response(
        orjson.dumps(body), media_type="application/json", headers={"x-request-id": "xr-1"}
    )


@pytest.fixture(scope="module")
def odd_server() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/foreign/images/generations", _foreign_url, methods=["POST"]),
            Route("/rid/images/generations", _request_id, methods=["POST"]),
        ]
    )
    with ServerThread(app, lifespan="off") as server:
        yield server.url


async def test_a_result_url_on_another_host_is_refused(
    client: httpx.AsyncClient, odd_server: str
) -> None:
    odd = XaiAdapter(client, api_key=KEY, base_url=f"{odd_server}/foreign")
    with pytest.raises(ProtocolError, match="unexpected host"):
        await collect(odd, call())


async def test_request_id_header_is_the_upstream_id(
    client: httpx.AsyncClient, odd_server: str
) -> None:
    odd = XaiAdapter(client, api_key=KEY, base_url=f"{odd_server}/rid")
    events = await collect(odd, call())
    assert events[0] == Accepted("xr-1")
    result = events[-1]
    assert isinstance(result, Completed) and result.upstream_id == "xr-1"
    assert result.usage.provider_cost_usd == Decimal("0.0000000007")
