"""RecraftAdapter over real HTTP: the Recraft simulator (simulator/recraft.py) on a loopback port.

Failures are driven with the simulator's knobs and ``[sim:…]`` prompt directives; each error
shape of the reference (§4) must come out as the right ``ProviderError``.
"""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
    UpstreamTimeout,
)
from providers.recraft.adapter import RecraftAdapter
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent
from simulator.knobs import SimState
from tests.providers.recraft.calls import call, endpoint, raster, reference
from tests.servers import free_port
from tests.simulator.recraft_helpers import API_KEY, LiveRecraft, image


async def _events(adapter: RecraftAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


async def _done(adapter: RecraftAdapter, generate: GenerateCall) -> Completed:
    events = await _events(adapter, generate)
    assert isinstance(events[0], Accepted) and isinstance(events[-1], Completed)
    return events[-1]


def _posts(sim: SimState) -> list[dict[str, Any]]:
    return [e for e in sim.log.entries if e["method"] == "POST"]


# --- success ----------------------------------------------------------------------------------


async def test_raster_images_are_downloaded_and_described(
    adapter: RecraftAdapter, sim: SimState
) -> None:
    done = await _done(adapter, call(n=2, size_wire="16:9", width=1344, height=768))
    assert len(done.images) == 2
    for item in done.images:
        decoded = image(base64.b64decode(item.b64))
        assert (item.media_type, item.width, item.height) == ("image/webp", 1344, 768)
        assert decoded.size == (1344, 768) and decoded.format == "WEBP"
    assert done.usage.images == 2 and done.usage.pixels == 2 * 1344 * 768
    assert done.usage.provider_cost_usd == Decimal("0.08")  # 2 x 40 units
    (post,) = _posts(sim)
    assert post["path"] == "/v1/images/generations"
    assert post["headers"]["authorization"] == "Bearer <redacted>"
    assert post["body"] == {
        "prompt": "a red fox", "model": "recraftv4", "n": 2, "response_format": "url",
        "size": "16:9",
    }  # fmt: skip
    downloads = [e for e in sim.log.entries if e["method"] == "GET"]
    assert len(downloads) == 2 and all(e["path"].startswith("/img/") for e in downloads)
    assert all("authorization" not in e["headers"] for e in downloads)  # the key stays home
    assert [e["status"] for e in downloads] == [200, 200]
    assert done.upstream_id is not None


async def test_no_key_goes_to_recraft_image_hosts_even_the_api_host() -> None:
    """On Recraft's real host names: the POST carries the key, no image download does, also
    when a result URL names the API host itself."""
    png = raster(64, 64)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            data = [
                {"image_id": "a", "url": "https://img.recraft.ai/a.png"},
                {"image_id": "b", "url": "https://external.api.recraft.ai/v1/files/b.png"},
            ]
            return httpx.Response(200, json={"created": 1, "credits": 80, "data": data})
        return httpx.Response(200, content=png, headers={"content-type": "image/png"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        adapter = RecraftAdapter(http, api_key=API_KEY)
        done = await _done(adapter, call(n=2))
    assert len(done.images) == 2
    assert [(r.method, r.url.host, "authorization" in r.headers) for r in seen] == [
        ("POST", "external.api.recraft.ai", True),
        ("GET", "img.recraft.ai", False),
        ("GET", "external.api.recraft.ai", False),
    ]


async def test_png_output_format(adapter: RecraftAdapter, sim: SimState) -> None:
    done = await _done(adapter, call("recraft/recraft-v4.1-pro", output_format="png"))
    assert done.images[0].media_type == "image/png"
    assert (done.images[0].width, done.images[0].height) == (2048, 2048)
    assert _posts(sim)[0]["body"]["image_format"] == "png"


async def test_vector_model_returns_svg_markup(adapter: RecraftAdapter, sim: SimState) -> None:
    done = await _done(
        adapter,
        call("recraft/recraft-v4-pro-vector", output_format="svg", size_wire="9:16"),
    )
    (svg,) = done.images
    assert svg.media_type == "image/svg+xml"
    assert base64.b64decode(svg.b64).decode().startswith("<svg ")
    assert b"<svg" in base64.b64decode(svg.b64)
    assert (svg.width, svg.height) == (1536, 2688)
    assert done.usage.provider_cost_usd == Decimal("0.3")
    assert "image_format" not in _posts(sim)[0]["body"]


async def test_b64_json_answers_are_read_too(
    adapter: RecraftAdapter, sim: SimState, live: LiveRecraft
) -> None:
    pinned = endpoint("recraft/recraft-v4-vector", fixed={"response_format": "b64_json"})
    done = await _done(adapter, GenerateCall(endpoint=pinned, prompt="icons"))
    assert done.images[0].media_type == "image/svg+xml"
    assert _posts(sim)[0]["body"]["response_format"] == "b64_json"
    assert not [e for e in sim.log.entries if e["method"] == "GET"]  # nothing to download


async def test_style_passthrough_reaches_recraft(adapter: RecraftAdapter, sim: SimState) -> None:
    options = {"style": "realistic_image", "substyle": "hdr", "negative_prompt": "text"}
    await _done(adapter, call("recraft/recraft-v3", options=options))
    body = _posts(sim)[0]["body"]
    assert {k: body[k] for k in options} == options


async def test_a_reference_goes_to_image_to_image(adapter: RecraftAdapter, sim: SimState) -> None:
    ref = reference(300, 200)
    done = await _done(
        adapter,
        call("recraft/recraft-v3", input_images=(ref,), size_wire="1:1", width=1024, height=1024),
    )
    (post,) = _posts(sim)
    assert post["path"] == "/v1/images/imageToImage"
    assert post["body"]["strength"] == 0.5 and "size" not in post["body"]
    assert post["body"]["image_url"]["data_url"] is True
    assert (done.images[0].width, done.images[0].height) == (1536, 1024)  # the reference's 3:2
    assert "keeps the reference's proportions" in done.warnings[0]
    assert done.usage.input_images == 1 and done.usage.input_pixels == 300 * 200


async def test_reported_credits_are_the_cost(adapter: RecraftAdapter, sim: SimState) -> None:
    done = await _done(adapter, call(prompt="x [sim:credits=123]", n=2))
    assert done.usage.provider_cost_usd == Decimal("0.123")


async def test_no_file_fetched_carries_the_reported_credits(
    adapter: RecraftAdapter, sim: SimState
) -> None:
    with pytest.raises(ProtocolError) as info:
        await _events(adapter, call(prompt="x [sim:credits=123] [sim:expired]", n=2))
    assert info.value.charge is not None and info.value.charge.images == 2
    assert info.value.charge.provider_cost_usd == Decimal("0.123")
    # nothing charged, nothing billed
    with pytest.raises(ProtocolError) as info:
        await _events(adapter, call(prompt="x [sim:credits=0] [sim:expired]", n=2))
    assert info.value.charge is None


# --- result URLs ------------------------------------------------------------------------------


async def test_a_url_on_a_foreign_host_is_refused(adapter: RecraftAdapter, sim: SimState) -> None:
    with pytest.raises(ProtocolError, match="unexpected host"):
        await _events(adapter, call(prompt="x [sim:foreign]"))
    assert not [e for e in sim.log.entries if e["method"] == "GET"]


async def test_expired_urls(adapter: RecraftAdapter, sim: SimState) -> None:
    with pytest.raises(ProtocolError, match="HTTP 404") as info:
        await _events(adapter, call(prompt="x [sim:expired]", n=2))
    # Recraft made and billed both images (2 x 40 units, recraftv4): the error says so
    assert info.value.charge is not None
    assert info.value.charge.images == 2
    assert info.value.charge.provider_cost_usd == Decimal("0.08")
    done = await _done(adapter, call(prompt="x [sim:expired=1]", n=2))
    assert len(done.images) == 1 and done.usage.images == 1
    assert done.usage.provider_cost_usd is None  # the catalog prices what arrived
    assert "1 of 2 Recraft images could not be fetched" in done.warnings[0]


# --- errors -----------------------------------------------------------------------------------


async def test_wrong_key_is_an_auth_error(live: LiveRecraft, client: httpx.AsyncClient) -> None:
    wrong = RecraftAdapter(client, api_key="rc-wrong-key", base_url=f"{live.url}/v1")
    with pytest.raises(AuthError) as err:
        await _events(wrong, call())
    assert err.value.status_code == 401 and "request unauthorized" in err.value.message
    assert err.value.provider == "recraft" and err.value.retryable


@pytest.mark.parametrize(
    ("directive", "cls", "status"),
    [
        ("[sim:429]", RateLimited, 429),
        ("[sim:quota]", InsufficientCredit, 402),
        ("[sim:moderate]", ContentModerated, 400),
        ("[sim:moderate=output]", ContentModerated, 400),
        ("[sim:500]", Unavailable, 500),
        ("[sim:502]", Unavailable, 502),
        ("[sim:503]", Unavailable, 503),
        ("[sim:401]", AuthError, 401),
        ("[sim:404]", Unavailable, 404),
        ("[sim:400]", InvalidRequest, 400),
    ],
)
async def test_error_answers(
    adapter: RecraftAdapter,
    sim: SimState,
    directive: str,
    cls: type[ProviderError],
    status: int,
) -> None:
    with pytest.raises(ProviderError) as err:
        await _events(adapter, call(prompt=f"a storm {directive}"))
    assert type(err.value) is cls and err.value.status_code == status
    assert API_KEY not in err.value.message
    if status in (429, 503):
        assert err.value.retry_after == 1.0


async def test_validation_error_keeps_recrafts_code(adapter: RecraftAdapter, sim: SimState) -> None:
    with pytest.raises(InvalidRequest) as err:
        await _events(adapter, call(size_wire="7:3"))
    assert err.value.code == "invalid_size" and "recraftv4" in err.value.message


async def test_unknown_upstream_model_is_unavailable(
    adapter: RecraftAdapter, sim: SimState
) -> None:
    gone = GenerateCall(endpoint=endpoint(upstream_model="recraftv9"), prompt="x")
    with pytest.raises(Unavailable) as err:
        await _events(adapter, gone)
    assert err.value.status_code == 404 and err.value.retryable


@pytest.mark.parametrize("directive", ["[sim:malformed]", "[sim:truncate]", "[sim:reset]"])
async def test_broken_answers_are_protocol_errors(
    adapter: RecraftAdapter, sim: SimState, directive: str
) -> None:
    with pytest.raises(ProtocolError):
        await _events(adapter, call(prompt=f"x {directive}"))


async def test_slow_answer_is_an_upstream_timeout(
    live: LiveRecraft, client: httpx.AsyncClient, sim: SimState
) -> None:
    impatient = RecraftAdapter(
        client, api_key=API_KEY, base_url=f"{live.url}/v1", timeout=httpx.Timeout(5, read=0.3)
    )
    with pytest.raises(UpstreamTimeout):
        await _events(impatient, call(prompt="x [sim:sleep=1]"))


async def test_nobody_listening_is_unavailable(client: httpx.AsyncClient) -> None:
    dead = RecraftAdapter(client, api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(Unavailable):
        await _events(dead, call())


async def test_cancelling_stops_the_call(adapter: RecraftAdapter, sim: SimState) -> None:
    task = asyncio.ensure_future(_events(adapter, call(prompt="x [sim:sleep=1]")))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2)


def test_repr_hides_the_key(adapter: RecraftAdapter) -> None:
    assert API_KEY not in repr(adapter) and "recraft" in repr(adapter)
