"""The shared renderer: real, deterministic, correctly sized images in every format."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

from simulator import render


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
@pytest.mark.parametrize(("width", "height"), [(1024, 1024), (1536, 1024), (333, 1000)])
def test_formats_and_sizes(fmt: render.ImageFormat, pil: str, width: int, height: int) -> None:
    data = render.render_bytes(width, height, fmt, prompt="a red fox")
    img = Image.open(io.BytesIO(data))
    assert (img.format, img.size) == (pil, (width, height))
    assert render.image_format(data) == fmt
    assert render.dimensions(data) == (width, height)


def test_deterministic_per_prompt_and_seed() -> None:
    a = render.render_bytes(256, 256, "png", prompt="fox", seed=1)
    assert a == render.render_bytes(256, 256, "png", prompt="fox", seed=1)
    assert a != render.render_bytes(256, 256, "png", prompt="fox", seed=2)
    assert a != render.render_bytes(256, 256, "png", prompt="cat", seed=1)


def test_transparency_only_where_the_format_allows() -> None:
    rgba = Image.open(
        io.BytesIO(render.render_bytes(512, 512, "png", prompt="s", transparent=True))
    )
    assert rgba.mode == "RGBA" and rgba.getchannel("A").getextrema() == (0, 255)
    jpeg = Image.open(
        io.BytesIO(render.render_bytes(512, 512, "jpeg", prompt="s", transparent=True))
    )
    assert jpeg.mode == "RGB"


def test_partial_progress_differs_from_final() -> None:
    final = render.render(128, 128, prompt="p")
    partial = render.render(128, 128, prompt="p", progress=0.3)
    assert final.size == partial.size and final.tobytes() != partial.tobytes()


def test_edit_base_changes_the_picture() -> None:
    base = Image.new("RGB", (64, 32), "blue")
    assert (
        render.render(128, 64, prompt="p", base=base).tobytes()
        != render.render(128, 64, prompt="p").tobytes()
    )


def test_helpers() -> None:
    data = render.render_bytes(64, 64, "webp", prompt="p")
    assert base64.b64decode(render.b64(data)) == data
    assert render.data_url(data, "webp").startswith("data:image/webp;base64,")
    assert render.image_format(b"GIF89a...") is None
    with pytest.raises(ValueError, match="not a readable image"):
        render.dimensions(b"garbage")
    with pytest.raises(ValueError, match="not a readable image"):
        render.open_image(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ValueError, match="invalid size"):
        render.render(0, 10, prompt="p")


def test_1024_square_png_is_fast() -> None:
    render.render_bytes(1024, 1024, "png", prompt="warm-up")
    started = time.perf_counter()
    for seed in range(5):
        render.render_bytes(1024, 1024, "png", prompt="speed", seed=seed)
    # ~30 ms on a laptop-class core; the bound leaves room for a busy CI machine.
    assert (time.perf_counter() - started) / 5 < 0.15


async def test_render_cache_reuses_and_evicts() -> None:
    cache = render.RenderCache(max_entries=2)
    first = await cache.render(64, 64, "png", prompt="a")
    assert await cache.render(64, 64, "png", prompt="a") is first
    assert await cache.render(64, 64, "png", prompt="a", base_key="other") is not first
    await cache.render(64, 64, "png", prompt="b")  # evicts the least recently used ("a")
    again = await cache.render(64, 64, "png", prompt="a")
    assert again == first and again is not first
