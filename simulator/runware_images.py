"""Image inputs and outputs of the Runware simulator.

* Inputs (§3.1): "an ``imageUUID`` (from ``imageUpload``), a public URL, a data URI, or raw
  base64". URLs are accepted unseen (the simulator has no internet); the others are decoded and
  must be real images. An unknown ``imageUUID`` is an error ([INF]).
* Outputs are kept in a small LRU (:class:`ImageStore`) so ``imageURL`` results can be fetched
  from ``/image/ws/0.5/ii/<uuid>.<ext>`` and their ``imageUUID`` reused as inputs.
* :func:`summarise` turns a request body into its log form: image payloads become
  ``"<image/png 96x96, 123 bytes>"`` and ``apiKey`` values are redacted; bytes are never kept.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from providers._media import parse_data_url, sniff_media_type
from simulator.render import dimensions, open_image

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_B64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")
_SUMMARY_MIN = 256  # shorter strings are logged as they are
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
MEDIA_TYPES = {ext: media for media, ext in EXTENSIONS.items()} | {"jpeg": "image/jpeg"}


@dataclass(frozen=True)
class DecodedImage:
    """An input image: bytes when it was inline or uploaded, None for a URL."""

    data: bytes | None
    size: tuple[int, int] | None
    media_type: str | None

    @property
    def nbytes(self) -> int:
        return len(self.data) if self.data is not None else 0


def decode_image(value: str, lookup: Callable[[str], bytes | None]) -> DecodedImage:
    """Read one image input; ``ValueError`` says why it is not one."""
    if value.startswith(("http://", "https://")):
        return DecodedImage(None, None, None)
    if _UUID.match(value):
        data = lookup(value.lower())
        if data is None:
            raise ValueError(f"unknown imageUUID {value}")
    elif value.startswith("data:"):
        _, data = parse_data_url(value)
    else:
        data = _b64(value)
    open_image(data)  # raises ValueError for anything that is not a readable image
    return DecodedImage(data, dimensions(data), sniff_media_type(data))


def _b64(value: str) -> bytes:
    if not _B64.match(value[:4096]):
        raise ValueError("not a URL, data URI, imageUUID or base64 image")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("invalid base64") from exc


class ImageStore:
    """The last ``capacity`` images by imageUUID (outputs and uploads), thread-safe."""

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image_uuid: str, data: bytes, media_type: str) -> None:
        with self._lock:
            self._items[image_uuid] = (data, media_type)
            self._items.move_to_end(image_uuid)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, image_uuid: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._items.get(image_uuid)

    def data(self, image_uuid: str) -> bytes | None:
        found = self.get(image_uuid)
        return found[0] if found else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def summarise(value: Any) -> Any:
    """The log form of a request body: no image bytes, no keys."""
    if isinstance(value, dict):
        return {
            k: ("<redacted>" if k == "apiKey" and isinstance(v, str) else summarise(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [summarise(v) for v in value]
    if isinstance(value, str) and len(value) >= _SUMMARY_MIN:
        return _describe(value)
    return value


def _describe(text: str) -> str:
    try:
        data = parse_data_url(text)[1] if text.startswith("data:") else _b64(text)
        width, height = dimensions(data)
    except ValueError:
        return f"<{len(text)} chars>"
    return f"<{sniff_media_type(data) or 'image'} {width}x{height}, {len(data)} bytes>"


def encode_b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
