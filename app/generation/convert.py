"""Make the returned images match the ``output_format`` the caller asked for.

Some providers cannot choose their output encoding (Gemini answers JPEG whatever is wanted).
Where such an endpoint still advertises ``output_format`` (the catalog promises the format),
the gateway converts with Pillow. Normalization has already rejected ``output_format`` on
endpoints that do not advertise it, so a requested format here is always one the endpoint
promised. ``media_type`` always describes the bytes actually returned.

Conversion is CPU work on multi-megabyte images: it runs in a worker thread, and only when the
provider's bytes differ from the requested format (a matching image is relayed untouched).
"""

from __future__ import annotations

import asyncio
import base64
import io

from PIL import Image

from providers._media import media_type_for_format, plain_b64
from providers.errors import ProtocolError
from providers.spec import GeneratedImage

RASTER = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def needs_conversion(image: GeneratedImage, output_format: str | None) -> bool:
    """True when ``output_format`` is a raster format the image is not already in."""
    if output_format not in RASTER:
        return False
    return image.media_type != media_type_for_format(output_format)


def convert_image(
    image: GeneratedImage, output_format: str, compression: int | None
) -> GeneratedImage:
    """Re-encode one image (blocking). JPEG drops alpha onto white; quality from compression."""
    with Image.open(io.BytesIO(base64.b64decode(plain_b64(image.b64)))) as src:
        src.load()
        img: Image.Image = src
        if output_format == "jpeg" and img.mode in ("RGBA", "LA", "P"):
            rgba = img.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            img = flat
        elif output_format == "jpeg" and img.mode != "RGB":
            img = img.convert("RGB")
        buf = io.BytesIO()
        options: dict[str, object] = {}
        if output_format in ("jpeg", "webp"):
            options["quality"] = 90 if compression is None else max(1, min(compression, 95))
        if output_format == "png":
            options["compress_level"] = 6
        img.save(buf, RASTER[output_format], **options)
        width, height = img.size
    media_type = media_type_for_format(output_format)
    assert media_type is not None
    return GeneratedImage(
        b64=base64.b64encode(buf.getvalue()).decode("ascii"),
        media_type=media_type,
        width=width,
        height=height,
    )


async def conform(
    images: tuple[GeneratedImage, ...],
    output_format: str | None,
    compression: int | None,
    provider: str = "",
) -> tuple[tuple[GeneratedImage, ...], tuple[str, ...]]:
    """The images in ``output_format``, plus a note for each one the gateway re-encoded.

    An image the provider sent that cannot be decoded is the provider's failure
    (:class:`ProtocolError`), never the gateway's 500.
    """
    if not any(needs_conversion(i, output_format) for i in images):
        return images, ()
    assert output_format is not None
    out: list[GeneratedImage] = []
    notes: list[str] = []
    for image in images:
        if needs_conversion(image, output_format):
            try:
                converted = await asyncio.to_thread(
                    convert_image, image, output_format, compression
                )
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise ProtocolError(
                    f"the provider returned an image that cannot be decoded ({image.media_type})",
                    provider=provider,
                ) from exc
            notes.append(
                f"the provider returned {image.media_type}; the gateway converted it to "
                f"{converted.media_type}"
            )
            out.append(converted)
        else:
            out.append(image)
    return tuple(out), tuple(dict.fromkeys(notes))
