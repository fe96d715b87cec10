"""Reference images re-encoded for a provider that cannot take them as the caller sent them.

The one place references are decoded and re-encoded. The gateway itself uses :func:`convert` to
turn a GIF into a PNG of its first frame (no provider takes GIF), so adapters see PNG, JPEG and
WebP of any size the byte limits allow; a few providers are narrower still: Microsoft's MAI
takes PNG or JPEG only, and Riverflow 2.0 on Runware takes 300-2048 pixels per side. Refusing
those references would make the same request succeed or fail with the endpoint routing happens
to pick, so the adapter converts them instead: a WebP becomes a PNG (transparency kept), an
image outside the side limits is scaled (aspect ratio kept, Lanczos) and re-encoded in its own
format.

Blocking (Pillow): call :func:`adapted` from async code, which does the work in a thread and
only when an image needs it, once per image however many calls of one request need it (an
``n`` split into several calls running at once). An image that cannot be
brought within the limits (an aspect ratio too extreme for both bounds at once), whose canvas
is above :data:`MAX_PIXELS` (checked before decoding: a few hundred kilobytes can declare
gigabytes of pixels) or that cannot be read is the caller's 400. A photo's EXIF orientation is
applied and its colour profile kept, so the provider sees it as the caller does.
"""

from __future__ import annotations

import asyncio
import io
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps

from providers._media import image_dimensions, sniff_media_type
from providers.errors import InvalidRequest
from providers.spec import InputImage

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# The decoder each sniffed type is opened with (no other is tried on the caller's bytes).
_DECODERS = {**_FORMATS, "image/gif": "GIF"}
JPEG_QUALITY = 95
# Largest canvas decoded for a conversion (as for GIF references): 40 MP is 160 MB as RGBA.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True, slots=True)
class Needs:
    """What a provider takes: media types (others become PNG) and, optionally, side bounds."""

    media_types: frozenset[str] = frozenset(_FORMATS)
    min_side: int | None = None
    max_side: int | None = None

    def fits(self, image: InputImage) -> bool:
        if _media_type(image) not in self.media_types:
            return False
        if self.min_side is None and self.max_side is None:
            return True
        dims = image_dimensions(image.data)
        if dims is None:
            return False
        short, long = sorted(dims)
        return (self.min_side is None or short >= self.min_side) and (
            self.max_side is None or long <= self.max_side
        )


# Conversions in flight, shared by the calls of one request that run at once (an ``n`` split
# into concurrent calls): keyed by the identity of the reference's bytes (one object for every
# call of a request) and what is asked of it; an entry goes when its conversion ends, so no
# request's bytes outlive it here.
_SHARED: OrderedDict[tuple[int, Needs, int], tuple[bytes, asyncio.Future[InputImage]]]
_SHARED = OrderedDict()
_SHARED_MAX = 16


async def adapted(
    images: tuple[InputImage, ...], needs: Needs, *, provider: str, what: str = "reference image"
) -> tuple[InputImage, ...]:
    """``images`` with each one ``needs`` refuses converted (in a thread); the same tuple,
    untouched, when every image already fits."""
    if all(needs.fits(image) for image in images):
        return images
    out = []
    for index, image in enumerate(images, start=1):
        if needs.fits(image):
            out.append(image)
        else:
            out.append(await _shared(image, needs, f"{what} {index}", provider))
    return tuple(out)


async def _shared(image: InputImage, needs: Needs, name: str, provider: str) -> InputImage:
    """One conversion of ``image`` for every caller that needs it at about the same time."""
    loop = asyncio.get_running_loop()
    key = (id(image.data), needs, id(loop))
    entry = _SHARED.get(key)
    if entry is None or entry[0] is not image.data:  # an id reused by other bytes: not ours
        work: Callable[[], InputImage] = lambda: convert(  # noqa: E731
            image, needs, name, provider
        )
        future: asyncio.Future[InputImage] = loop.run_in_executor(None, work)
        entry = _SHARED[key] = (image.data, future)
        future.add_done_callback(lambda done: _forget(key, done))
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.popitem(last=False)
    return await asyncio.shield(entry[1])


