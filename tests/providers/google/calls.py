"""Helpers to build Gemini catalog endpoints, calls, images and response fixtures."""

from __future__ import annotations

import base64
import io
from datetime import date
from decimal import Decimal
from typing import Any

from PIL import Image

from providers.spec import (
    EndpointSpec,
    EnumDescriptor,
    GenerateCall,
    InputImage,
    PricingLine,
    RatioTier,
)


def endpoint(upstream_model: str = "gemini-3.1-flash-image", **overrides: Any) -> EndpointSpec:
    values: dict[str, Any] = {
        "provider_slug": "google-ai-studio",
        "provider_name": "Google AI Studio",
        "adapter": "google",
        "upstream_model": upstream_model,
        "parameters": {"aspect_ratio": EnumDescriptor(values=("1:1", "16:9"))},
        "geometry": RatioTier(tiers={"1K": "1K", "2K": "2K"}),
        "max_images_per_call": 1,
        "passthrough": ("thinking_level",),
        "pricing": (
            PricingLine(
                billable="output_image",
                unit="token",
                cost_usd=Decimal("0.00006"),
                source="reference §7",
                as_of=date(2026, 4, 1),
            ),
        ),
    }
    values.update(overrides)
    return EndpointSpec(**values)


def call(
    prompt: str = "a red fox", model: str = "gemini-3.1-flash-image", **overrides: Any
) -> GenerateCall:
    values: dict[str, Any] = {"endpoint": endpoint(model), "prompt": prompt}
    values.update(overrides)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "JPEG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def image_b64(width: int, height: int, fmt: str = "JPEG") -> str:
    return base64.b64encode(image_bytes(width, height, fmt)).decode("ascii")


def reference(width: int = 64, height: int = 48, fmt: str = "PNG") -> InputImage:
    return InputImage(data=image_bytes(width, height, fmt), media_type=f"image/{fmt.lower()}")


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image
