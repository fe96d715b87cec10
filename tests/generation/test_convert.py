"""The gateway re-encodes images only when the provider's format differs from the request."""

from __future__ import annotations

import base64
import io

from PIL import Image

from app.generation.convert import conform
from providers.spec import GeneratedImage


def _image(fmt: str, mode: str = "RGB") -> GeneratedImage:
    buf = io.BytesIO()
    Image.new(mode, (40, 30), (10, 200, 30, 128) if mode == "RGBA" else (10, 200, 30)).save(
        buf, fmt
    )
    media = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return GeneratedImage(b64=base64.b64encode(buf.getvalue()).decode(), media_type=media)


def _decoded(image: GeneratedImage) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(image.b64)))
    img.load()
    return img


async def test_a_jpeg_becomes_the_png_that_was_asked_for() -> None:
    (out,), notes = await conform((_image("JPEG"),), "png", None)
    assert out.media_type == "image/png" and _decoded(out).format == "PNG"
    assert (out.width, out.height) == (40, 30)
    assert notes and "image/jpeg" in notes[0]


async def test_alpha_is_flattened_for_jpeg_and_webp_keeps_compression() -> None:
    (jpeg,), _ = await conform((_image("PNG", "RGBA"),), "jpeg", 50)
    assert _decoded(jpeg).format == "JPEG" and _decoded(jpeg).mode == "RGB"
    (webp,), _ = await conform((_image("PNG"),), "webp", 80)
    assert _decoded(webp).format == "WEBP" and webp.media_type == "image/webp"


async def test_matching_or_unrequested_formats_are_relayed_untouched() -> None:
    png = _image("PNG")
    assert await conform((png,), "png", None) == ((png,), ())
    assert await conform((png,), None, None) == ((png,), ())
    assert await conform((png,), "svg", None) == ((png,), ())