def _forget(key: tuple[int, Needs, int], done: asyncio.Future[InputImage]) -> None:
    """Drop a finished conversion (its waiters have it); its error counts as seen, since a
    caller that left may have been its only waiter."""
    entry = _SHARED.get(key)
    if entry is not None and entry[1] is done:
        del _SHARED[key]
    if not done.cancelled():
        done.exception()


def converted(
    images: Sequence[InputImage], needs: Needs, *, provider: str, what: str = "reference image"
) -> tuple[InputImage, ...]:
    """Blocking form of :func:`adapted`: every image that does not fit, re-encoded."""
    return tuple(
        image if needs.fits(image) else convert(image, needs, f"{what} {index}", provider)
        for index, image in enumerate(images, start=1)
    )


def _media_type(image: InputImage) -> str:
    return sniff_media_type(image.data[:64]) or image.media_type


def convert(image: InputImage, needs: Needs, name: str, provider: str = "") -> InputImage:
    """``image`` in a type ``needs`` takes (its own, else PNG) and within its side bounds;
    blocking. A first frame for an animation. Failures are :class:`InvalidRequest` naming the
    image as ``name``."""
    media_type = _media_type(image)
    target = media_type if media_type in needs.media_types else "image/png"
    decoder = _DECODERS.get(media_type)
    try:
        if decoder is None:
            raise ValueError(f"no decoder for {media_type}")
        with Image.open(io.BytesIO(image.data), formats=(decoder,)) as source:
            width, height = source.size
            if width * height > MAX_PIXELS:
                raise InvalidRequest(
                    f"{name} is {width}x{height} pixels; at most {MAX_PIXELS:,} pixels can be "
                    "converted",
                    provider=provider,
                    code="image_too_large",
                )
            icc = source.info.get("icc_profile")
            upright = ImageOps.exif_transpose(source)  # a phone photo's orientation applied
            if upright.mode == "P":  # palette (GIF): resized and stored as true colour
                upright = upright.convert("RGBA" if "transparency" in upright.info else "RGB")
            size = _scaled(upright.size, needs, name, provider)
            lanczos = Image.Resampling.LANCZOS
            picture = upright if size == upright.size else upright.resize(size, lanczos)
            return InputImage(data=_encode(picture, target, icc), media_type=target)
    except Image.DecompressionBombError as exc:
        raise InvalidRequest(
            f"{name} is too large to read (at most {MAX_PIXELS:,} pixels)",
            provider=provider,
            code="image_too_large",
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidRequest(
            f"{name} could not be read as an image", provider=provider, code="invalid_image"
        ) from exc


def _scaled(size: tuple[int, int], needs: Needs, name: str, provider: str) -> tuple[int, int]:
    width, height = size
    scale = 1.0
    if needs.max_side is not None and max(width, height) > needs.max_side:
        scale = needs.max_side / max(width, height)
    elif needs.min_side is not None and min(width, height) < needs.min_side:
        scale = needs.min_side / min(width, height)
    if scale == 1.0:
        return size
    # Rounding toward the bound that was crossed keeps it met exactly.
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    short, long = sorted(new)
    if (needs.min_side is not None and short < needs.min_side) or (
        needs.max_side is not None and long > needs.max_side
    ):
        raise InvalidRequest(
            f"{name} is {width}x{height}: this provider takes {needs.min_side or 1}-"
            f"{needs.max_side or 'any'} pixels per side, which no scaling of that aspect ratio "
            "meets",
            provider=provider,
            code="unsupported_image_size",
        )
    return new


def _encode(picture: Image.Image, media_type: str, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    kind = _FORMATS[media_type]
    extra = {"icc_profile": icc} if icc else {}
    if kind == "JPEG":
        picture = picture.convert("RGB") if picture.mode not in ("RGB", "L", "CMYK") else picture
        picture.save(out, kind, quality=JPEG_QUALITY, **extra)
    elif kind == "PNG":
        if picture.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            picture = picture.convert("RGBA" if "A" in picture.getbands() else "RGB")
        picture.save(out, kind, **extra)
    else:
        picture.save(out, kind, quality=JPEG_QUALITY, **extra)
    return out.getvalue()
