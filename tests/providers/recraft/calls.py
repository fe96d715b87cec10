"""Catalog endpoints, calls and real files for the Recraft adapter tests."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from app.catalog import load_catalog
from providers.spec import EndpointSpec, GenerateCall, InputImage

CATALOG = load_catalog()


def endpoint(model_id: str = "recraft/recraft-v4", **overrides: Any) -> EndpointSpec:
    """The shipped catalog's Recraft endpoint of ``model_id``, optionally changed."""
    model = CATALOG.get(model_id)
    assert model is not None, model_id
    found = next(e for e in model.endpoints if e.adapter == "recraft")
    return found.model_copy(update=overrides) if overrides else found


def call(
    model_id: str = "recraft/recraft-v4", prompt: str = "a red fox", **kw: Any
) -> GenerateCall:
    return GenerateCall(endpoint=endpoint(model_id), prompt=prompt, **kw)


def raster(width: int, height: int, fmt: str = "PNG", color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, fmt)
    return buf.getvalue()


def reference(width: int = 96, height: int = 64) -> InputImage:
    return InputImage(raster(width, height), "image/png")


SVG_SIZED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- Generator: Recraft -->\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="1344px" height="768px" '
    b'viewBox="0 0 2688 1536"><rect width="10" height="10"/></svg>'
)
SVG_VIEWBOX = (
    b'<svg xmlns="http://www.w3.org/2000/svg"\n  viewBox="0,0,1024,1820" width="100%">'
    b"<path d='M0 0h10v10z'/></svg>"
)
SVG_UNSIZED = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
