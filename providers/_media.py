"""Media helpers shared by adapters: sniffing, header-only dimensions, base64 and data URLs.

Dimensions are read from the container header (PNG IHDR, GIF screen descriptor, WebP VP8/
VP8L/VP8X chunk, JPEG SOF marker) without decoding pixels; everything here is pure.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from providers.spec import B64Pieces, B64Text

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
GIF = "image/gif"
SVG = "image/svg+xml"

_FORMAT_TO_TYPE = {"png": PNG, "jpeg": JPEG, "jpg": JPEG, "webp": WEBP, "gif": GIF, "svg": SVG}
_TYPE_TO_EXT = {PNG: "png", JPEG: "jpg", WEBP: "webp", GIF: "gif", SVG: "svg"}

# Enough base64 to cover any sniffable header and most JPEG SOF positions.
_B64_HEADER_CHARS = 64 * 1024
_SIZE = re.compile(r"^\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*$")
_DATA_URL = re.compile(
    r"^data:(?P<type>[^;,]*)(?P<params>(;[^;,]*)*?)(?P<b64>;base64)?,(?P<body>.*)$", re.S
)


def media_type_for_format(output_format: str | None) -> str | None:
    """``"webp"`` → ``"image/webp"``; ``None`` or unknown → ``None``."""
    if output_format is None:
        return None
    return _FORMAT_TO_TYPE.get(output_format.strip().lower())


def extension_for(media_type: str) -> str:
    """A filename extension for a media type (``bin`` when unknown)."""
    return _TYPE_TO_EXT.get(media_type.split(";")[0].strip().lower(), "bin")


@lru_cache(maxsize=512)  # a handful of sizes recur on every answer
def parse_size(size: str | None) -> tuple[int, int] | None:
    """``"1536x1024"`` → ``(1536, 1024)``; ``"auto"``, ``None`` or junk → ``None``."""
    if size is None:
        return None
    match = _SIZE.match(size)
    if match is None:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    return (width, height) if width > 0 and height > 0 else None


# --------------------------------------------------------------------------------------------
# Sniffing
# --------------------------------------------------------------------------------------------


def sniff_media_type(data: bytes) -> str | None:
    """The media type from magic bytes (png, jpeg, webp, gif, svg), or ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if _looks_like_svg(data[:4096]):
        return SVG
    return None


def _looks_like_svg(head: bytes) -> bool:
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(b"<svg"):
        return True
    return text.startswith((b"<?xml", b"<!--", b"<!doctype svg")) and b"<svg" in text


def plain_b64(b64: B64Text) -> str | bytes:
    """Base64 text in one piece (pieces kept apart for relaying are joined)."""
    return b64.joined() if isinstance(b64, B64Pieces) else b64


def b64_head(b64: B64Text, chars: int = _B64_HEADER_CHARS) -> bytes:
    """Decode only the first ``chars`` characters (rounded down to a multiple of 4)."""
    head = b64.prefix(chars + 64) if isinstance(b64, B64Pieces) else b64[: chars + 64]
    text = head.decode("ascii", "replace") if isinstance(head, bytes) else head
    prefix = "".join(text.split())[:chars]  # tolerate wrapped base64
    prefix = prefix[: len(prefix) - len(prefix) % 4]
    try:
        return base64.b64decode(prefix, validate=False)
    except (binascii.Error, ValueError):
        return b""


def sniff_b64_media_type(b64: B64Text) -> str | None:
    """Sniff a base64 payload from its first bytes without decoding the rest."""
    return sniff_media_type(b64_head(b64, 8192))


# --------------------------------------------------------------------------------------------
# Dimensions
# --------------------------------------------------------------------------------------------


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header of a PNG/GIF/WebP/JPEG, or ``None``."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return _positive(width, height)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return _positive(width, height)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_dimensions(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_dimensions(data)
    except struct.error:
        return None  # header shorter than its format promises: unknown, not an error
    return None


def b64_image_dimensions(b64: B64Text) -> tuple[int, int] | None:
    """Dimensions of a base64 image: decode a prefix, the whole payload only if needed."""
    dims = image_dimensions(b64_head(b64))
    if dims is None and len(b64) > _B64_HEADER_CHARS:
        dims = image_dimensions(b64_head(b64, len(b64)))  # e.g. JPEG with a huge EXIF block
    return dims


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _positive(width, height)
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return _positive((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return _positive(width & 0x3FFF, height & 0x3FFF)
    return None


# Start-of-frame markers carry the frame size (all SOFn except DHT C4, JPG C8, DAC CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    pos = 2
    end = len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers: no length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return _positive(width, height)
        pos += 2 + length
    return None


# --------------------------------------------------------------------------------------------
# Data URLs
# --------------------------------------------------------------------------------------------


def to_data_url(b64: B64Text, media_type: str) -> str:
    """``data:<media_type>;base64,<b64>`` (the payload is used as given)."""
    plain = plain_b64(b64)
    text = plain.decode("ascii") if isinstance(plain, bytes) else plain
    return f"data:{media_type};base64,{text}"


def encode_data_url(data: bytes, media_type: str | None = None) -> str:
    """A base64 data URL for raw bytes; the media type is sniffed when not given."""
    kind = media_type or sniff_media_type(data) or "application/octet-stream"
    return to_data_url(base64.b64encode(data).decode("ascii"), kind)


def parse_data_url(url: str) -> tuple[str, bytes]:
    """``(media_type, bytes)`` from a data URL; ``ValueError`` if it is not one."""
    match = _DATA_URL.match(url)
    if match is None:
        raise ValueError("not a data: URL")
    media_type = match.group("type").strip().lower() or "text/plain"
    body = match.group("body")
    if match.group("b64") is None:
        return media_type, unquote_to_bytes(body)
    try:
        return media_type, base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"data: URL has invalid base64: {exc}") from exc
