"""Provider-neutral transport helpers: SSE decoding, retry hints, httpx error mapping.

Everything here is shared by the adapters; nothing here knows a provider's wire format.
The SSE decoder is a pure, incremental state machine (:class:`SSEDecoder`) so it can be
tested byte by byte; :func:`iter_sse` drives it from an ``httpx.Response``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from fnmatch import fnmatchcase
from ipaddress import ip_address
from typing import Any

import httpx
import orjson

from providers.errors import ProtocolError, ProviderError, Unavailable, UpstreamTimeout
from providers.spec import B64Flow, B64Pieces, B64Text

# Generous by design: image models can think for minutes before the first byte, and a stream
# may be silent between partial images. Connect fails fast so fallback can kick in.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=10.0)

# One SSE line may hold a whole base64 image (a 4K PNG is tens of MB once encoded).
DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
# Largest buffered JSON body we accept (n images of several MB each, base64-encoded).
DEFAULT_MAX_BODY_BYTES = 512 * 1024 * 1024


def _line_end(buf: bytearray, pos: int) -> tuple[int, int]:
    """(index, width) of the first line ending at or after ``pos``, or (-1, 0).

    ``find`` (memchr) rather than a regex: a 4 MB base64 line is scanned in microseconds.
    """
    lf = buf.find(b"\n", pos)
    cr = buf.find(b"\r", pos, lf if lf >= 0 else len(buf))
    if cr == -1:
        return (lf, 1) if lf >= 0 else (-1, 0)
    return (cr, 2) if cr + 1 == lf else (cr, 1)


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched SSE event: ``data`` lines joined with ``\\n``."""

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Incremental ``text/event-stream`` decoder over raw bytes (WHATWG SSE rules).

    Lines end in ``\\n``, ``\\r\\n`` or ``\\r`` (a ``\\r`` split from its ``\\n`` across chunks is
    handled); ``:`` lines are comments; several ``data:`` lines join with ``\\n``; one space after
    the colon is stripped. Lines are found with a resumable scan, so a multi-megabyte line costs
    linear time whatever the chunking.

    ``continuation_lines`` (off by default: the SSE rules ignore such lines): inside an event
    that already has a ``data`` line, a line that is no field and no comment (``  "type": "…",``,
    ``}``) continues that data, kept whole. Seedream's official sample pretty-prints an event's
    JSON that way; single-line events decode the same either way.
    """

    def __init__(
        self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, continuation_lines: bool = False
    ) -> None:
        self._max_line = max_line_bytes
        self._continuation = continuation_lines
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already known to hold no line ending
        self._skip_lf = False  # the previous chunk ended in \r: drop a leading \n
        self._started = False  # a UTF-8 BOM is stripped from the very first chunk
        self._looked = False  # the pending line was already examined by pending_value()
        self._reset_event()

    def _reset_event(self) -> None:
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume a chunk; return the events it completed."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if not self._started and chunk:
            self._started = True
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        buf = self._buf
        buf += chunk
        events: list[ServerSentEvent] = []
        start = 0
        pos = self._scanned
        while True:
            end, width = _line_end(buf, pos)
            if end < 0:
                break
            if width == 1 and buf[end] == 13 and end + 1 == len(buf):
                self._skip_lf = True  # a \n may follow in the next chunk
            event = self._line_at(buf, start, end)
            start = pos = end + width
            if event is not None:
                events.append(event)
        if start:
            del buf[:start]
            self._looked = False  # a new line is pending
        self._scanned = len(buf)
        if len(buf) > self._max_line:
            raise ProtocolError(f"SSE line longer than {self._max_line} bytes")
        return events

    def pending_value(self, needle: bytes, min_bytes: int, window: int = 2048) -> int | None:
        """Where the string value of ``needle`` (a quoted key) starts in the pending, unfinished
        line, when that line is an event's first ``data:`` line holding at least ``min_bytes``
        and the value's closing quote has not arrived; else None. The key must be within the
        line's first ``window`` bytes. Each line is examined once, when it first qualifies.
        """
        buf = self._buf
        if self._looked or len(buf) < min_bytes:
            return None
        self._looked = True
        if self._data or not buf.startswith(b"data:"):
            return None
        start, _ = _value_start(buf, needle, 0)
        if start < 0 or start > window:
            return None
        if len(buf) - start < min_bytes // 2 or buf.find(b'"', start) >= 0:
            return None
        return start

    def split_pending(self, start: int) -> tuple[bytes, bytes]:
        """Cut the pending line at ``start``: (the line before it, the text from it on). The
        line before stays pending; what is fed next continues it."""
        buf = self._buf
        head = bytes(buf[start:])
        del buf[start:]
        self._scanned = len(buf)
        return bytes(buf), head

    def _line_at(self, buf: bytearray, start: int, end: int) -> ServerSentEvent | None:
        """The line ``buf[start:end]``, decoded without copying a multi-megabyte value twice."""
        if start == end:
            return self._dispatch()
        if self._continuation and self._data and not _is_field_line(buf, start, end):
            self._data.append(buf[start:end].decode("utf-8", errors="replace"))
            return None
        colon = buf.find(b":", start, end)
        if colon == start:
            return None  # a comment
        if colon == -1:
            return self._line(buf[start:end].decode("utf-8", errors="replace"))
        value_at = colon + 1
        if value_at < end and buf[value_at] == 32:
            value_at += 1
        name = buf[start:colon].decode("utf-8", errors="replace")
        with memoryview(buf) as view:
            value = str(view[value_at:end], "utf-8", "replace")
        return self._field(name, value)

    def close(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a pending event whose lines all arrived.

        An unterminated final line is dropped: it may be cut mid-JSON. The spec would also drop
        a complete event that misses its blank line; we dispatch it, which is lenient and safe
        because every one of its lines arrived whole.
        """
        self._buf.clear()
        self._scanned = 0
        if not self._data:
            return []
        event = self._dispatch()
        return [event] if event is not None else []

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        return self._field(name, value)

    def _field(self, name: str, value: str) -> ServerSentEvent | None:
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:
            self._reset_event()
            return None
        event = ServerSentEvent(
            data="\n".join(self._data), event=self._event, id=self._id, retry=self._retry
        )
        self._reset_event()
        return event


