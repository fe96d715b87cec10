"""providers/_http.py: SSE decoding, retry hints, transport error mapping, redaction."""

from __future__ import annotations

import gzip
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from providers._http import (
    FLOW_MARK,
    LARGE_JSON_BYTES,
    ServerSentEvent,
    SSEDecoder,
    body_chunks,
    form_fields,
    iter_sse,
    iter_sse_flowing,
    lift_b64,
    lift_b64_pieces,
    lifted,
    load_json,
    map_transport_error,
    parse_retry_after,
    read_body,
    redact,
    transport_errors,
)
from providers.errors import ProtocolError, Unavailable, UpstreamTimeout
from providers.spec import B64Flow, B64Pieces, FlowBroken


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.close()


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


REFERENCE_STREAM = (
    b"event: image_generation.partial_image\n"
    b'data: {"type":"image_generation.partial_image","b64_json":"iVBORw0KGgo...",'
    b'"partial_image_index":0}\n'
    b"\n"
    b"event: image_generation.completed\n"
    b'data: {"type":"image_generation.completed","b64_json":"iVBORw0KGgo..."}\n'
    b"\n"
)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("split", ["whole", "bytewise"])
def test_reference_stream_any_newline_any_chunking(newline: bytes, split: str) -> None:
    data = REFERENCE_STREAM.replace(b"\n", newline)
    events = decode([data] if split == "whole" else bytewise(data))
    assert [e.event for e in events] == [
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert events[1].data == '{"type":"image_generation.completed","b64_json":"iVBORw0KGgo..."}'


def test_fields_comments_multi_data_and_bom() -> None:
    data = (
        b"\xef\xbb\xbf: keep-alive comment\n"
        b"id: 7\nretry: 1500\ndata:first\ndata: second\ndata\n\n"
        b"data:  two spaces\n\n"
        b"event: ignored-without-data\n\n"
        b"unknown: field\ndata: x\n\n"
    )
    events = decode(bytewise(data))
    assert events == [
        ServerSentEvent(data="first\nsecond\n", id="7", retry=1500),
        ServerSentEvent(data=" two spaces"),
        ServerSentEvent(data="x"),
    ]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    events = decode([b"data: a\r", b"\n\r", b"\ndata: b\r\n", b"\r\n"])
    assert [e.data for e in events] == ["a", "b"]


def test_eof_dispatches_complete_lines_but_drops_a_cut_line() -> None:
    assert [e.data for e in decode([b"data: whole\n"])] == ["whole"]
    assert decode([b'data: {"type":"image_generation.completed","b64_json":"iVBO']) == []


def test_multi_megabyte_line_in_random_chunks() -> None:
    payload = "A" * (6 * 1024 * 1024)
    data = f"event: big\ndata: {payload}\n\n".encode()
    rng = random.Random(1)
    chunks, pos = [], 0
    while pos < len(data):
        size = rng.randint(1, 65536)
        chunks.append(data[pos : pos + size])
        pos += size
    (event,) = decode(chunks)
    assert event.event == "big" and len(event.data) == len(payload)


def test_line_limit() -> None:
    decoder = SSEDecoder(max_line_bytes=10)
    with pytest.raises(ProtocolError):
        decoder.feed(b"data: 0123456789")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_iter_sse_stops_at_done() -> None:
    response = httpx.Response(
        200, content=_chunks(b"data: 1\n\n", b"data: [DONE]\n\n", b"data: after\n\n")
    )
    assert [e.data async for e in iter_sse(response)] == ["1"]


async def test_iter_sse_without_done_ends_at_eof() -> None:
    response = httpx.Response(200, content=_chunks(b"data: 1\n\ndata: 2\n"))
    assert [e.data async for e in iter_sse(response)] == ["1", "2"]
    response = httpx.Response(200, content=_chunks(b"data: [DONE]\n"))
    assert [e.data async for e in iter_sse(response)] == []


# A large partial image event between two small ones, as OpenAI frames them.
BIG_B64 = (b"iVBORw0KGgo" + b"ABCD+/09" * 40_000)[:300_001]
FLOW_STREAM = (
    b"event: image_generation.partial_image\n"
    b'data: {"type":"image_generation.partial_image","b64_json":"'
    + BIG_B64
    + b'","partial_image_index":0}\n\n'
    b'data: {"type":"other","b64_json":"' + BIG_B64 + b'"}\n\n'
    b'data: {"type":"image_generation.completed","b64_json":"iVBO"}\n\n'
)


def _is_partial(line: bytes) -> bool:
    return b'"image_generation.partial_image"' in line


async def _flowing(parts: list[bytes]) -> list[ServerSentEvent | B64Flow]:
    response = httpx.Response(200, content=_chunks(*parts))
    stream = iter_sse_flowing(response, key="b64_json", wants=_is_partial)
    return [item async for item in stream]


@pytest.mark.parametrize("size", [1, 7, 4096, 65536, 100_000, len(FLOW_STREAM)])
async def test_iter_sse_flowing_streams_a_large_wanted_value(size: int) -> None:
    """Whatever the chunking: one flow carrying exactly the value's text, then that event with
    the value reading FLOW_MARK; an unwanted large value (type "other") is read whole."""
    parts = [FLOW_STREAM[i : i + size] for i in range(0, len(FLOW_STREAM), size)]
    items = await _flowing(parts)
    flows = [i for i in items if isinstance(i, B64Flow)]
    events = [i for i in items if isinstance(i, ServerSentEvent)]
    if size >= len(FLOW_STREAM):  # arrived whole: nothing left to stream
        assert not flows
        assert BIG_B64.decode() in events[0].data
    else:
        assert len(flows) == 1 and items[0] is flows[0]
        assert flows[0].joined() == BIG_B64
        assert events[0].data == (
            '{"type":"image_generation.partial_image","b64_json":"'
            + FLOW_MARK
            + '","partial_image_index":0}'
        )
    assert [e.event for e in events] == ["image_generation.partial_image", None, None]
    assert BIG_B64.decode() in events[1].data
    assert events[2].data.endswith('"iVBO"}')


async def test_a_flow_is_fed_before_its_event_has_arrived() -> None:
    """The point of a flow: it is handed out, holding the value's first pieces, while the rest
    of the event is still in transit (here: not yet produced by the source)."""
    quarter = len(FLOW_STREAM) // 4
    flows: list[B64Flow] = []
    held_early: list[int] = []

    async def source() -> AsyncIterator[bytes]:
        yield FLOW_STREAM[:quarter]
        held_early.append(flows[0].size if flows else 0)
        yield FLOW_STREAM[quarter:]

    response = httpx.Response(200, content=source())
    async for item in iter_sse_flowing(response, key="b64_json", wants=_is_partial):
        if isinstance(item, B64Flow):
            flows.append(item)
    assert held_early[0] > 0
    assert flows[0].joined() == BIG_B64


@pytest.mark.parametrize(
    "tail",
    [
        b'\\u0041rest"}\n\n',  # an escape inside the value: not plain base64
        b'\xc3\xa9"}\n\n',  # non-ASCII
        b'\nmore"}\n\n',  # the line ends inside the string
        b"",  # the stream ends inside the value
    ],
)
async def test_a_flow_that_goes_wrong_fails_and_raises(tail: bytes) -> None:
    head = b'data: {"type":"image_generation.partial_image","b64_json":"' + BIG_B64
    response = httpx.Response(200, content=_chunks(head, tail))
    flows: list[B64Flow] = []
    with pytest.raises(ProtocolError):
        async for item in iter_sse_flowing(response, key="b64_json", wants=_is_partial):
            if isinstance(item, B64Flow):
                flows.append(item)
    assert len(flows) == 1 and flows[0].ended
    with pytest.raises(FlowBroken):
        async for _ in flows[0].chunks():
            pass


async def test_a_small_or_late_value_is_not_flowed() -> None:
    """Below the threshold, or with the key far into the line, events are read whole."""
    small = b'data: {"type":"image_generation.partial_image","b64_json":"iVBORw0KGgo"}\n\n'
    padded = (
        b'data: {"type":"image_generation.partial_image","pad":"'
        + b"x" * 5000
        + b'","b64_json":"'
        + BIG_B64
        + b'"}\n\n'
    )
    for body in (small, padded):
        parts = [body[i : i + 1000] for i in range(0, len(body), 1000)]
        items = await _flowing(parts)
        assert [type(i) for i in items] == [ServerSentEvent]
        assert FLOW_MARK not in items[0].data


async def test_read_body_limit() -> None:
    assert await read_body(httpx.Response(200, content=_chunks(b"ab", b"cd")), limit=4) == b"abcd"
    with pytest.raises(ProtocolError):
        await read_body(httpx.Response(200, content=_chunks(b"ab", b"cde")), limit=4)


async def test_body_chunks_passes_a_plain_body_through_and_decodes_an_encoded_one() -> None:
    # a body sent as is: the buffers as they arrived, the same objects
    parts = (b'{"data":', b'[{"b64_json":"iVBOR"}]}')
    got = [c async for c in body_chunks(httpx.Response(200, content=_chunks(*parts)))]
    assert got == list(parts) and all(a is b for a, b in zip(got, parts, strict=True))
    for encoding in ("gzip", "GZIP", " gzip, identity"):
        packed = gzip.compress(b"".join(parts))
        response = httpx.Response(
            200,
            headers={"content-encoding": encoding},
            content=_chunks(packed[:10], packed[10:]),
        )
        assert b"".join([c async for c in body_chunks(response)]) == b"".join(parts)
    # gzip through the readers that use it
    packed = gzip.compress(b"data: 1\n\ndata: 2\n\n")
    response = httpx.Response(200, headers={"content-encoding": "gzip"}, content=_chunks(packed))
    assert [e.data async for e in iter_sse(response)] == ["1", "2"]
    packed = gzip.compress(b"abcd")
    response = httpx.Response(200, headers={"content-encoding": "gzip"}, content=_chunks(packed))
    assert await read_body(response, limit=4) == b"abcd"
    # a body already read is served from what was read
    response = httpx.Response(200, content=_chunks(b"ab", b"cd"))
    await response.aread()
    assert b"".join([c async for c in body_chunks(response)]) == b"abcd"


NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"Retry-After-Ms": "20.5"}, 0.0205),
        ({"retry-after": "12"}, 12.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after": "Tue, 24 Nov 2026 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Tue, 24 Nov 2026 11:00:00 GMT"}, 0.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "whenever"}, None),
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_parse_retry_after_accepts_httpx_headers() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After-MS": "100"})) == 0.1


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), Unavailable),
        (httpx.ConnectTimeout("slow connect"), Unavailable),
        (httpx.PoolTimeout("pool"), Unavailable),
        (httpx.ReadTimeout("slow"), UpstreamTimeout),
        (httpx.WriteTimeout("slow"), UpstreamTimeout),
        (httpx.RemoteProtocolError("peer closed connection"), ProtocolError),
        (httpx.DecodingError("bad gzip"), ProtocolError),
        (httpx.ReadError("reset"), Unavailable),
        (httpx.UnsupportedProtocol("ftp"), Unavailable),
        (httpx.InvalidURL("bad"), Unavailable),
    ],
)
def test_transport_error_mapping(exc: httpx.HTTPError, cls: type[Exception]) -> None:
    err = map_transport_error(exc, provider="openai")
    assert type(err) is cls and err.provider == "openai" and err.retryable
    with pytest.raises(cls) as info, transport_errors("openai"):
        raise exc
    assert info.value.__cause__ is exc


