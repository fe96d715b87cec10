"""Small catalog files written to tmp_path for loader tests."""

from __future__ import annotations

from pathlib import Path

PROVIDER = """
[provider]
slug = "{slug}"
name = "{name}"
adapter = "{adapter}"
"""

# One sound model entry; tests corrupt one field at a time with str.replace.
MODEL = """
[[models]]
id = "{model_id}"
name = "{model_name}"
description = "test model"
created = 2026-01-01
input_modalities = ["text", "image"]
upstream_model = "up-1"
max_images_per_call = 1
passthrough = ["steps"]

[models.parameters]
n = {{ type = "range", min = 1, max = 10 }}
resolution = {{ type = "enum", values = ["1K", "2K"] }}
aspect_ratio = {{ type = "enum", values = ["1:1", "16:9"] }}
seed = {{ type = "boolean" }}
input_references = {{ type = "range", min = 0, max = 4 }}

[models.geometry]
mode = "pixels"
multiple = 16
max_edge = 2048
max_pixels = 4194304
tier_megapixels = {{ 1K = "1.048576", 2K = "4.194304" }}

[[models.pricing]]
billable = "output_image"
unit = "image"
cost_usd = "0.015"
source = "test"
as_of = 2026-01-01

[[models.pricing]]
billable = "output_image"
unit = "megapixel"
cost_usd = "0.015"
round_up = true
source = "test"
as_of = 2026-01-01
"""


def model_entry(model_id: str = "black-forest-labs/flux.2-pro", name: str = "FLUX.2 [pro]") -> str:
    return MODEL.format(model_id=model_id, model_name=name)


def write_provider(
    root: Path,
    directory: str,
    body: str,
    *,
    slug: str = "black-forest-labs",
    name: str = "Black Forest Labs",
    adapter: str = "bfl",
) -> Path:
    """Write ``<root>/<directory>/models.toml`` with a [provider] header and ``body``."""
    path = root / directory / "models.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PROVIDER.format(slug=slug, name=name, adapter=adapter) + body)
    return path