_FIELD_NAMES = (b"data", b"event", b"id", b"retry")


def _is_field_line(buf: bytearray, start: int, end: int) -> bool:
    """``data:…``, ``event:…``, ``id:…``, ``retry:…`` (or the bare name), or a ``:`` comment."""
    if buf.startswith(b":", start, end):
        return True
    for name in _FIELD_NAMES:
        if buf.startswith(name, start, end):
            after = start + len(name)
            if after == end or buf[after] == 58:  # 58: ":"
                return True
    return False


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """``response.aiter_bytes()``: the body as it arrives, decoded. A body sent as is (no
    ``content-encoding``, the usual JSON answer) skips httpx's decoder and chunker, which only
    pass its buffers through (~2% of the gateway's CPU on a small generation)."""
    encoding = response.headers.get("content-encoding")
    plain = encoding is None or encoding.strip().lower() in ("", "identity")
    if plain and not response.is_stream_consumed:
        return response.aiter_raw()
    return response.aiter_bytes()


async def iter_sse(
    response: httpx.Response,
    *,
    done_sentinel: str | None = "[DONE]",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> AsyncGenerator[ServerSentEvent, None]:
    """Yield the events of a streaming response; stop at ``data: [DONE]`` or EOF.

    httpx transport errors propagate unchanged; wrap the caller in
    :func:`transport_errors` to turn them into ``ProviderError``.
    """
    decoder = SSEDecoder(max_line_bytes=max_line_bytes)
    async for chunk in body_chunks(response):
        for event in decoder.feed(chunk):
            if done_sentinel is not None and event.data.strip() == done_sentinel:
                return
            yield event
    for event in decoder.close():
        if done_sentinel is not None and event.data.strip() == done_sentinel:
            return
        yield event


# A value this large, still arriving, is relayed while it arrives (see iter_sse_flowing).
FLOW_MIN_BYTES = 64 * 1024
# Where a flowed value stood in its event's JSON, once the event is complete (unguessable).
FLOW_MARK = "#flow-" + secrets.token_hex(8)
_FLOW_MARK_BYTES = FLOW_MARK.encode()


def flowable(text: bytes) -> bool:
    """Base64 text that can be written into a JSON string as it is (see :func:`lift_b64`), and
    into an SSE ``data:`` line: no line break either."""
    return _plain_b64_piece(text) and text.find(b"\n") < 0 and text.find(b"\r") < 0


async def iter_sse_flowing(
    response: httpx.Response,
    *,
    key: str,
    wants: Callable[[bytes], bool],
    done_sentinel: str | None = "[DONE]",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    min_bytes: int = FLOW_MIN_BYTES,
) -> AsyncGenerator[ServerSentEvent | B64Flow, None]:
    """:func:`iter_sse`, with large base64 values relayed while they arrive.

    When an event's first ``data:`` line has brought ``min_bytes`` and the string value of
    ``key`` has begun but not ended, and ``wants(line so far)`` agrees, a :class:`B64Flow` is
    yielded at once and fed with each following piece of the value as it comes off the socket.
    Its closing quote ends the flow; the event is then parsed as usual and yielded, the value
    reading :data:`FLOW_MARK`. Only the value is streamed: the rest of the event is small and
    read whole. A value that turns out not to be plain base64 text, or a stream that ends or
    fails inside it, fails the flow and raises (:class:`ProtocolError` or the transport error).
    """
    decoder = SSEDecoder(max_line_bytes=max_line_bytes)
    needle = b'"' + key.encode() + b'"'
    flow: B64Flow | None = None

    def done(event: ServerSentEvent) -> bool:
        return done_sentinel is not None and event.data.strip() == done_sentinel

    try:
        async for chunk in body_chunks(response):
            if flow is not None:
                end = chunk.find(b'"')
                piece = chunk if end < 0 else chunk[:end]
                if not flowable(piece):
                    raise ProtocolError("a streamed image is not plain base64 text")
                flow.feed(piece)
                if flow.size > max_line_bytes:
                    raise ProtocolError(f"SSE line longer than {max_line_bytes} bytes")
                if end < 0:
                    continue
                flow.end()
                flow = None
                chunk = _FLOW_MARK_BYTES + chunk[end:]
            for event in decoder.feed(chunk):
                if done(event):
                    return
                yield event
            start = decoder.pending_value(needle, min_bytes)
            if start is not None:
                line, head = decoder.split_pending(start)
                if wants(line) and _b64_start_ok([head]) and flowable(head):
                    flow = B64Flow(head)
                    yield flow
                else:
                    decoder.feed(head)  # not for us: the line goes on as it was
        if flow is not None:
            raise ProtocolError("the stream ended inside an image")
        for event in decoder.close():
            if done(event):
                return
            yield event
    except BaseException as exc:
        if flow is not None:
            flow.fail(exc)
        raise


async def read_body(response: httpx.Response, *, limit: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """Read a streamed response body, refusing one larger than ``limit`` bytes."""
    return b"".join(await read_chunks(response, limit=limit))


async def read_chunks(
    response: httpx.Response, *, limit: int = DEFAULT_MAX_BODY_BYTES
) -> list[bytes]:
    """A streamed response body as the buffers it arrived in (see :func:`lift_b64_pieces`),
    refusing one larger than ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in body_chunks(response):
        size += len(chunk)
        if size > limit:
            raise ProtocolError(f"response body larger than {limit} bytes")
        parts.append(chunk)
    return parts


# --------------------------------------------------------------------------------------------
# Retry hints
# --------------------------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` (preferred) or ``retry-after``.

    ``retry-after`` may be delta-seconds or an HTTP-date (relative to ``now``, default the
    current UTC time). Negative values clamp to 0. A malformed header is only a hint, so it
    yields ``None`` rather than an error; the status code still decides what happened.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = _parse_seconds(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _parse_seconds(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def _parse_seconds(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, value)


# --------------------------------------------------------------------------------------------
# httpx exceptions -> ProviderError
# --------------------------------------------------------------------------------------------


TransportFailure = httpx.HTTPError | httpx.InvalidURL


def map_transport_error(exc: TransportFailure, *, provider: str) -> ProviderError:
    """Classify an httpx failure. The message names the failure, never the request headers.

    * connect/pool timeout, connect error → :class:`Unavailable` (the provider never got the call);
    * read/write timeout → :class:`UpstreamTimeout`;
    * the peer broke the HTTP framing (e.g. closed mid-body) → :class:`ProtocolError`;
    * other network errors → :class:`Unavailable`.
    """
    kind = type(exc).__name__
    detail = f"{provider or 'upstream'} transport error: {kind}"
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | httpx.PoolTimeout):
        return Unavailable(f"{detail} (could not connect)", provider=provider)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"{detail} (no answer in time)", provider=provider)
    if isinstance(exc, httpx.ProtocolError | httpx.DecodingError | httpx.TooManyRedirects):
        return ProtocolError(f"{detail}: {exc}", provider=provider)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Unavailable(f"{detail}: misconfigured base URL", provider=provider)
    return Unavailable(detail, provider=provider)


class transport_errors:  # lowercase: used like contextlib's context managers
    """``with transport_errors(provider):`` re-raises httpx errors as ``ProviderError``.

    Safe around code that yields (async generators): only httpx errors are caught, so
    ``GeneratorExit`` and cancellation pass through untouched.
    """

    def __init__(self, provider: str) -> None:
        self._provider = provider

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if isinstance(exc, httpx.HTTPError | httpx.InvalidURL):
            raise map_transport_error(exc, provider=self._provider) from exc


# --------------------------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------------------------

# Bearer-style secrets that upstreams echo back ("Incorrect API key provided: sk-…").
_KEYLIKE = re.compile(r"\b(sk|pk|key|sess)-[A-Za-z0-9_\-*.]{3,}")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove our credentials (and anything key-shaped) from an upstream message."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub(lambda m: f"{m.group(1)}-***", text)


# --------------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------------


# From this size on, answers (a base64 image or more) are parsed by the standard library: orjson
# allocates scratch space many times the input (50 MB and 66 MB for a 4 MB body), which glibc
# maps and unmaps on every call, so each 4 MB answer cost ~2,000 page faults and 2.5 ms, where
# ``json.loads`` of the decoded text takes 1.6 ms and a few dozen faults.
LARGE_JSON_BYTES = 256 * 1024


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # orjson refuses NaN and Infinity too


def load_json(body: bytes | str, *, what: str, provider: str) -> Any:
    """Parse JSON or raise :class:`ProtocolError` (invalid UTF-8 and nesting too deep included)."""
    try:
        if len(body) < LARGE_JSON_BYTES:
            return orjson.loads(body)
        text = body if isinstance(body, str) else body.decode("utf-8")
        return json.loads(text, parse_constant=_no_constants)
    except ValueError as exc:  # json's and orjson's JSONDecodeError, UnicodeDecodeError
        raise ProtocolError(f"{what} is not valid JSON ({exc})", provider=provider) from exc
    except RecursionError as exc:  # json.loads of a deeply nested body (orjson stops at 1024)
        raise ProtocolError(f"{what} is nested too deeply", provider=provider) from exc


# --------------------------------------------------------------------------------------------
# Large base64 strings lifted out of a JSON document
# --------------------------------------------------------------------------------------------

# The base64 alphabet (standard and URL-safe) and padding: text made only of these needs no JSON
# escaping, so it can be cut out of one document and spliced into another as it is.
_B64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_"
_WS = b" \t\r\n"
LIFT_MARK = "#"  # not in the base64 alphabet: a lifted value reads "#<index>" after lifting


def lift_b64(body: bytes, key: str) -> tuple[Any, list[bytes]] | None:
    """Parse ``body`` with the base64 values of every ``key`` lifted out as bytes.

    A multi-megabyte image costs a JSON parser a full scan and a ``str`` copy, and costs the
    renderer another scan when re-serialized; lifted, it is found with ``bytes.find`` (memchr)
    and relayed as the same bytes. Each lifted value reads ``"#<i>"`` in the parsed document,
    ``i`` indexing the returned list. None when nothing was lifted or a value holds an escape
    or non-ASCII text: parse normally then. The rest of the document is parsed strictly
    (orjson), so invalid JSON is still refused by the caller's ``load_json``.

    What is checked of a lifted value is what keeps the gateway's own JSON valid when it is
    spliced in: no quote (it ends at the first), no backslash, ASCII only (each a C-speed
    scan). A full alphabet check costs more than the parse it replaces (2.4 ms per 4 MB,
    measured); it is made on the first 64 characters. A raw control character, invalid in
    the provider's JSON already, is not looked for: it would reach the client as sent.
    """
    needle = b'"' + key.encode() + b'"'
    pieces: list[bytes] = []
    blobs: list[bytes] = []
    cut = pos = 0
    while (start := _value_start(body, needle, pos)[0]) >= 0:
        end = body.find(b'"', start)
        if end < 0:
            return None
        value = body[start:end]
        if not _plain_b64_piece(value) or not _b64_start_ok([value]):
            return None
        pieces += (body[cut:start], f"{LIFT_MARK}{len(blobs)}".encode())
        blobs.append(value)
        cut = pos = end
    if not blobs:
        return None
    pieces.append(body[cut:])
    try:
        return orjson.loads(b"".join(pieces)), blobs
    except orjson.JSONDecodeError:
        return None


def _value_start(buf: bytes | bytearray, needle: bytes, pos: int) -> tuple[int, int]:
    """(start of the next string value of the key ``needle`` in ``buf`` from ``pos``, -1) or
    (-1, where to look again once more text has been appended). A key whose value is not a
    string (null, a number) is passed over, as is the key's text inside another string (it
    would be escaped there)."""
    size = len(buf)
    while (at := buf.find(needle, pos)) >= 0:
        i = at + len(needle)
        while i < size and buf[i] in _WS:
            i += 1
        if i < size and buf[i] == 0x3A:  # ':'
            i += 1
            while i < size and buf[i] in _WS:
                i += 1
            if i < size and buf[i] == 0x22:  # '"': a string value starts
                return i + 1, -1
        if i >= size:
            return -1, at  # cut short: look at this key again with more text
        pos = at + 1  # a value that is not a string, or the text was not a key
    return -1, max(pos, size - len(needle) + 1)


def _plain_b64_piece(piece: bytes) -> bool:
    """What keeps the gateway's JSON valid when the text is spliced in as it is (see
    :func:`lift_b64`): ASCII, no backslash (a quote ends the value where it is found)."""
    return piece.isascii() and piece.find(b"\\") < 0


def lift_b64_pieces(chunks: Sequence[bytes], key: str) -> tuple[Any, list[B64Pieces]] | None:
    """:func:`lift_b64` over a body still in the buffers it arrived in: each value is kept as
    those buffers (the first and last cut at the value's ends), so a multi-megabyte image is
    neither joined into one copy of the body nor sliced out of it. The rest of the document
    (small) is gathered and parsed. Same checks and same None as :func:`lift_b64`.
    """
    needle = b'"' + key.encode() + b'"'
    skeleton = bytearray()
    blobs: list[B64Pieces] = []
    value: list[bytes] | None = None
    scan = 0
    for chunk in chunks:
        if value is not None:
            end = chunk.find(b'"')
            piece = chunk if end < 0 else chunk[:end]
            if not _plain_b64_piece(piece):
                return None
            if piece:
                value.append(piece)
            if end < 0:
                continue
            if not _b64_start_ok(value):
                return None
            blobs.append(B64Pieces(tuple(value)))
            value = None
            chunk = chunk[end:]
        skeleton += chunk
        while value is None:
            start, scan = _value_start(skeleton, needle, scan)
            if start < 0:
                break
            mark = f"{LIFT_MARK}{len(blobs)}".encode()
            end = skeleton.find(b'"', start)
            text = bytes(skeleton[start:] if end < 0 else skeleton[start:end])
            if not _plain_b64_piece(text):
                return None
            if end < 0:  # the value goes on in the next buffers
                value = [text] if text else []
                del skeleton[start:]
                skeleton += mark
                scan = len(skeleton)
                break
            if not _b64_start_ok([text]):
                return None
            blobs.append(B64Pieces((text,)))
            skeleton[start:end] = mark
            scan = start + len(mark)
    if value is not None or not blobs:
        return None
    try:
        return orjson.loads(skeleton), blobs
    except orjson.JSONDecodeError:
        return None


def _b64_start_ok(pieces: list[bytes]) -> bool:
    """The alphabet check :func:`lift_b64` makes, on the first 64 characters."""
    head = pieces[0][:64] if pieces and len(pieces[0]) >= 64 else b"".join(pieces)[:64]
    return not head.translate(None, _B64_TEXT)


def lifted(value: str | None, blobs: Sequence[bytes | B64Pieces]) -> B64Text | None:
    """A field's value after :func:`lift_b64`: the lifted bytes for its mark, else itself."""
    if blobs and value and value[0] == LIFT_MARK and value[1:].isdigit():
        index = int(value[1:])
        if index < len(blobs):
            return blobs[index]
    return value


def form_fields(params: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Multipart text parts, as Stainless-generated SDKs write them.

    ``true``/``false`` for booleans, numbers as text, nested objects in bracket notation
    (``svg[reasoning][effort]``), lists as repeated ``key[]``; ``None`` is omitted.
    """
    out: dict[str, str | list[str]] = {}
    for key, value in params.items():
        _flatten(out, key, value)
    return out


def _flatten(out: dict[str, str | list[str]], key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        for sub, item in value.items():
            _flatten(out, f"{key}[{sub}]", item)
    elif isinstance(value, list | tuple):
        out[f"{key}[]"] = [_scalar(item) for item in value]
    else:
        out[key] = _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------
# Result downloads (URLs taken from a provider's answer)
# --------------------------------------------------------------------------------------------

# A generated image is a few MB; anything past this is not an image we asked for.
DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _effective_port(url: httpx.URL) -> int | None:
    """The port a request to ``url`` goes to: the explicit one, else the scheme's default."""
    return url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme)


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Which URLs from a provider's answer we may fetch, and which of them get our key.

    ``hosts`` are exact host names, ``*.``-prefixed suffixes (``*.bfl.ai``) or globs whose
    ``*`` matches any run of characters (``api*.bfl.ai``: ``api.bfl.ai``, ``api.eu2.bfl.ai``).
    The origin of ``base_url`` (the configured API, or a simulator on loopback) is always
    trusted: same host, same scheme and same effective port (an absent port is the scheme's
    default), so a base URL on plain ``http`` (a local simulator) accepts ``http`` there, while
    an ``https`` base URL never lends its trust to ``http://`` or another port of its host.
    Every other URL must be https on one of ``hosts``. When the base URL is a loopback host,
    every loopback name (``localhost``, ``127.0.0.1``, ``::1``) counts as that host: a local
    server answers under each of them, so an answer naming another alias (on the same scheme
    and port) is still our own server. ``key_hosts`` (same syntax) are the hosts that may
    receive the credential headers, over https on the default port 443 only; the base URL's
    origin always may.
    """

    base_url: str
    hosts: tuple[str, ...] = ()
    key_hosts: tuple[str, ...] = ()

    def _is_base(self, url: httpx.URL) -> bool:
        """Is ``url`` on the base URL's origin (scheme, host or loopback alias, port)?"""
        base = httpx.URL(self.base_url)
        host = (url.host or "").lower()
        base_host = (base.host or "").lower()
        if not host or url.scheme != base.scheme:
            return False
        if _effective_port(url) != _effective_port(base):
            return False
        return host == base_host or (_is_loopback(host) and _is_loopback(base_host))

    @staticmethod
    def _matches(host: str, patterns: tuple[str, ...]) -> bool:
        for pattern in patterns:
            pattern = pattern.lower()
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif "*" in pattern:
                if fnmatchcase(host, pattern):
                    return True
            elif host == pattern:
                return True
        return False

    def check(self, url: str, *, provider: str) -> httpx.URL:
        """The parsed URL, or :class:`ProtocolError` if the provider pointed us elsewhere."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ProtocolError(f"{provider} returned an invalid URL", provider=provider) from exc
        host = (parsed.host or "").lower()
        if parsed.scheme in ("http", "https") and self._is_base(parsed):
            return parsed
        if parsed.scheme == "https" and self._matches(host, self.hosts):
            return parsed
        port = f":{parsed.port}" if parsed.port is not None else ""
        raise ProtocolError(
            f"{provider} returned a URL on an unexpected host ({parsed.scheme}://{host}{port})",
            provider=provider,
        )

    def sends_key(self, url: httpx.URL) -> bool:
        """May this (already checked) URL receive our credentials?"""
        if self._is_base(url):
            return True
        return (
            url.scheme == "https"
            and _effective_port(url) == _DEFAULT_PORTS["https"]
            and self._matches((url.host or "").lower(), self.key_hosts)
        )


async def download(
    client: httpx.AsyncClient,
    url: str,
    policy: UrlPolicy,
    *,
    provider: str,
    key_headers: Mapping[str, str] | None = None,
    http_timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limit: int = DEFAULT_MAX_DOWNLOAD_BYTES,
) -> tuple[bytes, str | None]:
    """GET a result URL from a provider's answer: ``(bytes, content-type)``.

    The URL must pass ``policy``; ``key_headers`` are sent only where ``policy`` allows. No
    redirects are followed (a signed URL that redirects elsewhere is refused). An expired or
    missing result (4xx) is a :class:`ProtocolError`, a 5xx :class:`Unavailable`.
    """
    parsed = policy.check(url, provider=provider)
    headers = dict(key_headers or {}) if policy.sends_key(parsed) else {}
    with transport_errors(provider):
        async with client.stream(
            "GET", parsed, headers=headers, timeout=http_timeout, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                message = f"{provider} result download answered HTTP {response.status_code}"
                if response.status_code >= 500:
                    raise Unavailable(message, provider=provider, status_code=response.status_code)
                raise ProtocolError(message, provider=provider, status_code=response.status_code)
            body = await read_body(response, limit=limit)
            content_type = response.headers.get("content-type")
    return body, content_type
