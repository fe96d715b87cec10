"""Reference images converted for providers narrower than the gateway (providers/_reframe.py)."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from providers._reframe import Needs, adapted, converted
from providers.errors import InvalidRequest
from providers.spec import InputImage

PNG_OR_JPEG = Needs(media_types=frozenset({"image/png", "image/jpeg"}))
SIDES = Needs(min_side=300, max_side=2048)


def image(width: int, height: int, fmt: str = "PNG", mode: str = "RGB") -> InputImage:
    buf = io.BytesIO()
    color = (200, 10, 10, 128) if mode == "RGBA" else "red"
    Image.new(mode, (width, height), color).save(buf, format=fmt)
    kind = "jpeg" if fmt == "JPEG" else fmt.lower()
    return InputImage(data=buf.getvalue(), media_type=f"image/{kind}")


def opened(found: InputImage) -> Image.Image:
    picture = Image.open(io.BytesIO(found.data))
    picture.load()
    return picture


def test_a_webp_becomes_a_png_of_the_same_size_with_its_transparency() -> None:
    (png,) = converted([image(40, 30, "WEBP", "RGBA")], PNG_OR_JPEG, provider="azure")
    picture = opened(png)
    assert png.media_type == "image/png" and picture.format == "PNG"
    assert picture.size == (40, 30) and picture.mode == "RGBA"
    assert picture.getpixel((5, 5))[3] == 128


def test_images_that_fit_are_passed_through_untouched() -> None:
    images = (image(40, 30), image(40, 30, "JPEG"))
    assert asyncio.run(adapted(images, PNG_OR_JPEG, provider="azure")) is images
    assert converted(images, PNG_OR_JPEG, provider="azure") == images


@pytest.mark.parametrize(
    ("size", "fmt", "expected"),
    [
        ((4032, 3024), "JPEG", (2048, 1536)),  # a phone photo: longest side down to 2048
        ((96, 64), "PNG", (450, 300)),  # shortest side up to 300
        ((2100, 350), "WEBP", (2048, 341)),
    ],
)
def test_sides_are_scaled_into_bounds_in_the_images_own_format(
    size: tuple[int, int], fmt: str, expected: tuple[int, int]
) -> None:
    source = image(*size, fmt)
    (found,) = converted([source], SIDES, provider="sourceful")
    picture = opened(found)
    assert picture.size == expected and found.media_type == source.media_type
    assert picture.format == fmt


def test_only_the_images_that_do_not_fit_are_converted() -> None:
    fits, small = image(300, 2048), image(100, 100)
    out = converted([fits, small], SIDES, provider="sourceful")
    assert out[0] is fits and opened(out[1]).size == (300, 300)


@pytest.mark.parametrize("size", [(4000, 200), (200, 4000)])
def test_an_aspect_ratio_no_scaling_can_fit_is_a_400_naming_the_image(
    size: tuple[int, int],
) -> None:
    with pytest.raises(InvalidRequest, match=r"reference image 2 is \d+x\d+") as info:
        converted([image(400, 400), image(*size)], SIDES, provider="sourceful")
    assert info.value.provider == "sourceful" and info.value.code == "unsupported_image_size"


def test_unreadable_bytes_are_a_400() -> None:
    broken = InputImage(data=b"RIFF\x10\x00\x00\x00WEBPVP8 nonsense", media_type="image/webp")
    with pytest.raises(InvalidRequest, match="could not be read") as info:
        converted([broken], PNG_OR_JPEG, provider="azure")
    assert info.value.code == "invalid_image"


def test_a_canvas_above_the_cap_is_refused_before_it_is_decoded() -> None:
    big = image(10_000, 5_000, "PNG", "1")  # 50 MP declared in a small file
    assert len(big.data) < 2_000_000
    with pytest.raises(InvalidRequest, match="at most 40,000,000 pixels") as info:
        converted([big], SIDES, provider="sourceful")
    assert info.value.code == "image_too_large"


def test_a_photos_orientation_is_applied_and_its_colour_profile_kept() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated 90° clockwise
    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), "red").save(buf, "JPEG", exif=exif, icc_profile=icc)
    photo = InputImage(data=buf.getvalue(), media_type="image/jpeg")
    (found,) = converted([photo], SIDES, provider="sourceful")
    picture = opened(found)
    assert picture.size == (1536, 2048)  # upright, then scaled into 2048
    assert picture.info.get("icc_profile") == icc
    assert picture.getexif().get(0x0112) in (None, 1)


def test_calls_running_at_once_share_one_conversion() -> None:
    """An ``n`` split into concurrent calls converts each reference once."""
    source = (image(100, 100),)

    async def main() -> list[tuple[InputImage, ...]]:
        return list(
            await asyncio.gather(*(adapted(source, SIDES, provider="sourceful") for _ in range(5)))
        )

    results = asyncio.run(main())
    assert all(r[0] is results[0][0] for r in results)
    assert opened(results[0][0]).size == (300, 300)