def test_transport_errors_passes_other_exceptions() -> None:
    with pytest.raises(KeyError), transport_errors("x"):
        raise KeyError("k")


def test_redact() -> None:
    text = "Incorrect API key provided: sk-proj-abc123. Also secret-value-9 here."
    out = redact(text, ("secret-value-9",))
    assert "sk-proj-abc123" not in out and "secret-value-9" not in out
    assert out.startswith("Incorrect API key provided: sk-***")


def test_form_fields() -> None:
    assert form_fields(
        {
            "n": 2,
            "stream": True,
            "off": False,
            "skip": None,
            "svg": {"model": "m", "reasoning": {"effort": "low"}},
            "tags": ["a", "b"],
        }
    ) == {
        "n": "2",
        "stream": "true",
        "off": "false",
        "svg[model]": "m",
        "svg[reasoning][effort]": "low",
        "tags[]": ["a", "b"],
    }


def test_lift_b64_finds_keys_not_lookalike_values() -> None:
    body = (
        b'{"created": 1, "data": [{"b64_json" :\n "QUJD", "x": 1}, {"b64_json":"RA=="}],'
        b' "note": "\\"b64_json\\": \\"no\\"", "b64_json": null}'
    )
    found = lift_b64(body, "b64_json")
    assert found is not None
    doc, blobs = found
    assert blobs == [b"QUJD", b"RA=="]
    assert [lifted(item["b64_json"], blobs) for item in doc["data"]] == [b"QUJD", b"RA=="]
    assert doc["note"] == '"b64_json": "no"' and doc["b64_json"] is None
    assert lifted("#7", blobs) == "#7" and lifted("#1", []) == "#1"


