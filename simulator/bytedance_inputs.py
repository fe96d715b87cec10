"""Reading Seedream's ``image`` field: one string or an array of
strings, each a URL (not fetched: there is no internet here) or a ``data:image/<fmt>;base64,``
URI with a lowercase ``<fmt>``; and the request-log summary that never stores a payload.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from simulator.bytedance_errors import invalid
from simulator.render import open_image

MAX_RATIO = 16  # W:H within [1/16, 16] (§1, §2)
MAX_INPUT_BYTES = 10 * 1024 * 1024
MAX_INPUT_PIXELS = 6000 * 6000
MIN_INPUT_SIDE = 15  # "each side > 14 px"
INPUT_FORMATS = frozenset({"jpeg", "jpg", "png", "webp", "bmp", "tiff", "gif"})
_DATA_URI = re.compile(r"^data:image/([^;,]*);base64,(.*)$", re.DOTALL)


@dataclass
class Reference:
    """One entry of ``image``: decoded bytes for a data URI, nothing fetched for a URL."""

    source: str  # "data" | "url"
    data: bytes = b""
    media_type: str = ""
    url: str = ""

    def summary(self) -> dict[str, Any] | str:
        if self.source == "url":
            return self.url
        return {"data_url": f"data:{self.media_type};base64,…", "bytes": len(self.data)}


def parse_references(value: object, max_references: int, request_id: str) -> list[Reference]:
    """``image``: one string or an array of strings, each a URL or a lowercase data URI."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise invalid("image", "expected a string or a non-empty array of strings", request_id)
    if len(items) > max_references:
        why = f"at most {max_references} reference images are supported, got {len(items)}"
        raise invalid("image", why, request_id)
    return [_reference(item, request_id) for item in items]


def _reference(item: str, request_id: str) -> Reference:
    if item.startswith(("http://", "https://")):
        return Reference("url", url=item)  # nothing is fetched: there is no internet here
    match = _DATA_URI.match(item)
    if match is None:
        why = "expected an image URL or data:image/<format>;base64,<data>"
        raise invalid("image", why, request_id)
    fmt = match.group(1)
    if fmt != fmt.lower():  # §2: `image/PNG` is rejected [FIELD]
        raise invalid("image", f"the image format must be lowercase, got image/{fmt}", request_id)
    if fmt not in INPUT_FORMATS:
        raise invalid("image", f"unsupported image format image/{fmt}", request_id)
    try:
        data = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid("image", "the base64 data is invalid", request_id) from exc
    _check_input_image(data, request_id)
    return Reference("data", data=data, media_type=f"image/{fmt}")


def _check_input_image(data: bytes, request_id: str) -> None:
    """≤ 10 MB, each side > 14 px, ≤ 36 MP, ratio within [1/16, 16] (§2 input limits)."""
    if len(data) > MAX_INPUT_BYTES:
        raise invalid("image", "each image must be at most 10 MB", request_id)
    try:
        width, height = open_image(data).size
    except ValueError as exc:
        raise invalid("image", "the image cannot be decoded", request_id) from exc
    if min(width, height) < MIN_INPUT_SIDE or width * height > MAX_INPUT_PIXELS:
        why = "each side must be over 14 px and the total at most 6000x6000 px"
        raise invalid("image", why, request_id)
    if max(width, height) > MAX_RATIO * min(width, height):
        raise invalid("image", "the aspect ratio must be within [1/16, 16]", request_id)


def log_body(body: dict[str, Any], references: list[Reference] | None = None) -> dict[str, Any]:
    """The request as logged: image payloads summarised, never stored (string stays string)."""
    logged = dict(body)
    image = body.get("image")
    if image is None:
        return logged
    if references is None:
        references = _best_effort(image)
    summaries = [ref.summary() for ref in references]
    logged["image"] = summaries[0] if isinstance(image, str) and summaries else summaries
    return logged


def _best_effort(image: object) -> list[Reference]:
    """Summaries for a body that failed validation (never echo the payload)."""
    items = [image] if isinstance(image, str) else image if isinstance(image, list) else []
    out = []
    for item in items:
        text = item if isinstance(item, str) else ""
        if text.startswith(("http://", "https://")):
            out.append(Reference("url", url=text))
        else:
            head = text.partition(",")[0][5:] if text.startswith("data:") else "?"
            out.append(Reference("data", data=text.encode(), media_type=head.split(";")[0]))
    return out


__all__ = ["Reference", "log_body", "parse_references"]
