"""OpenAIAdapter over real HTTP: the OpenAI simulator (simulator/openai.py) on a loopback port.

Failures are driven with the simulator's own knobs and ``[sim:…]`` prompt directives.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
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
from providers.openai.adapter import OpenAIAdapter
from providers.spec import (
    Accepted,
    B64Flow,
    B64Pieces,
    B64Text,
    Completed,
    GenerateCall,
    GenerationEvent,
    PartialImage,
)
from simulator.knobs import SimState
from simulator.openai import create_app
from tests.providers.openai.calls import call, endpoint, image_b64, reference
from tests.servers import ServerThread, free_port, fresh, served_simulator

KEY = "sk-sim-adapter-test-key"


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[str, SimState]]:
    yield from served_simulator(create_app(api_key=KEY), "/v1")


@pytest.fixture
def sim(simulator: tuple[str, SimState]) -> SimState:
    return fresh(simulator[1])


@pytest.fixture
def base_url(simulator: tuple[str, SimState]) -> str:
    return simulator[0]


@pytest.fixture
def adapter(client: httpx.AsyncClient, base_url: str, sim: SimState) -> OpenAIAdapter:
    return OpenAIAdapter(client, api_key=KEY, base_url=base_url)


async def collect(adapter: OpenAIAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


def decode(b64: B64Text | B64Flow) -> Image.Image:
    """A relayed image: a large partial arrives as a flow (here ended, as the call ran out), a
    large buffered image as the pieces it arrived in."""
    text = b64.joined() if isinstance(b64, B64Flow | B64Pieces) else b64
    image = Image.open(io.BytesIO(base64.b64decode(text)))
    image.load()
    return image


def last_body(sim: SimState) -> dict[str, Any]:
    body: dict[str, Any] = sim.log.entries[-1]["body"]
    return body


async def test_buffered_generate_returns_decodable_images(
    adapter: OpenAIAdapter, sim: SimState
) -> None:
    events = await collect(
        adapter, call("a red fox", n=2, size_wire="1536x1024", quality="low", output_format="png")
    )
    accepted, done = events
    assert isinstance(accepted, Accepted) and accepted.upstream_id
    assert accepted.upstream_id.startswith("req_")
    assert isinstance(done, Completed) and done.upstream_id == accepted.upstream_id
    assert len(done.images) == 2
    for image in done.images:
        assert (image.media_type, image.width, image.height) == ("image/png", 1536, 1024)
        assert decode(image.b64).size == (1536, 1024)
    assert done.usage.images == 2 and done.usage.pixels == 2 * 1536 * 1024
    assert done.usage.output_image_tokens == 2 * 400  # reference §8.2, low 1536x1024
    assert done.usage.input_text_tokens > 0
    body = last_body(sim)
    assert body["model"] == "gpt-image-1.5" and body["n"] == 2
    assert "response_format" not in body and "style" not in body


async def test_jpeg_with_compression(adapter: OpenAIAdapter, sim: SimState) -> None:
    events = await collect(
        adapter,
        call(size_wire="1024x1024", quality="low", output_format="jpeg", output_compression=60),
    )
    done = events[-1]
    assert isinstance(done, Completed)
    assert done.images[0].media_type == "image/jpeg"
    assert decode(done.images[0].b64).format == "JPEG"
    assert last_body(sim)["output_compression"] == 60


async def test_edit_with_two_references_sends_image_array(
    adapter: OpenAIAdapter, sim: SimState
) -> None:
    refs = (reference(64, 64), reference(48, 48, "JPEG"))
    events = await collect(
        adapter, call("make it blue", input_images=refs, size_wire="1024x1024", quality="low")
    )
    done = events[-1]
    assert isinstance(done, Completed)
    assert decode(done.images[0].b64).size == (1024, 1024)
    assert done.usage.input_images == 2 and done.usage.input_image_tokens > 0
    entry = sim.log.entries[-1]
    assert entry["path"] == "/v1/images/edits"
    assert entry["headers"]["content-type"].startswith("multipart/form-data")
    assert len(entry["body"]["image[]"]) == 2 and "image" not in entry["body"]


async def test_edit_with_one_reference_sends_image(adapter: OpenAIAdapter, sim: SimState) -> None:
    await collect(adapter, call("edit", input_images=(reference(32, 32),), quality="low"))
    body = last_body(sim)
    assert "image" in body and "image[]" not in body


@pytest.mark.parametrize("stream", [False, True])
async def test_generation_drops_input_fidelity_with_a_warning(
    adapter: OpenAIAdapter, sim: SimState, stream: bool
) -> None:
    """Upstream answers 400 ``unknown_parameter`` to ``input_fidelity`` on generations (§2.1,
    §6): it is not sent, and the caller is told."""
    events = await collect(
        adapter,
        call("a fox", stream=stream, quality="low", options={"input_fidelity": "high"}),
    )
    done = events[-1]
    assert isinstance(done, Completed) and len(done.images) == 1
    assert len(done.warnings) == 1 and "input_fidelity" in done.warnings[0]
    entry = sim.log.entries[-1]
    assert entry["path"] == "/v1/images/generations" and entry["status"] == 200
    assert "input_fidelity" not in entry["body"]


async def test_edit_keeps_input_fidelity(adapter: OpenAIAdapter, sim: SimState) -> None:
    events = await collect(
        adapter,
        call("edit", input_images=(reference(),), options={"input_fidelity": "high"}),
    )
    assert isinstance(events[-1], Completed) and events[-1].warnings == ()
    assert last_body(sim)["input_fidelity"] == "high"


@pytest.mark.parametrize("stream", [False, True])
async def test_edit_with_moderation_goes_as_json_with_data_urls(
    adapter: OpenAIAdapter, sim: SimState, stream: bool
) -> None:
    """The multipart edit has no ``moderation`` (§3.1), the JSON form does (§3.3): the caller's
    choice reaches upstream, references and mask as ``data:`` URLs."""
    refs = (reference(64, 48), reference(32, 32, "JPEG"))
    mask = reference(64, 48)
    events = await collect(
        adapter,
        call(
            "make it blue",
            input_images=refs,
            mask=mask,
            stream=stream,
            size_wire="1536x1024",
            quality="low",
            options={"moderation": "low", "input_fidelity": "high", "partial_images": 1},
        ),
    )
    done = events[-1]
    assert isinstance(done, Completed) and done.warnings == ()
    assert decode(done.images[0].b64).size == (1536, 1024)
    assert done.usage.input_images == 2 and done.usage.input_image_tokens > 0
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("PartialImage") == (1 if stream else 0)
    entry = sim.log.entries[-1]
    assert entry["path"] == "/v1/images/edits" and entry["status"] == 200
    assert entry["headers"]["content-type"].startswith("application/json")
    body = entry["body"]
    assert body["moderation"] == "low" and body["input_fidelity"] == "high"
    assert [(i["content_type"], i["bytes"]) for i in body["images"]] == [
        ("image/png", len(refs[0].data)),
        ("image/jpeg", len(refs[1].data)),
    ]
    assert body["mask"]["bytes"] == len(mask.data)
    assert body.get("stream", False) is stream


async def test_edit_without_moderation_stays_multipart(
    adapter: OpenAIAdapter, sim: SimState
) -> None:
    await collect(adapter, call("edit", input_images=(reference(),), mask=reference()))
    entry = sim.log.entries[-1]
    assert entry["headers"]["content-type"].startswith("multipart/form-data")
    assert "moderation" not in entry["body"] and entry["body"]["mask"]["bytes"] > 0


async def test_streaming_yields_partials_before_completed(
    adapter: OpenAIAdapter, sim: SimState
) -> None:
    events = await collect(
        adapter, call("a fox", stream=True, size_wire="1024x1024", quality="low")
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Accepted", "PartialImage", "PartialImage", "Completed"]
    partials = [e for e in events if isinstance(e, PartialImage)]
    assert [p.index for p in partials] == [0, 1]
    assert decode(partials[0].b64).size == (1024, 1024)
    done = events[-1]
    assert isinstance(done, Completed) and isinstance(events[0], Accepted)
    assert done.upstream_id == events[0].upstream_id
    assert done.usage.output_image_tokens == 272 + 2 * 100  # §5.3: +100 per partial
    assert last_body(sim)["partial_images"] == 2


async def test_streaming_n2_edit_with_done_marker(adapter: OpenAIAdapter, sim: SimState) -> None:
    events = await collect(
        adapter,
        call(
            "two [sim:done]",
            n=2,
            stream=True,
            input_images=(reference(),),
            size_wire="1024x1024",
            quality="low",
            options={"partial_images": 1},
        ),
    )
    assert [type(e).__name__ for e in events] == [
        "Accepted",
        "PartialImage",
        "PartialImage",
        "Completed",
    ]
    done = events[-1]
    assert isinstance(done, Completed) and len(done.images) == 2
    assert done.usage.output_image_tokens == 2 * (272 + 100)


@pytest.mark.parametrize("done_marker", ["", " [sim:done]"])
async def test_stream_with_fewer_completed_than_n_returns_them(
    adapter: OpenAIAdapter, sim: SimState, done_marker: str
) -> None:
    """§5.1: only EOF before any ``completed`` is an error; how many ``completed`` events come
    for n > 1 is unverified (§11). What came is answered, with a warning, billed as reported."""
    events = await collect(
        adapter,
        call(
            "three [sim:images=1]" + done_marker,
            n=3,
            stream=True,
            size_wire="1024x1024",
            quality="low",
            options={"partial_images": 1},
        ),
    )
    assert [type(e).__name__ for e in events] == ["Accepted", "PartialImage", "Completed"]
    done = events[-1]
    assert isinstance(done, Completed) and len(done.images) == 1
    assert done.warnings == ("upstream streamed 1 of 3 requested images",)
    assert done.usage.images == 1
    assert done.usage.output_image_tokens == 272 + 100  # the one completed event's usage
    assert done.usage.input_text_tokens > 0
    assert sim.log.entries[-1]["stream"] == "finished"


async def test_buffered_answer_with_fewer_images_than_n(adapter: OpenAIAdapter) -> None:
    events = await collect(adapter, call("two [sim:images=1]", n=2, quality="low"))
    done = events[-1]
    assert isinstance(done, Completed) and len(done.images) == 1
    assert done.warnings == ("upstream returned 1 of 2 requested images",)


async def test_truncated_stream_is_protocol_error(adapter: OpenAIAdapter) -> None:
    seen: list[GenerationEvent] = []
    with pytest.raises(ProtocolError, match="0 of 1") as info:
        async for event in adapter.run(call("cut [sim:truncate]", stream=True, quality="low")):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["Accepted", "PartialImage", "PartialImage"]
    assert info.value.retryable and info.value.upstream_request_id


async def test_rate_limited_with_retry_after(adapter: OpenAIAdapter, sim: SimState) -> None:
    sim.knobs.retry_after_s = 1.25
    with pytest.raises(RateLimited) as info:
        await collect(adapter, call("busy [sim:429]"))
    err = info.value
    assert err.status_code == 429 and err.retry_after == 1.25 and err.retryable
    assert err.code == "rate_limit_exceeded" and err.upstream_request_id


async def test_insufficient_quota_is_not_rate_limited(adapter: OpenAIAdapter) -> None:
    with pytest.raises(InsufficientCredit) as info:
        await collect(adapter, call("broke [sim:quota]"))
    assert info.value.status_code == 429 and info.value.code == "insufficient_quota"


async def test_input_moderation_before_accepted(adapter: OpenAIAdapter) -> None:
    seen: list[GenerationEvent] = []
    with pytest.raises(ContentModerated) as info:
        async for event in adapter.run(call("bad [sim:moderate]")):
            seen.append(event)
    assert seen == []
    assert info.value.code == "moderation_blocked" and not info.value.retryable
    assert info.value.status_code == 400


async def test_output_moderation_mid_stream(adapter: OpenAIAdapter) -> None:
    seen: list[GenerationEvent] = []
    with pytest.raises(ContentModerated) as info:
        async for event in adapter.run(call("x [sim:moderate=output]", stream=True)):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["Accepted", "PartialImage", "PartialImage"]
    assert info.value.code == "moderation_blocked" and info.value.status_code is None


@pytest.mark.parametrize("key", ["sk-bad1", "sk-wrong-but-long-key-0123"])
async def test_bad_key_is_auth_error_and_never_leaks(
    client: httpx.AsyncClient, base_url: str, key: str
) -> None:
    bad = OpenAIAdapter(client, api_key=key, base_url=base_url)
    with pytest.raises(AuthError) as info:
        await collect(bad, call())
    err = info.value
    assert err.status_code == 401 and err.code == "invalid_api_key"
    assert key not in str(err) and key not in repr(err.raw) and key not in repr(bad)


async def test_missing_key_is_auth_error(client: httpx.AsyncClient, base_url: str) -> None:
    with pytest.raises(AuthError):
        await collect(OpenAIAdapter(client, api_key="", base_url=base_url), call())


@pytest.mark.parametrize(
    ("prompt", "model", "cls", "status"),
    [
        ("boom [sim:500]", "gpt-image-1.5", Unavailable, 500),
        ("slow [sim:408]", "gpt-image-1.5", Unavailable, 408),
        ("a cat", "dall-e-3", Unavailable, 404),
    ],
)
async def test_other_errors(
    adapter: OpenAIAdapter, prompt: str, model: str, cls: type[Exception], status: int
) -> None:
    with pytest.raises(cls) as info:
        await collect(adapter, call(prompt, endpoint=endpoint(model)))
    assert getattr(info.value, "status_code", None) == status


@pytest.mark.parametrize(
    ("prompt", "model"),
    [
        ("a cat", "dall-e-3"),  # retired 2026-05-12 (§0)
        ("a cat", "gpt-image-1"),  # shut down 2026-10-23 (§0)
        ("a cat [sim:404]", "gpt-image-1.5"),
    ],
)
async def test_model_not_found_is_unavailable_naming_the_model(
    adapter: OpenAIAdapter, prompt: str, model: str
) -> None:
    """§6 404 ``model_not_found``, §9 gotcha 1: the catalog's model id is the operator's
    problem, so a 502-class failure another endpoint may serve, never the caller's 400."""
    with pytest.raises(Unavailable) as info:
        await collect(adapter, call(prompt, endpoint=endpoint(model)))
    err = info.value
    assert err.status_code == 404 and err.code == "model_not_found"
    assert err.retryable and err.gateway_status == 502 and err.upstream_request_id
    assert f"upstream model '{model}'" in err.message