# What lifting declines: relayed as it is, these would not be plain base64 text in valid JSON.
UNLIFTABLE = [
    b'{"data": [{"b64_json": "QU\\/JD"}]}',  # an escape
    '{"data": [{"b64_json": "QUJ\u00e9"}]}'.encode(),  # not ASCII
    b'{"data": [{"b64_json": "Q#JD"}]}',  # not base64 at its start
    b'{"data": [{"b64_json": "QUJD"}]',  # invalid JSON around it
    b'{"data": [{"b64_json": "QUJD',  # cut inside the value
    b'{"data": [{"url": "https://x"}]}',  # nothing to lift
]


@pytest.mark.parametrize("body", UNLIFTABLE)
def test_lift_b64_declines_what_it_cannot_relay_as_is(body: bytes) -> None:
    assert lift_b64(body, "b64_json") is None


LOOKALIKES = (
    b'{"created": 1, "data": [{"b64_json" :\n "QUJD", "x": 1}, {"b64_json":"RA=="}],'
    b' "note": "\\"b64_json\\": \\"no\\"", "b64_json": null}'
)


def _split(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 11, 64, 10_000])
def test_lift_b64_pieces_agrees_with_lift_b64_whatever_the_buffers(size: int) -> None:
    big = (b"iVBORw0KGgo" + b"QUJD" * 50_000)[:200_003]
    bodies = [
        LOOKALIKES,
        b'{"created":1,"data":[{"b64_json":"' + big + b'"},{"b64_json":"' + big[::-1] + b'"}],'
        b'"usage":{"total_tokens":3}}',
        b'{"data":[{"b64_json":""}]}',  # an empty value, its quotes in different buffers
    ]
    for body in bodies:
        expected = lift_b64(body, "b64_json")
        found = lift_b64_pieces(_split(body, size), "b64_json")
        assert expected is not None and found is not None
        (doc, blobs), (doc_p, pieces) = expected, found
        assert doc_p == doc
        assert [p.joined() for p in pieces] == blobs
        assert [lifted(item["b64_json"], pieces) for item in doc_p["data"]] == pieces


