"""What a Seedream call produces: rendered images (watermarked by default), per-image outcomes,
the buffered JSON body (§3), the SSE events (§4), and the short-lived result URLs of ``url`` mode.

* **Watermark.** ``watermark`` defaults to ``true`` (§2): the image then carries a visible
  "AI generated" mark in the bottom-right corner *and* a metadata comment
  (:data:`WATERMARK_TEXT`, JPEG COM marker / PNG ``Comment`` text chunk), so a test can catch a
  missing ``watermark: false`` with :func:`watermarked`.
* **Usage.** ``generated_images`` counts the succeeded images only; ``output_tokens`` =
  Σ w·h / 256 over them; ``total_tokens`` = ``output_tokens`` (§3).
* **Outcomes.** Each image of a call is ``ok``, ``moderated``
  (``OutputImageSensitiveContentDetected``; the model goes on with the next image) or
  ``internal`` (``InternalServiceError``; the model stops there), as §3 describes.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from simulator.bytedance_errors import item_error
from simulator.bytedance_rules import Job, OutputFormat
from simulator.render import b64, render

WATERMARK_TEXT = "AI generated"
DEFAULT_URL_TTL_S = 24 * 3600.0  # §3: result URLs expire after 24 h
Outcome = Literal["ok", "moderated", "internal"]
ITEM_CODES = {
    "moderated": "OutputImageSensitiveContentDetected",
    "internal": "InternalServiceError",
}


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _stamp(img: Image.Image) -> None:
    """The visible mark: white text on a dark box in the bottom-right corner."""
    size = max(12, min(img.width, img.height) // 24)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((0, 0), WATERMARK_TEXT, font=font)
    pad = size // 2
    x = img.width - (box[2] - box[0]) - 2 * pad
    y = img.height - (box[3] - box[1]) - 2 * pad
    draw.rectangle((x - pad, y - pad, img.width, img.height), fill=(0, 0, 0))
    draw.text((x, y - box[1]), WATERMARK_TEXT, font=font, fill=(255, 255, 255))


def render_seedream(job: Job, index: int, prompt: str, base: Image.Image | None) -> bytes:
    """One finished image of ``job`` at its size and format."""
    img = render(job.width, job.height, prompt=prompt, seed=index, base=base).convert("RGB")
    buf = io.BytesIO()
    if job.watermark:
        _stamp(img)
    if job.output_format == "png":
        info = PngInfo()
        if job.watermark:
            info.add_text("Comment", WATERMARK_TEXT)
        img.save(buf, "PNG", compress_level=1, pnginfo=info)
    else:
        extra = {"comment": WATERMARK_TEXT.encode()} if job.watermark else {}
        img.save(buf, "JPEG", quality=90, **extra)
    return buf.getvalue()


def watermarked(data: bytes) -> bool:
    """Does this image carry the simulator's watermark comment?"""
    with Image.open(io.BytesIO(data)) as img:
        comment = img.info.get("comment") or img.info.get("Comment") or b""
    text = comment.decode(errors="replace") if isinstance(comment, bytes) else str(comment)
    return text == WATERMARK_TEXT


class Renderer:
    """A small LRU of rendered images (repeated prompts cost no CPU); renders off the loop."""

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[object, ...], bytes] = OrderedDict()

    async def image(self, job: Job, index: int, prompt: str) -> bytes:
        base, base_key = job.base_image()
        key = (job.width, job.height, job.output_format, job.watermark, prompt, index, base_key)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        data = await asyncio.to_thread(render_seedream, job, index, prompt, base)
        self._entries[key] = data
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return data


# --------------------------------------------------------------------------------------------
# url mode
# --------------------------------------------------------------------------------------------


class FileStore:
    """Result files behind unguessable names, each readable until its TTL runs out."""

    def __init__(self, ttl_s: float = DEFAULT_URL_TTL_S, max_entries: int = 256) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._files: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()

    def put(self, data: bytes, fmt: OutputFormat) -> str:
        """Store the file; return its name (``<token>.<ext>``)."""
        name = f"{secrets.token_urlsafe(18)}.{'png' if fmt == 'png' else 'jpeg'}"
        self._files[name] = (data, f"image/{fmt}", time.monotonic() + self.ttl_s)
        while len(self._files) > self.max_entries:
            self._files.popitem(last=False)
        return name

    def get(self, name: str) -> tuple[bytes, str] | Literal["expired"] | None:
        entry = self._files.get(name)
        if entry is None:
            return None
        data, media_type, expires = entry
        if time.monotonic() >= expires:
            return "expired"
        return data, media_type


