"""SeedreamAdapter against hand-written servers, for answers the simulator never gives: a
stream mislabelled as JSON, JSON to a stream request, result URLs on foreign hosts, empty 200s.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from providers.bytedance.adapter import SeedreamAdapter
from providers.errors import ProtocolError
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent
from tests.providers.bytedance.calls import call, jpeg_b64
from tests.servers import ServerThread

KEY = "ark-canned-key"


async def collect(adapter: SeedreamAdapter, generate: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in adapter.run(generate)]


def _canned(content: bytes, media_type: str) -> Iterator[str]:
    async def answer(_: Request) -> Response:
        return Response(content, media_type=media_type)

    app = Starlette(routes=[Route("/api/v3/images/generations", answer, methods=["POST"])])
    with ServerThread(app, lifespan="off") as server:
        yield f"{server.url}/api/v3"


SSE = (
    b'event: image_generation.partial_succeeded\ndata: {"type":"image_generation.partial_succeeded",'
    b'"image_index":0,"b64_json":"' + jpeg_b64(32, 16).encode() + b'","size":"32x16"}\n\n'
    b'event: image_generation.completed\ndata: {"type":"image_generation.completed",'
    b'"usage":{"generated_images":1,"output_tokens":2,"total_tokens":2}}\n\ndata: [DONE]\n\n'
)


async def test_stream_is_told_by_its_first_byte_not_its_content_type(
    client: httpx.AsyncClient,
) -> None:
    for base_url in _canned(SSE, "application/json"):
        adapter = SeedreamAdapter(client, api_key=KEY, base_url=base_url)
        events = await collect(adapter, call(stream=True))
        assert [type(e).__name__ for e in events] == ["Accepted", "PartialImage", "Completed"]
        done = events[-1]
        assert isinstance(done, Completed) and done.images[0].width == 32


async def test_a_json_answer_to_a_stream_request_is_read_as_json(
    client: httpx.AsyncClient,
) -> None:
    body = orjson.dumps(
        {
            "data": [{"b64_json": jpeg_b64(32, 16), "size": "32x16"}],
            "usage": {"generated_images": 1},
        }
    )
    for base_url in _canned(body, "text/event-stream"):
        adapter = SeedreamAdapter(client, api_key=KEY, base_url=base_url)
        events = await collect(adapter, call(stream=True))
        assert [type(e) for e in events] == [Accepted, Completed]


async def test_result_urls_on_foreign_hosts_are_refused(client: httpx.AsyncClient) -> None:
    body = orjson.dumps({"data": [{"url": "https://evil.example.com/a.jpeg", "size": "1x1"}]})
    for base_url in _canned(body, "application/json"):
        adapter = SeedreamAdapter(client, api_key=KEY, base_url=base_url)
        with pytest.raises(ProtocolError, match="unexpected host"):
            await collect(adapter, call())


async def test_an_empty_200_is_a_protocol_error(client: httpx.AsyncClient) -> None:
    for base_url in _canned(b"", "application/json"):
        adapter = SeedreamAdapter(client, api_key=KEY, base_url=base_url)
        with pytest.raises(ProtocolError, match="empty"):
            await collect(adapter, call())


def _pretty_event(payload: dict[str, object]) -> bytes:
    """An event as the official streaming sample prints it (§4): the JSON spread over several
    lines, ``data:`` on the first only."""
    lines = orjson.dumps(payload, option=orjson.OPT_INDENT_2).split(b"\n")
    event = b"event: " + str(payload["type"]).encode() + b"\n"
    return event + b"data: " + b"\n".join(lines) + b"\n\n"


PRETTY_SSE = (
    _pretty_event(
        {"type": "image_generation.partial_succeeded", "model": "seedream-4-0-250828",
         "created": 1757396757, "image_index": 0, "b64_json": jpeg_b64(32, 16),
         "size": "32x16"}
    )
    + _pretty_event(
        {"type": "image_generation.partial_failed", "model": "seedream-4-0-250828",
         "created": 1589478378, "image_index": 1,
         "error": {"code": "OutputImageSensitiveContentDetected",
                   "message": "The request failed because the output image may contain "
                              "sensitive information."}}
    )
    + _pretty_event(
        {"type": "image_generation.completed", "model": "seedream-4-0-250828",
         "created": 1757396825,
         "usage": {"generated_images": 1, "output_tokens": 2, "total_tokens": 2}}
    )
    + b"data: [DONE]\n\n"
)  # fmt: skip


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
async def test_the_official_samples_multi_line_json_is_tolerated(
    client: httpx.AsyncClient, newline: bytes
) -> None:
    """bytedance.md §4: no ``data:`` on continuation lines; "the adapter parser may tolerate
    both". A standard SSE parser keeps only ``{`` of each event."""
    for base_url in _canned(PRETTY_SSE.replace(b"\n", newline), "text/event-stream"):
        adapter = SeedreamAdapter(client, api_key=KEY, base_url=base_url)
        events = await collect(adapter, call(n=2, stream=True))
        assert [type(e).__name__ for e in events] == ["Accepted", "PartialImage", "Completed"]
        done = events[-1]
        assert isinstance(done, Completed) and done.images[0].width == 32
        assert len(done.images) == 1 and done.usage.images == 1 and done.warnings  # 1 failed
