"""Seedream's tolerant SSE decoder (bytedance.md §4): the official sample's multi-line JSON."""

from __future__ import annotations

import orjson
import pytest

from providers._http import ServerSentEvent, SSEDecoder

# The shape of the official sample: pretty-printed JSON, ``data:`` on the first line only.
SAMPLE = (
    b"event: image_generation.completed\n"
    b"data: {\n"
    b'  "type": "image_generation.completed",\n'
    b'  "usage": {"generated_images": 3, "output_tokens": 48672, "total_tokens": 48672}\n'
    b"}\n"
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)


def decode(decoder: SSEDecoder, raw: bytes, step: int) -> list[ServerSentEvent]:
    events: list[ServerSentEvent] = []
    for at in range(0, len(raw), step):
        events += decoder.feed(raw[at : at + step])
    return events + decoder.close()


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_continuation_lines_join_the_events_data(step: int) -> None:
    events = decode(SSEDecoder(continuation_lines=True), SAMPLE, step)
    assert [e.event for e in events] == ["image_generation.completed", None]
    assert orjson.loads(events[0].data)["usage"]["generated_images"] == 3
    assert events[1].data == "[DONE]"


def test_the_shared_decoder_drops_them() -> None:
    """Why the adapter has its own: a standard parser leaves ``{`` (SSE ignores unknown fields)."""
    assert decode(SSEDecoder(), SAMPLE, 4096)[0].data == "{"


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_any_line_ending(newline: bytes) -> None:
    events = decode(SSEDecoder(continuation_lines=True), SAMPLE.replace(b"\n", newline), 5)
    assert orjson.loads(events[0].data)["type"] == "image_generation.completed"


def test_standard_events_decode_exactly_as_before() -> None:
    raw = (
        b": keep-alive\n"
        b"event: image_generation.partial_succeeded\n"
        b"id: 7\n"
        b"retry: 1000\n"
        b'data: {"type":"image_generation.partial_succeeded","image_index":0}\n'
        b": a comment inside the event\n"
        b"data\n"
        b"event: renamed\n"
        b"\n"
        b"data: [DONE]\n\n"
    )
    for step in (1, 3, len(raw)):
        assert decode(SSEDecoder(continuation_lines=True), raw, step) == decode(
            SSEDecoder(), raw, step
        )


def test_a_stray_line_before_any_data_is_still_ignored() -> None:
    """Only lines after an event's ``data`` continue it; before, SSE's rules apply."""
    raw = b'event: x\n  "orphan": 1\ndata: {"a": 1}\n\n'
    assert decode(SSEDecoder(continuation_lines=True), raw, 2)[0].data == '{"a": 1}'