async def test_invalid_size_is_invalid_request(adapter: OpenAIAdapter) -> None:
    with pytest.raises(InvalidRequest) as info:
        await collect(adapter, call(size_wire="1254x836"))
    assert "1254x836" in str(info.value)


async def test_closing_mid_stream_does_not_hang(adapter: OpenAIAdapter, sim: SimState) -> None:
    sim.knobs.partial_delay_s = 2.0
    stream = adapter.run(call("slow", stream=True, options={"partial_images": 3}))
    assert isinstance(await anext(stream), Accepted)
    # The first partial is 2 s away: cancel while waiting for it, then close.
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.wait_for(stream.aclose(), timeout=1.0)


async def test_aclose_after_a_partial(adapter: OpenAIAdapter, sim: SimState) -> None:
    sim.knobs.partial_delay_s = 0.3
    stream = adapter.run(call("slow", stream=True, quality="low"))
    kinds = [type(await anext(stream)).__name__ for _ in range(2)]
    assert kinds == ["Accepted", "PartialImage"]
    await asyncio.wait_for(stream.aclose(), timeout=1.0)


async def test_read_timeout_is_upstream_timeout(client: httpx.AsyncClient, base_url: str) -> None:
    slow = OpenAIAdapter(
        client, api_key=KEY, base_url=base_url, timeout=httpx.Timeout(5.0, read=0.2)
    )
    with pytest.raises(UpstreamTimeout):
        await collect(slow, call("wait [sim:sleep=1]"))


