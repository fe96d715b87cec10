"""Splicing base64 bytes into rendered JSON: the pieces join to the document orjson would write."""

from __future__ import annotations

import orjson

from app.generation import render
from providers.spec import B64Pieces


def test_bytes_values_are_spliced_in_order_and_the_result_is_the_same_json() -> None:
    blobs = [b"QUJD" * 1000, b"RA==", b"TUFO" * 10]
    payload = {
        "data": [{"b64_json": blobs[0], "n": 1}, {"b64_json": blobs[1]}],
        "text": 'a "quoted" note',
        "nested": {"deep": [blobs[2]]},
    }
    body = render.dumps(payload)
    assert isinstance(body, list)
    assert any(piece is blobs[0] for piece in body)  # the very object: not copied
    expected = {
        "data": [{"b64_json": blobs[0].decode(), "n": 1}, {"b64_json": blobs[1].decode()}],
        "text": 'a "quoted" note',
        "nested": {"deep": [blobs[2].decode()]},
    }
    assert orjson.loads(b"".join(body)) == expected
    assert render.size(body) == len(b"".join(body))


def test_without_bytes_the_body_is_one_buffer() -> None:
    assert render.dumps({"a": "b"}) == b'{"a":"b"}'


def test_sse_frames_wrap_spliced_pieces() -> None:
    frame = render.sse({"b64_json": b"QUJD"})
    assert isinstance(frame, list)
    assert b"".join(frame) == b'data: {"b64_json":"QUJD"}\n\n'


def test_pieces_values_are_spliced_as_their_buffers() -> None:
    """An image kept in the buffers it arrived in goes out as those very buffers, in order, as
    one JSON string (not as an object of its fields)."""
    buffers = (b"iVBO", b"QUJD" * 1000, b"RA==")
    body = render.dumps({"data": [{"b64_json": B64Pieces(buffers)}], "n": 1})
    assert isinstance(body, list)
    assert [p for p in body if any(p is b for b in buffers)] == list(buffers)
    assert orjson.loads(b"".join(body)) == {
        "data": [{"b64_json": b"".join(buffers).decode()}],
        "n": 1,
    }
