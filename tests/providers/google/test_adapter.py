"""GoogleAdapter over real HTTP: the Gemini simulator (simulator/google.py) on a loopback port.

Failures are driven with the simulator's knobs and ``[sim:…]`` prompt directives; every error
shape of the reference maps to the right ProviderError.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
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
from providers.google.adapter import GoogleAdapter
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent
from simulator.google import create_app
from simulator.knobs import SimState
from tests.providers.google.calls import call, decode, reference
from tests.servers import free_port, fresh, served_simulator

KEY = "AIzaSy-adapter-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, SimState]]:
    yield from served_simulator(create_app(api_key=KEY))


@pytest.fixture
def sim(simulator: tuple[str, SimState]) -> SimState:
    return fresh(simulator[1])


@pytest.fixture
def adapter(
    client: httpx.AsyncClient, simulator: tuple[str, SimState], sim: SimState
) -> GoogleAdapter:
    return GoogleAdapter(client, api_key=KEY, base_url=f"{simulator[0]}/v1beta")


async def collect(adapter: GoogleAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


async def completed(adapter: GoogleAdapter, generate: GenerateCall) -> Completed:
    events = await collect(adapter, generate)
    assert [type(e) for e in events] == [Accepted, Completed]
    done = events[-1]
    assert isinstance(done, Completed)
    return done


def last(sim: SimState) -> dict[str, Any]:
    entry: dict[str, Any] = sim.log.entries[-1]
    return entry


# ---------------------------------------------------------------------------------------------
# Success
# ---------------------------------------------------------------------------------------------


async def test_flash_2k_16_9_with_references(adapter: GoogleAdapter, sim: SimState) -> None:
    refs = (reference(64, 48, "PNG"), reference(40, 40, "JPEG"))
    done = await completed(
        adapter,
        call(
            "a lighthouse",
            aspect_ratio="16:9",
            resolution="2K",
            resolution_wire="2K",
            seed=11,
            input_images=refs,
            options={"thinking_level": "minimal"},
        ),
    )
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/jpeg", 2752, 1536)
    assert decode(image.b64).size == (2752, 1536)
    usage = done.usage
    assert usage.output_image_tokens == 1680
    assert usage.output_text_tokens == 272  # 3.1 flash's hidden remainder, no thinking
    assert (usage.input_text_tokens, usage.input_image_tokens) == (3, 2 * 1120)
    assert (usage.images, usage.pixels, usage.input_images) == (1, 2752 * 1536, 2)
    assert done.upstream_id == last(sim)["request_id"]

    entry = last(sim)
    assert entry["path"] == "/v1beta/models/gemini-3.1-flash-image:generateContent"
    assert entry["headers"]["x-goog-api-key"] == "<redacted>" and entry["query"] == {}
    body = entry["body"]
    parts = body["contents"][0]["parts"]
    assert parts[0] == {"text": "a lighthouse"}
    assert [p["inlineData"]["mimeType"] for p in parts[1:]] == ["image/png", "image/jpeg"]
    assert all(p["inlineData"]["data"]["base64"] == "standard" for p in parts[1:])
    assert body["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
        "seed": 11,
        "thinkingConfig": {"thinkingLevel": "MINIMAL"},
    }


async def test_nano_banana_answers_png(adapter: GoogleAdapter, sim: SimState) -> None:
    done = await completed(adapter, call(model="gemini-2.5-flash-image", aspect_ratio="3:2"))
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/png", 1248, 832)
    assert done.usage.output_image_tokens == 1290
    assert done.usage.output_text_tokens == 8  # the caption text part
    assert "imageSize" not in last(sim)["body"]["generationConfig"]["imageConfig"]


async def test_pro_thought_draft_is_skipped(adapter: GoogleAdapter) -> None:
    done = await completed(
        adapter,
        call("a poster [sim:thoughts]", model="gemini-3-pro-image", resolution_wire="4K"),
    )
    assert len(done.images) == 1
    assert (done.images[0].width, done.images[0].height) == (4096, 4096)
    assert done.usage.output_image_tokens == 2000
    assert done.usage.output_text_tokens == 99 + 167


async def test_key_goes_in_the_header_only(adapter: GoogleAdapter, sim: SimState) -> None:
    await completed(adapter, call())
    entry = last(sim)
    assert "key" not in entry["query"] and "?" not in entry["path"]
    assert KEY not in orjson.dumps(sim.log.entries).decode()


# ---------------------------------------------------------------------------------------------
# Refusals (200 answers without an image)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("directive", "cls", "needle"),
    [
        ("[sim:block]", ContentModerated, "PROHIBITED_CONTENT"),
        ("[sim:moderate]", ContentModerated, "PROHIBITED_CONTENT"),
        ("[sim:image_safety]", ContentModerated, "IMAGE_SAFETY"),
        ("[sim:moderate=output]", ContentModerated, "IMAGE_SAFETY"),
        ("[sim:no_image]", ContentModerated, "NO_IMAGE"),
        ("[sim:finish=image_prohibited_content]", ContentModerated, "IMAGE_PROHIBITED_CONTENT"),
        ("[sim:text_only]", ContentModerated, "I can't create that image"),
        ("[sim:finish=image_other]", Unavailable, "IMAGE_OTHER"),
        ("[sim:finish=brand_new_reason]", Unavailable, "BRAND_NEW_REASON"),
    ],
)
async def test_refusals(
    adapter: GoogleAdapter, directive: str, cls: type[ProviderError], needle: str
) -> None:
    with pytest.raises(cls) as info:
        await collect(adapter, call(f"a scene {directive}"))
    assert type(info.value) is cls
    assert needle in info.value.message
    assert info.value.provider == "google-ai-studio"


# ---------------------------------------------------------------------------------------------
# HTTP errors
# ---------------------------------------------------------------------------------------------


async def test_wrong_key_is_auth_error(
    client: httpx.AsyncClient, simulator: tuple[str, SimState]
) -> None:
    wrong = GoogleAdapter(
        client, api_key="AIzaSy-wrong-key-000000000000000", base_url=f"{simulator[0]}/v1beta"
    )
    with pytest.raises(AuthError) as info:
        await collect(wrong, call())
    assert info.value.status_code == 400 and info.value.code == "API_KEY_INVALID"
    assert "wrong-key" not in info.value.message


async def test_rate_limited_with_retry_delay(adapter: GoogleAdapter, sim: SimState) -> None:
    sim.knobs.retry_after_s = 34.4
    with pytest.raises(RateLimited) as info:
        await collect(adapter, call("busy [sim:429]"))
    assert info.value.retry_after == pytest.approx(34.4) and info.value.status_code == 429


async def test_limit_zero_is_insufficient_credit(adapter: GoogleAdapter) -> None:
    with pytest.raises(InsufficientCredit) as info:
        await collect(adapter, call("free tier [sim:quota]"))
    assert "limit: 0" in info.value.message


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequest),
        (401, AuthError),
        (403, AuthError),
        (404, Unavailable),
        (500, Unavailable),
        (503, Unavailable),
        (504, Unavailable),
    ],
)
async def test_status_mapping(
    adapter: GoogleAdapter, status: int, cls: type[ProviderError]
) -> None:
    with pytest.raises(cls) as info:
        await collect(adapter, call(f"x [sim:{status}]"))
    assert type(info.value) is cls and info.value.status_code == status


async def test_fail_next_knob(adapter: GoogleAdapter, sim: SimState) -> None:
    sim.knobs.fail_next = [503]
    with pytest.raises(Unavailable, match="overloaded"):
        await collect(adapter, call())
    assert len((await completed(adapter, call())).images) == 1


async def test_unknown_model_is_unavailable_not_the_callers_fault(adapter: GoogleAdapter) -> None:
    with pytest.raises(Unavailable, match="is not found for API version v1beta") as info:
        await collect(adapter, call(model="gemini-0-image"))
    assert type(info.value) is Unavailable and info.value.status_code == 404


async def test_lowercase_tier_from_a_bad_catalog_is_refused_upstream(
    adapter: GoogleAdapter,
) -> None:
    with pytest.raises(InvalidRequest, match="2k"):
        await collect(adapter, call(resolution_wire="2k"))


async def test_html_404_from_a_wrong_base_url(
    client: httpx.AsyncClient, simulator: tuple[str, SimState]
) -> None:
    wrong = GoogleAdapter(client, api_key=KEY, base_url=f"{simulator[0]}/v2")
    with pytest.raises(Unavailable, match="HTML page"):
        await collect(wrong, call())


@pytest.mark.parametrize("directive", ["[sim:malformed]", "[sim:truncate]", "[sim:reset]"])
async def test_broken_answers_are_protocol_errors(adapter: GoogleAdapter, directive: str) -> None:
    with pytest.raises(ProtocolError) as info:
        await collect(adapter, call(f"x {directive}"))
    assert info.value.retryable


async def test_timeout_is_upstream_timeout(
    client: httpx.AsyncClient, simulator: tuple[str, SimState], sim: SimState
) -> None:
    slow = GoogleAdapter(
        client,
        api_key=KEY,
        base_url=f"{simulator[0]}/v1beta",
        timeout=httpx.Timeout(5.0, read=0.3),
    )
    with pytest.raises(UpstreamTimeout):
        await collect(slow, call("x [sim:sleep=1]"))


async def test_connection_refused_is_unavailable(client: httpx.AsyncClient) -> None:
    dead = GoogleAdapter(client, api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1beta")
    with pytest.raises(Unavailable):
        await collect(dead, call())


def test_repr_hides_the_key(client: httpx.AsyncClient) -> None:
    assert KEY not in repr(GoogleAdapter(client, api_key=KEY))
