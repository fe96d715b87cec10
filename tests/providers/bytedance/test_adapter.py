"""SeedreamAdapter over real HTTP: the Seedream simulator (simulator/bytedance.py) on a loopback
port, plus a few hand-written servers for answers the simulator never gives.

Failures are driven with the simulator's knobs and ``[sim:…]`` prompt directives.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time

import httpx
import pytest
from PIL import Image

from providers.bytedance.adapter import SeedreamAdapter
from providers.bytedance.errors import DEFAULT_RETRY_AFTER_S
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
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent, PartialImage
from simulator.bytedance_output import watermarked
from tests.providers.bytedance.calls import LITE, PRO, V40, V45, call, endpoint, reference
from tests.providers.bytedance.live import KEY, Sim
from tests.servers import free_port


async def collect(adapter: SeedreamAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


async def done_of(adapter: SeedreamAdapter, generate: GenerateCall) -> Completed:
    events = await collect(adapter, generate)
    assert isinstance(events[0], Accepted)
    last = events[-1]
    assert isinstance(last, Completed)
    return last


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


# -- buffered ------------------------------------------------------------------------------------


async def test_one_image_at_the_requested_size_without_watermark(
    adapter: SeedreamAdapter, sim: Sim
) -> None:
    events = await collect(adapter, call("a red fox"))
    accepted, done = events
    assert isinstance(accepted, Accepted) and accepted.upstream_id
    assert accepted.upstream_id == sim.state.log.entries[-1]["request_id"]
    assert isinstance(done, Completed) and done.upstream_id == accepted.upstream_id
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 1280, 720)
    assert decode(image.b64).size == (1280, 720)
    assert not watermarked(base64.b64decode(image.b64))
    assert done.usage.images == 1 and done.usage.pixels == 1280 * 720
    assert done.usage.output_image_tokens == 0 and done.warnings == ()
    body = sim.last_body()
    assert body == {
        "model": "seedream-4-0-250828",
        "prompt": "a red fox",
        "response_format": "b64_json",
        "watermark": False,
        "size": "1280x720",
    }
    entry = sim.state.log.entries[-1]
    assert entry["path"] == "/api/v3/images/generations"
    assert entry["headers"]["authorization"] == "Bearer <redacted>"


async def test_references_reach_the_image_field(adapter: SeedreamAdapter, sim: Sim) -> None:
    await done_of(adapter, call(input_images=(reference(),)))
    assert sim.last_body()["image"]["data_url"] == "data:image/png;base64,…"
    done = await done_of(adapter, call(input_images=(reference(), reference(32, 32, "JPEG"))))
    logged = sim.last_body()["image"]
    assert [i["data_url"] for i in logged] == [
        "data:image/png;base64,…",
        "data:image/jpeg;base64,…",
    ]
    assert done.usage.input_images == 2 and done.usage.input_pixels == 64 * 64 + 32 * 32


async def test_png_on_5_0_lite(adapter: SeedreamAdapter, sim: Sim) -> None:
    generate = call(model_id=LITE, width=2560, height=1440, output_format="png")
    (image,) = (await done_of(adapter, generate)).images
    assert image.media_type == "image/png" and decode(image.b64).format == "PNG"
    assert sim.last_body()["output_format"] == "png"


async def test_several_images_in_one_sequential_call(adapter: SeedreamAdapter, sim: Sim) -> None:
    done = await done_of(adapter, call(n=3))
    assert len(done.images) == 3 and done.usage.images == 3
    assert len({image.b64 for image in done.images}) == 3
    assert sim.state.log.count == 1
    assert sim.last_body()["sequential_image_generation_options"] == {"max_images": 3}


async def test_a_partial_failure_keeps_and_bills_the_rest(adapter: SeedreamAdapter) -> None:
    done = await done_of(adapter, call("three [sim:fail_images=1]", n=3))
    assert len(done.images) == 2 and done.usage.images == 2
    assert done.usage.pixels == 2 * 1280 * 720
    assert done.warnings == (
        "1 of 3 images failed upstream (OutputImageSensitiveContentDetected) and are not billed",
    )


async def test_fewer_images_than_asked_is_a_warning(adapter: SeedreamAdapter) -> None:
    done = await done_of(adapter, call("four [sim:fewer=2]", n=4))
    assert len(done.images) == 2 and done.usage.images == 2
    assert done.warnings == ("upstream returned 2 of 4 requested images",)


@pytest.mark.parametrize(
    ("prompt", "error"),
    [
        ("all bad [sim:moderate=output]", ContentModerated),
        ("first dies [sim:item_error=0]", Unavailable),
    ],
)
async def test_no_image_at_all_is_an_error(
    adapter: SeedreamAdapter, prompt: str, error: type[ProviderError]
) -> None:
    with pytest.raises(error) as info:
        await collect(adapter, call(prompt, n=2))
    assert info.value.provider == "seed" and info.value.upstream_request_id


async def test_url_mode_downloads_the_result(client: httpx.AsyncClient, sim: Sim) -> None:
    urls = SeedreamAdapter(client, api_key=KEY, base_url=sim.base_url)
    generate = call(endpoint=endpoint(fixed={"response_format": "url"}), n=2)
    done = await done_of(urls, generate)
    assert [decode(i.b64).size for i in done.images] == [(1280, 720)] * 2
    downloads = [e for e in sim.state.log.entries if e["method"] == "GET"]
    assert downloads == []  # file downloads are not API calls; the log holds only the POST
    sim.app.state.files.ttl_s = 0.0
    with pytest.raises(ProtocolError, match="403") as info:
        await collect(urls, generate)
    # both images were generated (usage.generated_images): the failure carries their charge
    assert info.value.charge is not None and info.value.charge.images == 2


# -- streaming -----------------------------------------------------------------------------------


async def test_stream_relays_each_image_then_one_completed(
    adapter: SeedreamAdapter, sim: Sim
) -> None:
    sim.state.knobs.partial_delay_s = 0.3
    seen: list[tuple[type, float]] = []
    start = time.monotonic()
    async for event in adapter.run(call("streamed", n=3, stream=True)):
        seen.append((type(event), time.monotonic() - start))
        if isinstance(event, Completed):
            done = event
    assert [kind for kind, _ in seen] == [
        Accepted,
        PartialImage,
        PartialImage,
        PartialImage,
        Completed,
    ]
    assert seen[-1][1] - seen[1][1] >= 0.5  # the first image came out before the others existed
    assert len(done.images) == 3 and done.usage.images == 3
    assert sim.last_body()["stream"] is True
    assert sim.state.log.entries[-1]["stream"] in ("finished", "client_closed")


async def test_partial_images_carry_the_index_and_format(adapter: SeedreamAdapter) -> None:
    events = await collect(adapter, call("two", n=2, stream=True))
    partials = [e for e in events if isinstance(e, PartialImage)]
    assert [p.index for p in partials] == [0, 1]
    assert all(p.media_type == "image/jpeg" and decode(p.b64).size == (1280, 720) for p in partials)


async def test_a_failed_image_does_not_abort_the_stream(adapter: SeedreamAdapter) -> None:
    events = await collect(adapter, call("three [sim:fail_images=0]", n=3, stream=True))
    partials = [e for e in events if isinstance(e, PartialImage)]
    assert [p.index for p in partials] == [1, 2]
    done = events[-1]
    assert isinstance(done, Completed) and len(done.images) == 2 and done.usage.images == 2
    assert "1 of 3 images failed upstream" in done.warnings[0]


async def test_all_failed_in_a_stream_is_moderation(adapter: SeedreamAdapter) -> None:
    with pytest.raises(ContentModerated):
        await collect(adapter, call("bad [sim:moderate=output]", n=2, stream=True))


async def test_a_truncated_stream_is_a_protocol_error_after_the_partials(
    adapter: SeedreamAdapter,
) -> None:
    seen: list[GenerationEvent] = []
    with pytest.raises(ProtocolError, match="truncated"):
        async for event in adapter.run(call("cut [sim:truncate]", n=2, stream=True)):
            seen.append(event)
    assert [type(e) for e in seen] == [Accepted, PartialImage, PartialImage]


async def test_a_stream_level_error_after_an_image(adapter: SeedreamAdapter) -> None:
    done = (await collect(adapter, call("x [sim:stream_error]", n=2, stream=True)))[-1]
    assert isinstance(done, Completed) and len(done.images) == 1
    assert "stopped with an upstream error" in done.warnings[0]


@pytest.mark.parametrize(
    ("directive", "cls", "code"),
    [
        # bytedance.md §4: the stream-level error is {"code": "BadRequest", …}: the caller's
        ("[sim:stream_error]", InvalidRequest, "BadRequest"),
        ("[sim:stream_error=internalserviceerror]", Unavailable, "InternalServiceError"),
        ("[sim:stream_error=ratelimitexceeded.endpointrpmexceeded]", RateLimited,
         "RateLimitExceeded.EndpointRPMExceeded"),
    ],
)  # fmt: skip
async def test_a_stream_level_error_before_any_image(
    adapter: SeedreamAdapter, directive: str, cls: type[ProviderError], code: str
) -> None:
    """The first image fails (not billed), then the stream stops: the stream error decides."""
    seen: list[GenerationEvent] = []
    with pytest.raises(ProviderError) as info:
        async for event in adapter.run(call(f"x [sim:fail_images=0] {directive}", stream=True)):
            seen.append(event)
    err = info.value
    assert type(err) is cls and err.code == code and err.status_code is None
    assert err.retryable is (cls is not InvalidRequest)
    assert err.upstream_request_id and [type(e) for e in seen] == [Accepted]


async def test_validation_errors_in_stream_mode_are_plain_json(
    adapter: SeedreamAdapter, sim: Sim
) -> None:
    with pytest.raises(InvalidRequest) as info:
        await collect(adapter, call(width=1, height=1, stream=True))
    assert info.value.status_code == 400 and "size" in info.value.message
    with pytest.raises(InvalidRequest):  # 5.0 pro has no stream (the gateway never asks)
        await collect(adapter, call(model_id=PRO, stream=True))


async def test_closing_early_cancels_the_upstream_stream(
    adapter: SeedreamAdapter, sim: Sim
) -> None:
    sim.state.knobs.partial_delay_s = 1.0
    events = adapter.run(call("long", n=4, stream=True))
    assert isinstance(await anext(events), Accepted)
    assert isinstance(await anext(events), PartialImage)
    await events.aclose()
    deadline = time.monotonic() + 3
    while sim.state.log.entries[-1].get("stream") != "client_closed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("missingparameter", InvalidRequest),
        ("invalidparameter", InvalidRequest),
        ("invalidendpoint.closedendpoint", Unavailable),
        ("sensitivecontentdetected", ContentModerated),
        ("sensitivecontentdetected.severeviolation", ContentModerated),
        ("sensitivecontentdetected.violence", ContentModerated),
        ("inputtextsensitivecontentdetected", ContentModerated),
        ("inputimagesensitivecontentdetected", ContentModerated),
        ("outputimagesensitivecontentdetected", ContentModerated),
        ("authenticationerror", AuthError),
        ("accountoverdueerror", InsufficientCredit),
        ("accessdenied", AuthError),
        ("invalidendpoint.notfound", Unavailable),
        ("unsupportedmodel", Unavailable),
        ("modelnotopen", Unavailable),
        ("ratelimitexceeded.endpointrpmexceeded", RateLimited),
        ("ratelimitexceeded.endpointtpmexceeded", RateLimited),
        ("ratelimitexceeded.endpointipmexceeded", RateLimited),
        ("internalserviceerror", Unavailable),
        ("serviceunavailable", Unavailable),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_every_error_shape_maps(
    adapter: SeedreamAdapter, code: str, error: type[ProviderError], stream: bool
) -> None:
    with pytest.raises(error) as info:
        await collect(adapter, call(f"x [sim:error={code}]", stream=stream))
    assert (info.value.code or "").lower() == code
    assert info.value.upstream_request_id and info.value.provider == "seed"


async def test_a_model_seedream_does_not_have_is_unavailable_not_the_callers_fault(
    adapter: SeedreamAdapter,
) -> None:
    generate = call(endpoint=endpoint(V40, upstream_model="seedream-0-0-nonexistent"))
    with pytest.raises(Unavailable) as info:
        await collect(adapter, generate)
    assert type(info.value) is Unavailable and info.value.status_code == 404
    assert info.value.retryable


@pytest.mark.parametrize(
    ("directive", "error"),
    [
        ("[sim:429]", RateLimited),
        ("[sim:500]", Unavailable),
        ("[sim:503]", Unavailable),
        ("[sim:quota]", InsufficientCredit),
        ("[sim:moderate]", ContentModerated),
        ("[sim:reset]", ProtocolError),
        ("[sim:malformed]", ProtocolError),
        ("[sim:truncate]", ProtocolError),
    ],
)
async def test_shared_directives(
    adapter: SeedreamAdapter, directive: str, error: type[ProviderError]
) -> None:
    with pytest.raises(error) as info:
        await collect(adapter, call(f"a storm {directive}"))
    if error is RateLimited:
        assert info.value.retry_after == DEFAULT_RETRY_AFTER_S


async def test_wrong_key_is_an_auth_error_without_the_key(
    client: httpx.AsyncClient, sim: Sim
) -> None:
    wrong = SeedreamAdapter(client, api_key="ark-wrong-key-9999", base_url=sim.base_url)
    with pytest.raises(AuthError) as info:
        await collect(wrong, call())
    assert info.value.status_code == 401 and "ark-wrong-key-9999" not in str(info.value)
    assert "ark-wrong-key-9999" not in repr(wrong) and KEY not in repr(wrong)


async def test_a_slow_answer_times_out(client: httpx.AsyncClient, sim: Sim) -> None:
    quick = SeedreamAdapter(
        client, api_key=KEY, base_url=sim.base_url, timeout=httpx.Timeout(5.0, read=0.3)
    )
    with pytest.raises(UpstreamTimeout):
        await collect(quick, call("slow [sim:sleep=1]"))


async def test_nobody_listening_is_unavailable(client: httpx.AsyncClient) -> None:
    gone = SeedreamAdapter(client, api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/api/v3")
    with pytest.raises(Unavailable):
        await collect(gone, call())


async def test_45_call_sends_only_what_the_model_takes(adapter: SeedreamAdapter, sim: Sim) -> None:
    await done_of(adapter, call(model_id=V45, width=2560, height=1440, seed=3, quality="high"))
    assert set(sim.last_body()) == {"model", "prompt", "response_format", "watermark", "size"}