async def test_connection_refused_is_unavailable(client: httpx.AsyncClient) -> None:
    dead = OpenAIAdapter(client, api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(Unavailable) as info:
        await collect(dead, call())
    assert KEY not in str(info.value)


async def test_compatible_base_url_and_org_headers(
    client: httpx.AsyncClient, base_url: str, sim: SimState
) -> None:
    compat = OpenAIAdapter(
        client,
        api_key=KEY,
        base_url=base_url + "/",
        provider="my-openai-proxy",
        organization="org-abc",
        project="proj_123",
    )
    assert compat.provider == "my-openai-proxy"
    events = await collect(compat, call(quality="low"))
    assert isinstance(events[-1], Completed)
    headers = sim.log.entries[-1]["headers"]
    assert headers["openai-organization"] == "org-abc"
    assert headers["openai-project"] == "proj_123"
    assert headers["accept"] == "application/json"


# ------------------------------------------------------------------------------------------
# A thin OpenAI-compatible server (not the simulator): keyless, ignores `stream`.
# ------------------------------------------------------------------------------------------


class CompatServer:
    """Keyless, ignores ``stream`` on generations; ``/slow/images/edits`` streams then stalls."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.stream_closed = threading.Event()

    async def generations(self, request: Request) -> Response:
        self.seen.append(
            {"headers": dict(request.headers), "body": orjson.loads(await request.body())}
        )
        return Response(
            orjson.dumps({"created": 1, "data": [{"b64_json": image_b64(40, 30, "WEBP")}]}),
            media_type="application/json",
            headers={"x-request-id": "compat-1"},
        )

    async def stalled_stream(self, request: Request) -> Response:
        async def frames() -> AsyncIterator[bytes]:
            try:
                partial = {"type": "image_edit.partial_image", "b64_json": image_b64(8, 8)}
                yield b"data: " + orjson.dumps(partial) + b"\n\n"
                await asyncio.sleep(30)
                yield b": never sent\n\n"
            finally:
                self.stream_closed.set()

        return StreamingResponse(frames(), media_type="text/event-stream")

    async def broken_stream(self, request: Request) -> Response:
        async def frames() -> AsyncIterator[bytes]:
            partial = {"type": "image_generation.partial_image", "b64_json": image_b64(8, 8)}
            yield b"data: " + orjson.dumps(partial) + b"\n\n"
            raise RuntimeError("upstream crashed mid-stream")

        return StreamingResponse(
            frames(), media_type="text/event-stream", headers={"x-request-id": "broken-1"}
        )


@pytest.fixture(scope="module")
def compat_server() -> Iterator[tuple[str, CompatServer]]:
    compat = CompatServer()
    app = Starlette(
        routes=[
            Route("/v1/images/generations", compat.generations, methods=["POST"]),
            Route("/slow/images/generations", compat.stalled_stream, methods=["POST"]),
            Route("/broken/images/generations", compat.broken_stream, methods=["POST"]),
        ]
    )
    with ServerThread(app, lifespan="off") as server:
        yield server.url, compat


async def test_keyless_compatible_server_that_ignores_stream(
    client: httpx.AsyncClient, compat_server: tuple[str, CompatServer]
) -> None:
    url, compat = compat_server
    local = OpenAIAdapter(client, api_key="", base_url=f"{url}/v1", provider="local")
    events = await collect(local, call(endpoint=endpoint("sd-turbo"), stream=True))
    assert [type(e).__name__ for e in events] == ["Accepted", "Completed"]
    done = events[-1]
    assert isinstance(done, Completed) and done.upstream_id == "compat-1"
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/webp", 40, 30)
    assert "authorization" not in compat.seen[-1]["headers"]
    assert compat.seen[-1]["body"]["model"] == "sd-turbo"


async def test_aclose_closes_the_upstream_response(
    client: httpx.AsyncClient, compat_server: tuple[str, CompatServer]
) -> None:
    url, compat = compat_server
    compat.stream_closed.clear()
    local = OpenAIAdapter(client, api_key="", base_url=f"{url}/slow")
    stream = local.run(call(stream=True))
    assert isinstance(await anext(stream), Accepted)
    assert isinstance(await anext(stream), PartialImage)
    await asyncio.wait_for(stream.aclose(), timeout=1.0)
    # The server sees the disconnect and stops generating (its 30 s sleep is cancelled).
    assert await asyncio.to_thread(compat.stream_closed.wait, 5.0)


async def test_connection_dropped_mid_stream_is_retryable(
    client: httpx.AsyncClient, compat_server: tuple[str, CompatServer]
) -> None:
    """The server dies mid-body: depending on timing the socket sees a FIN (incomplete chunked
    read → ProtocolError) or a reset (ReadError → Unavailable); both are retryable."""
    url, _ = compat_server
    local = OpenAIAdapter(client, api_key="", base_url=f"{url}/broken", provider="local")
    seen: list[GenerationEvent] = []
    with pytest.raises((ProtocolError, Unavailable)) as info:
        async for event in local.run(call(stream=True)):
            seen.append(event)
    assert [type(e).__name__ for e in seen] == ["Accepted", "PartialImage"]
    assert info.value.provider == "local" and info.value.upstream_request_id == "broken-1"
    assert info.value.retryable
