"""providers/_media.py: sniffing, header dimensions, data URLs (real images made with Pillow)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from providers import _media as m


def encode(width: int, height: int, fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    mode = "P" if fmt == "GIF" else ("RGBA" if fmt in ("PNG", "WEBP") else "RGB")
    Image.new(mode, (width, height)).save(buf, format=fmt, **save)
    return buf.getvalue()


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'

CASES = [
    ("PNG", {}, "image/png"),
    ("JPEG", {}, "image/jpeg"),
    ("JPEG", {"progressive": True}, "image/jpeg"),
    ("WEBP", {"lossless": True}, "image/webp"),  # VP8L
    ("WEBP", {"quality": 80}, "image/webp"),  # VP8X (alpha) or VP8
    ("GIF", {}, "image/gif"),
]


@pytest.mark.parametrize(("fmt", "save", "media_type"), CASES)
@pytest.mark.parametrize(("width", "height"), [(1, 1), (1536, 1024), (333, 4097)])
def test_sniff_and_dimensions(
    fmt: str, save: dict[str, object], media_type: str, width: int, height: int
) -> None:
    data = encode(width, height, fmt, **save)
    assert m.sniff_media_type(data) == media_type
    assert m.image_dimensions(data) == (width, height)
    b64 = base64.b64encode(data).decode()
    assert m.sniff_b64_media_type(b64) == media_type
    assert m.b64_image_dimensions(b64) == (width, height)


def test_webp_lossy_rgb_is_plain_vp8() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (100, 60)).save(buf, format="WEBP", quality=50)
    data = buf.getvalue()
    assert data[12:16] == b"VP8 "
    assert m.image_dimensions(data) == (100, 60)


def test_jpeg_with_large_exif_before_sof() -> None:
    """SOF beyond the decoded prefix: the whole payload is decoded as a fallback."""
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription
    data = encode(70, 50, "JPEG", exif=exif.tobytes())
    assert m.b64_image_dimensions(base64.b64encode(data).decode()) == (70, 50)


def test_svg_and_unknown() -> None:
    assert m.sniff_media_type(SVG) == "image/svg+xml"
    assert m.sniff_media_type(b"  <svg/>") == "image/svg+xml"
    assert m.sniff_media_type(b"<?xml version='1.0'?><html/>") is None
    assert m.sniff_media_type(b"hello") is None
    assert m.image_dimensions(SVG) is None
    assert m.image_dimensions(b"\x89PNG\r\n\x1a\n\x00") is None  # truncated header
    assert m.sniff_b64_media_type("not base64 at all!") is None


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("1024x1536", (1024, 1536)),
        (" 16 X 9 ", (16, 9)),
        ("auto", None),
        (None, None),
        ("0x5", None),
        ("1024", None),
    ],
)
def test_parse_size(size: str | None, expected: tuple[int, int] | None) -> None:
    assert m.parse_size(size) == expected


def test_formats_and_extensions() -> None:
    assert m.media_type_for_format("jpeg") == "image/jpeg"
    assert m.media_type_for_format("SVG") == "image/svg+xml"
    assert m.media_type_for_format("tiff") is None
    assert m.media_type_for_format(None) is None
    assert m.extension_for("image/jpeg") == "jpg"
    assert m.extension_for("image/x-unknown") == "bin"


def test_data_urls() -> None:
    png = encode(2, 2, "PNG")
    url = m.encode_data_url(png)
    assert url.startswith("data:image/png;base64,")
    assert m.parse_data_url(url) == ("image/png", png)
    assert m.to_data_url("AAAA", "image/webp") == "data:image/webp;base64,AAAA"
    assert m.parse_data_url("data:text/plain;charset=utf-8,a%20b") == ("text/plain", b"a b")
    with pytest.raises(ValueError, match="not a data"):
        m.parse_data_url("https://example.com/x.png")
    with pytest.raises(ValueError, match="invalid base64"):
        m.parse_data_url("data:image/png;base64,@@@")