# --------------------------------------------------------------------------------------------
# Outcomes, usage, bodies, events
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Per-image outcomes of one call, from directives and knobs."""

    outcomes: tuple[Outcome, ...]

    @classmethod
    def make(
        cls,
        attempts: int,
        *,
        moderated: frozenset[int] = frozenset(),
        internal_at: int | None = None,
        fewer: int | None = None,
        all_moderated: bool = False,
    ) -> Plan:
        count = attempts if fewer is None else max(1, min(attempts, fewer))
        outcomes: list[Outcome] = []
        for index in range(count):
            if internal_at == index:
                outcomes.append("internal")
                break  # after a 500-class error the model stops (§3)
            bad = all_moderated or index in moderated
            outcomes.append("moderated" if bad else "ok")
        return cls(tuple(outcomes))

    @property
    def succeeded(self) -> int:
        return sum(1 for o in self.outcomes if o == "ok")


def usage(job: Job, generated: int) -> dict[str, Any]:
    tokens = generated * job.width * job.height // 256
    body: dict[str, Any] = {
        "generated_images": generated,
        "output_tokens": tokens,
        "total_tokens": tokens,
    }
    if job.web_search:
        body["tool_usage"] = {"web_search": 1}
    return body


# (image bytes) -> the item fields carrying it: {"b64_json": ...} or {"url": ...}
Deliver = Callable[[bytes], dict[str, str]]
RenderOne = Callable[[int], Awaitable[bytes]]


def b64_delivery(data: bytes) -> dict[str, str]:
    return {"b64_json": b64(data)}


async def image_item(
    job: Job, index: int, render_one: RenderOne, deliver: Deliver
) -> dict[str, Any]:
    """One succeeded image as a ``data[]`` item or the payload part of an event."""
    item: dict[str, Any] = deliver(await render_one(index))
    item["size"] = f"{job.width}x{job.height}"
    if job.rules.family_5:
        item["output_format"] = job.output_format
    return item


async def buffered_body(
    job: Job, plan: Plan, render_one: RenderOne, deliver: Deliver
) -> dict[str, Any]:
    """The §3 response: ``data[]`` with one item per attempted image (errors in place)."""
    data: list[dict[str, Any]] = []
    for index, outcome in enumerate(plan.outcomes):
        if outcome == "ok":
            data.append(await image_item(job, index, render_one, deliver))
        else:
            data.append({"error": item_error(ITEM_CODES[outcome])})
    return {
        "model": job.model,
        "created": int(time.time()),
        "data": data,
        "usage": usage(job, plan.succeeded),
    }


def sse(event_type: str, payload: dict[str, Any]) -> bytes:
    """``event: <type>`` + one single-line ``data:`` JSON (§4; the doc's multi-line JSON is an
    artifact)."""
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


DONE = b"data: [DONE]\n\n"
SUCCEEDED = "image_generation.partial_succeeded"
FAILED = "image_generation.partial_failed"
COMPLETED = "image_generation.completed"


async def image_event(
    job: Job, index: int, outcome: Outcome, render_one: RenderOne, deliver: Deliver
) -> bytes:
    head = {"model": job.model, "created": int(time.time()), "image_index": index}
    if outcome == "ok":
        item = await image_item(job, index, render_one, deliver)
        return sse(SUCCEEDED, {"type": SUCCEEDED, **head, **item})
    return sse(FAILED, {"type": FAILED, **head, "error": item_error(ITEM_CODES[outcome])})


def completed_event(job: Job, plan: Plan) -> bytes:
    payload = {
        "type": COMPLETED,
        "model": job.model,
        "created": int(time.time()),
        "usage": usage(job, plan.succeeded),
    }
    return sse(COMPLETED, payload)


def stream_error_event(error: dict[str, Any]) -> bytes:
    """A stream-level error (§4: ``{"error": {"code", "message"}}``), framed as ``event: error``."""
    return sse("error", {"error": error})


__all__ = [
    "DONE",
    "WATERMARK_TEXT",
    "FileStore",
    "Plan",
    "Renderer",
    "b64_delivery",
    "buffered_body",
    "completed_event",
    "image_event",
    "stream_error_event",
    "usage",
    "watermarked",
]
