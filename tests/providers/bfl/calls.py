"""Catalog endpoints, calls and real images for the BFL adapter tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from app.catalog import load_catalog
from providers.spec import EndpointSpec, GenerateCall, InputImage

CATALOG = load_catalog()
BFL_MODELS = [m.id for m in CATALOG.models() if any(e.adapter == "bfl" for e in m.endpoints)]


def endpoint(model: str = "black-forest-labs/flux.2-pro", **overrides: Any) -> EndpointSpec:
    spec = CATALOG.get(model)
    assert spec is not None, model
    found = next(e for e in spec.endpoints if e.adapter == "bfl")
    return found.model_copy(update=overrides) if overrides else found


def call(
    prompt: str = "a red fox", model: str = "black-forest-labs/flux.2-pro", **overrides: Any
) -> GenerateCall:
    values: dict[str, Any] = {"endpoint": endpoint(model), "prompt": prompt}
    values.update(overrides)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def reference(width: int = 64, height: int = 48, fmt: str = "PNG") -> InputImage:
    return InputImage(data=image_bytes(width, height, fmt), media_type=f"image/{fmt.lower()}")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
