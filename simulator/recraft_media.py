"""What the Recraft simulator draws and serves: SVG markup, the result-URL store, input images.

* Vector models answer real SVG (reference §2.5, §6.6): deterministic shapes and a caption, with
  ``width``/``height`` and a ``viewBox`` of the requested canvas. The markup starts with the
  ``<svg`` root (no XML declaration): the reference shows neither form, and a client must sniff
  both anyway.
* Results are served from an in-memory store behind ``GET /img/<image_id>.<ext>`` (the
  simulator's stand-in for ``img.recraft.ai``), with the right ``Content-Type``. Recraft keeps
  files about 24 hours (§2.5); the store keeps the most recent few hundred.
* ``image_url`` inputs (§3) are ``data:`` URLs, or URLs of this store.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from simulator.recraft_errors import INVALID_IMAGE, invalid
from simulator.render import open_image, seed_for

SVG_TYPE = "image/svg+xml"
MAX_INPUT_BYTES = 5 * 1024 * 1024  # §3 [3P fal docs, indicative]
_DATA_URL = re.compile(r"data:([\w/+.-]+)?(?:;[\w=.-]+)*;base64,(.*)", re.DOTALL)
_STORE_PATH = re.compile(r"/img/([0-9a-f-]{36})\.(svg|png|webp)$")


def _colour(rng: random.Random) -> str:
    return "#" + "".join(f"{rng.randrange(256):02x}" for _ in range(3))


def render_svg(width: int, height: int, *, prompt: str, seed: int = 0) -> bytes:
    """A deterministic SVG picture for ``prompt``/``seed`` on a ``width`` x ``height`` canvas."""
    rng = random.Random(seed_for("svg", prompt, seed))
    shapes = []
    for _ in range(rng.randint(3, 6)):
        x, y = rng.randrange(width), rng.randrange(height)
        if rng.random() < 0.5:
            r = rng.randint(8, max(9, min(width, height) // 4))
            shapes.append(f'<circle cx="{x}" cy="{y}" r="{r}" fill="{_colour(rng)}"/>')
        else:
            w, h = rng.randint(8, width // 2 + 8), rng.randint(8, height // 2 + 8)
            shapes.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{_colour(rng)}"/>')
    size = max(12, min(width, height) // 28)
    caption = escape(f"{prompt[:60]} · {width}x{height} · #{seed}")
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        '<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">'
        f'<stop offset="0" stop-color="{_colour(rng)}"/>'
        f'<stop offset="1" stop-color="{_colour(rng)}"/></linearGradient></defs>'
        f'<rect width="{width}" height="{height}" fill="url(#bg)"/>'
        + "".join(shapes)
        + f'<text x="{size // 2}" y="{size + size // 2}" font-family="sans-serif" '
        f'font-size="{size}" fill="#ffffff">{caption}</text></svg>\n'
    )
    return markup.encode()


class ImageStore:
    """Recently generated files by image id, as the image host serves them."""

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._files: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image_id: str, data: bytes, media_type: str) -> None:
        with self._lock:
            self._files[image_id] = (data, media_type)
            while len(self._files) > self.max_entries:
                self._files.popitem(last=False)

    def get(self, image_id: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._files.get(image_id)

    def drop(self, image_id: str) -> None:
        """Expire one file early (the ``[sim:expired]`` directive)."""
        with self._lock:
            self._files.pop(image_id, None)


@dataclass(frozen=True)
class InputImage:
    data: bytes
    width: int
    height: int


def read_input(url: object, store: ImageStore, param: str = "image_url") -> InputImage:
    """Decode an ``image_url`` (a ``data:`` URL or one of our result URLs) → a checked image."""
    if not isinstance(url, str) or not url:
        raise invalid(INVALID_IMAGE, f"{param} must be an image URL or a data URL")
    data = _fetch(url, store, param)
    if len(data) > MAX_INPUT_BYTES:
        raise invalid(INVALID_IMAGE, f"{param} is larger than {MAX_INPUT_BYTES} bytes")
    try:
        img = open_image(data)
    except ValueError as exc:
        raise invalid(INVALID_IMAGE, f"{param} is not a readable raster image") from exc
    return InputImage(data, img.width, img.height)


def _fetch(url: str, store: ImageStore, param: str) -> bytes:
    match = _DATA_URL.fullmatch(url)
    if match is not None:
        try:
            return base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise invalid(INVALID_IMAGE, f"{param} has invalid base64") from exc
    found = _STORE_PATH.search(url.split("?", 1)[0])
    stored = store.get(found.group(1)) if found else None
    if stored is None:
        # Choice: the simulator has no network; any other URL is unreachable from here.
        raise invalid(INVALID_IMAGE, f"could not download {param}")
    return stored[0]


def summarise_url(url: object) -> Any:
    """A request-log stand-in for an image URL: data URLs become their type and size."""
    if not isinstance(url, str):
        return url
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return url
    return {"data_url": True, "media_type": match.group(1), "b64_chars": len(match.group(2))}


def log_body(fields: dict[str, Any]) -> dict[str, Any]:
    """The request body for the log: image URLs summarised, never their bytes."""
    body = dict(fields)
    if "image_url" in body:
        body["image_url"] = summarise_url(body["image_url"])
    refs = body.get("style_reference_urls")
    if isinstance(refs, list):
        body["style_reference_urls"] = [summarise_url(r) for r in refs]
    return body
