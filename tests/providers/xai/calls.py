"""Catalog endpoints, calls and real images for the xAI adapter tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from app.catalog import load_catalog
from providers.spec import EndpointSpec, GenerateCall, InputImage

SIM_KEY = "xai-sim-adapter-test-key-0123"  # the key the simulator of these tests accepts

CATALOG = load_catalog()
STANDARD = "x-ai/grok-imagine-image"
QUALITY = "x-ai/grok-imagine-image-quality"
V2 = "x-ai/grok-imagine-image-2.0"


def endpoint(model_id: str = STANDARD, **overrides: Any) -> EndpointSpec:
    """The shipped catalog's xAI endpoint of a model, optionally changed."""
    model = CATALOG.get(model_id)
    assert model is not None, model_id
    spec = next(e for e in model.endpoints if e.adapter == "xai")
    return spec.model_copy(update=overrides) if overrides else spec


def call(prompt: str = "a red fox", model_id: str = STANDARD, **overrides: Any) -> GenerateCall:
    values: dict[str, Any] = {"endpoint": endpoint(model_id), "prompt": prompt}
    values.update(overrides)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def image_b64(width: int, height: int, fmt: str = "JPEG") -> str:
    return base64.b64encode(image_bytes(width, height, fmt)).decode("ascii")


def reference(width: int = 64, height: int = 48, fmt: str = "PNG") -> InputImage:
    return InputImage(data=image_bytes(width, height, fmt), media_type=f"image/{fmt.lower()}")
