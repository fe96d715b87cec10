"""Helpers for the Seedream adapter tests: shipped catalog endpoints, calls, real images."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from app.catalog import load_catalog
from providers.spec import EndpointSpec, GenerateCall, InputImage

CATALOG = load_catalog()
V40 = "bytedance-seed/seedream-4.0"
V45 = "bytedance-seed/seedream-4.5"
LITE = "bytedance-seed/seedream-5.0-lite"
PRO = "bytedance-seed/seedream-5.0-pro"


def endpoint(model_id: str = V40, **overrides: Any) -> EndpointSpec:
    found = CATALOG.endpoint(model_id, "seed")
    assert found is not None, model_id
    return found.model_copy(update=overrides) if overrides else found


def call(prompt: str = "a red fox", model_id: str = V40, **overrides: Any) -> GenerateCall:
    values: dict[str, Any] = {
        "endpoint": endpoint(model_id),
        "prompt": prompt,
        "width": 1280,
        "height": 720,
    }
    values.update(overrides)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def reference(width: int = 64, height: int = 64, fmt: str = "PNG") -> InputImage:
    return InputImage(data=image_bytes(width, height, fmt), media_type=f"image/{fmt.lower()}")


def jpeg_b64(width: int = 32, height: int = 16) -> str:
    return base64.b64encode(image_bytes(width, height, "JPEG")).decode()
