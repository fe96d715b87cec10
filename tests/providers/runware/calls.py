"""Helpers for the Runware adapter tests: shipped endpoints, calls and real images."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from app.catalog import load_catalog
from providers.spec import EndpointSpec, GenerateCall, InputImage

CATALOG = load_catalog()
V2_FAST = "sourceful/riverflow-v2-fast"
V2_PRO = "sourceful/riverflow-v2-pro"
V25_FAST = "sourceful/riverflow-v2.5-fast"
V25_PRO = "sourceful/riverflow-v2.5-pro"


def endpoint(model_id: str = V25_FAST, **overrides: Any) -> EndpointSpec:
    """The shipped Sourceful endpoint of ``model_id``, with fields replaced."""
    found = CATALOG.endpoint(model_id, "sourceful")
    assert found is not None, model_id
    return found.model_copy(update=overrides) if overrides else found


def call(
    prompt: str = "a label for a jar of honey", model_id: str = V25_FAST, **fields: Any
) -> GenerateCall:
    values: dict[str, Any] = {"endpoint": endpoint(model_id), "prompt": prompt}
    values.update(fields)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def reference(width: int = 320, height: int = 320, color: str = "blue") -> InputImage:
    return InputImage(image_bytes(width, height, color=color), "image/png")


def image_b64(width: int = 64, height: int = 48, fmt: str = "PNG") -> str:
    return base64.b64encode(image_bytes(width, height, fmt)).decode("ascii")
