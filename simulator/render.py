"""Deterministic, fast rendering of real images for the provider simulators.

Every simulator answers with genuine, decodable images of the requested size and format, so
tests can check dimensions and encodings end to end. The picture is a function of the prompt
and a seed only: a gradient with a few shapes, drawn on a small canvas and upscaled (cheap),
plus a caption drawn at full resolution. Encoding dominates the cost, so PNG uses the fastest
zlib level; a 1024x1024 PNG takes a few tens of milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import random
from collections import OrderedDict
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFilter, ImageFont

ImageFormat = Literal["png", "jpeg", "webp"]

_PIL_FORMATS: dict[str, ImageFormat] = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
_CANVAS = 48  # edge of the small canvas the scene is drawn on before upscaling
_MIME: dict[ImageFormat, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def seed_for(*parts: object) -> int:
    """A stable 64-bit seed from arbitrary parts (e.g. prompt and image index)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _scene(rng: random.Random, w: int, h: int, transparent: bool) -> Image.Image:
    """A gradient with shapes on a small canvas of the target aspect ratio.

    Transparent scenes keep the shapes opaque on a fully transparent background (like a cut-out
    subject); a binary alpha also keeps PNG/WebP encoding fast.
    """
    c1 = tuple(rng.randrange(256) for _ in range(3))
    c2 = tuple(rng.randrange(256) for _ in range(3))
    ramp = Image.linear_gradient("L").resize((w, h))
    img = Image.composite(Image.new("RGB", (w, h), c2), Image.new("RGB", (w, h), c1), ramp)
    mask = Image.new("L", (w, h), 0)
    draw, mask_draw = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    for _ in range(rng.randint(3, 6)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randint(2, w // 2 + 2), y0 + rng.randint(2, h // 2 + 2))
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape(box, fill=fill)
        (mask_draw.ellipse if shape == draw.ellipse else mask_draw.rectangle)(box, fill=255)
    if not transparent:
        return img
    cut = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    cut.paste(img, (0, 0), mask)
    return cut


def _caption(img: Image.Image, text: str) -> None:
    size = max(12, min(img.width, img.height) // 28)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(img)
    pad = size // 2
    box = draw.textbbox((pad, pad), text, font=font)
    draw.rectangle((box[0] - 4, box[1] - 4, box[2] + 4, box[3] + 4), fill=(0, 0, 0, 160))
    draw.text((pad, pad), text, font=font, fill=(255, 255, 255, 255))


def render(
    width: int,
    height: int,
    *,
    prompt: str,
    seed: int = 0,
    transparent: bool = False,
    progress: float = 1.0,
    base: Image.Image | None = None,
) -> Image.Image:
    """Render a deterministic picture for ``prompt``/``seed`` at exactly ``width``x``height``.

    ``progress`` < 1 gives a blurrier, unlabelled version (for streamed partial images);
    ``base`` (an input image of an edit) is blended into the scene.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid size {width}x{height}")
    rng = random.Random(seed_for(prompt, seed))
    scale = _CANVAS / max(width, height)
    cw, ch = max(2, round(width * scale)), max(2, round(height * scale))
    small = _scene(rng, cw, ch, transparent)
    if base is not None:
        thumb = base.convert(small.mode).resize((cw, ch), Image.Resampling.BILINEAR)
        small = Image.blend(small, thumb, 0.5)
    if progress < 1.0:
        small = small.filter(ImageFilter.GaussianBlur(radius=(1.0 - progress) * 4))
    img = small.resize((width, height), Image.Resampling.BILINEAR)
    if progress >= 1.0:
        _caption(img, f"{prompt[:60]} · {width}x{height} · #{seed}")
    return img


def encode(img: Image.Image, fmt: ImageFormat, *, quality: int = 100) -> bytes:
    """Encode as PNG, JPEG or WebP; ``quality`` (0-100) applies to the lossy formats."""
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)
    elif fmt == "jpeg":
        img.convert("RGB").save(buf, "JPEG", quality=max(1, min(quality, 95)))
    elif fmt == "webp" and img.mode == "RGBA":
        # Lossy WebP with alpha is slow to encode; fast lossless suits the binary-alpha scene.
        img.save(buf, "WEBP", lossless=True, quality=0, method=0)
    elif fmt == "webp":
        img.save(buf, "WEBP", quality=max(1, quality), method=0)
    else:
        raise ValueError(f"unsupported image format {fmt!r}")
    return buf.getvalue()


def render_bytes(
    width: int,
    height: int,
    fmt: ImageFormat,
    *,
    prompt: str,
    seed: int = 0,
    transparent: bool = False,
    quality: int = 100,
    progress: float = 1.0,
    base: Image.Image | None = None,
) -> bytes:
    """``render`` then ``encode`` in one call (transparency is kept for png/webp only)."""
    img = render(
        width,
        height,
        prompt=prompt,
        seed=seed,
        transparent=transparent and fmt != "jpeg",
        progress=progress,
        base=base,
    )
    return encode(img, fmt, quality=quality)


class RenderCache:
    """A small LRU of encoded images, one per simulator app.

    Repeated requests (benchmarks, retries, the same prompt in many tests) then cost no CPU, so a
    simulator sharing a machine with the gateway under test does not distort its timings.
    Rendering itself runs in a worker thread, off the event loop.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[object, ...], bytes] = OrderedDict()

    async def render(
        self,
        width: int,
        height: int,
        fmt: ImageFormat,
        *,
        prompt: str,
        seed: int = 0,
        transparent: bool = False,
        quality: int = 100,
        progress: float = 1.0,
        base: Image.Image | None = None,
        base_key: str = "",
    ) -> bytes:
        """``render_bytes`` with caching; ``base_key`` must identify ``base`` (e.g. a digest)."""
        key = (width, height, fmt, prompt, seed, transparent, quality, progress, base_key)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        data = await asyncio.to_thread(
            render_bytes,
            width,
            height,
            fmt,
            prompt=prompt,
            seed=seed,
            transparent=transparent,
            quality=quality,
            progress=progress,
            base=base,
        )
        self._entries[key] = data
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return data


def b64(data: bytes) -> str:
    """Standard base64 text, as the providers put it in JSON.

    A :func:`fixed_image` is encoded once: re-encoding megabytes on every request would make a
    benchmark measure the simulator instead of what it is pointed at.
    """
    known = _ENCODED.get(id(data))
    if known is not None and known[0] is data:
        return known[1]
    return base64.b64encode(data).decode("ascii")


# id(bytes) -> (those bytes, their base64): only for fixed images, which live for the process.
_ENCODED: dict[int, tuple[bytes, str]] = {}


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    """Random RGB pixels as PNG: incompressible, so about 4 MB of base64 at 1024x1024."""
    rng = random.Random(seed)
    img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    return encode(img, "png")


@functools.cache
def fixed_image(spec: str) -> bytes:
    """The picture of the ``fixed_image`` knob: ``tiny``, ``noise`` or a file path."""
    if spec == "tiny":
        data = render_bytes(64, 64, "png", prompt="tiny")
    elif spec == "noise":
        data = noise_png(1024, 1024)
    else:
        data = Path(spec).read_bytes()
        if image_format(data) is None:
            raise ValueError(f"fixed_image {spec!r} is not a PNG, JPEG or WebP file")
    _ENCODED[id(data)] = (data, base64.b64encode(data).decode("ascii"))
    return data


def data_url(data: bytes, fmt: ImageFormat) -> str:
    """A ``data:`` URL for encoded image bytes."""
    return f"data:{_MIME[fmt]};base64,{b64(data)}"


def open_image(data: bytes) -> Image.Image:
    """Open and fully load encoded bytes; raises ``ValueError`` on anything Pillow can't read."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as exc:  # Pillow raises a variety of errors for garbage input
        raise ValueError(f"not a readable image: {exc}") from exc
    return img


def image_format(data: bytes) -> ImageFormat | None:
    """``png``/``jpeg``/``webp`` for bytes in those formats, else None (header sniffing only)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes, without decoding the pixels."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception as exc:
        raise ValueError(f"not a readable image: {exc}") from exc
