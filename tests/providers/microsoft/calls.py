"""Helpers to build catalog endpoints, calls and real images for the MAI adapter tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from app.catalog import load_catalog
from providers.spec import EndpointSpec, GenerateCall, InputImage

CATALOG = load_catalog()
# What the test simulator accepts (conftest.py): an API key and an Entra ID token.
SIM_KEY = "mai-adapter-test-key-0123456789"
SIM_TOKEN = "eyJhbGciOi.entra-test-token.sig"


def endpoint(model_id: str = "microsoft/mai-image-2.5", **overrides: Any) -> EndpointSpec:
    """The shipped catalog's Azure endpoint of ``model_id``, with fields replaced."""
    found = CATALOG.endpoint(model_id, "azure")
    assert found is not None, model_id
    return found.model_copy(update=overrides)


def call(prompt: str = "a red fox", **overrides: Any) -> GenerateCall:
    values: dict[str, Any] = {
        "endpoint": endpoint(),
        "prompt": prompt,
        "width": 1024,
        "height": 1024,
    }
    values.update(overrides)
    return GenerateCall(**values)


def image_bytes(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format=fmt)
    return buf.getvalue()


def image_b64(width: int, height: int, fmt: str = "PNG") -> str:
    return base64.b64encode(image_bytes(width, height, fmt)).decode("ascii")


def reference(width: int = 64, height: int = 48, fmt: str = "PNG") -> InputImage:
    kind = "jpeg" if fmt == "JPEG" else fmt.lower()
    return InputImage(data=image_bytes(width, height, fmt), media_type=f"image/{kind}")