def test_lift_b64_pieces_keeps_the_buffers_it_was_given() -> None:
    """The point: the middle buffers of a value are relayed as the very objects that arrived."""
    middle = [b"QUJD" * 1000 for _ in range(3)]
    chunks = [b'{"data":[{"b64_json":"iVBO', *middle, b'RA=="}]}']
    found = lift_b64_pieces(chunks, "b64_json")
    assert found is not None
    (piece,) = found[1]
    assert isinstance(piece, B64Pieces)
    assert all(a is b for a, b in zip(piece.pieces[1:4], middle, strict=True))
    assert piece.prefix(6) == b"iVBORw"[:4] + b"QU" and len(piece) == 4 + 12000 + 4


@pytest.mark.parametrize("body", UNLIFTABLE)
@pytest.mark.parametrize("size", [1, 4, 1000])
def test_lift_b64_pieces_declines_what_lift_b64_declines(body: bytes, size: int) -> None:
    assert lift_b64_pieces(_split(body, size), "b64_json") is None


@pytest.mark.parametrize("padding", [0, LARGE_JSON_BYTES])  # orjson, then the json module
def test_deeply_nested_json_is_a_protocol_error(padding: int) -> None:
    depth = 100_000
    body = b" " * padding + b"[" * depth + b"]" * depth
    with pytest.raises(ProtocolError, match="answer"):
        load_json(body, what="answer", provider="p")
    assert load_json(b" " * padding + b"[[1]]", what="answer", provider="p") == [[1]]
