"""Helpers to build catalog endpoints, calls and real images for the OpenAI adapter tests."""

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
    FixedSizes,
    GenerateCall,
    InputImage,
    PricingLine,
)


def endpoint(upstream_model: str = "gpt-image-1.5", **overrides: Any) -> EndpointSpec:
    values: dict[str, Any] = {
        "provider_slug": "openai",
        "provider_name": "OpenAI",
        "adapter": "openai",
        "upstream_model": upstream_model,
        "parameters": {"quality": EnumDescriptor(values=("low", "medium", "high", "auto"))},
        "geometry": FixedSizes(sizes=("1024x1024", "1536x1024", "1024x1536")),
        "max_images_per_call": 10,
        "supports_streaming": True,
        "passthrough": ("moderation", "input_fidelity", "partial_images"),
        "pricing": (
            PricingLine(
                billable="output_image",
                unit="token",
                cost_usd=Decimal("0.000032"),
                source="reference §8.1",
                as_of=date(2026, 11, 24),
            ),
        ),
    }
    values.update(overrides)
    return EndpointSpec(**values)


def call(prompt: str = "a red fox", **overrides: Any) -> GenerateCall:
    values: dict[str, Any] = {"endpoint": endpoint(), "prompt": prompt}
    values.update(overrides)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    Image.new(mode, (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def image_b64(width: int, height: int, fmt: str = "PNG") -> str:
    return base64.b64encode(image_bytes(width, height, fmt)).decode("ascii")


def reference(width: int = 64, height: int = 48, fmt: str = "PNG") -> InputImage:
    return InputImage(data=image_bytes(width, height, fmt), media_type=f"image/{fmt.lower()}")
