"""Server-sent events for ``stream: true`` (reference §5).

Framing: ``event: <type>\\ndata: <compact JSON>\\n\\n``; no ``[DONE]`` unless asked for; the stream
ends when the server closes after the last ``*.completed`` event.

Choices where the reference is unsure (§11):

* ``n > 1``: each image gets its own partial events (``partial_image_index`` restarting at 0)
  followed by its own ``*.completed`` event, images in order. Completed events carry that
  image's usage; the input tokens are attributed to the first completed event only, so summing
  the events' usage gives the same totals as the non-stream response.
* ``size``/``quality``/``background`` in events echo the *requested* values (``auto`` when
  omitted), which §5.2 says events may do; the non-stream body reports resolved values.
* Mid-stream moderation (output stage) sends the partial images of the first image, then an
  ``error`` event (§5.4), then closes.
* ``StreamPlan.images`` below ``n`` (the ``[sim:images=K]`` directive) ends the stream after
  that many ``*.completed`` events, cleanly (EOF, or ``[DONE]`` when asked for): the other
  reading of the §11 open question, one stream that completes fewer images than ``n``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from simulator.openai_errors import OpenAIError
from simulator.openai_rules import ImageJob, usage
from simulator.render import b64

# (image index, progress 0..1) -> encoded image bytes
RenderFn = Callable[[int, float], Awaitable[bytes]]

DONE = b"data: [DONE]\n\n"


def sse(event_type: str, payload: dict[str, Any]) -> bytes:
    """One SSE frame, exactly as OpenAI's curl examples show it."""
    return b"event: " + event_type.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


@dataclass(frozen=True)
class StreamPlan:
    """How this particular stream should behave (from knobs and directives)."""

    partial_delay_s: float = 0.0
    split_s: float = 0.0  # > 0: each partial event in two writes, this far apart
    cut_partial: bool = False  # close halfway through the first partial event
    truncate: bool = False
    emit_done: bool = False
    error: OpenAIError | None = None
    # "head"/"tail" appended as each half of a split partial event is handed to the server
    pieces: list[str] | None = None
    images: int | None = None  # completed events to send before ending; None: all n


def _note(plan: StreamPlan, piece: str) -> None:
    if plan.pieces is not None:
        plan.pieces.append(piece)


async def image_events(
    job: ImageJob,
    *,
    edit: bool,
    render: RenderFn,
    input_sizes: list[tuple[int, int]],
    plan: StreamPlan,
) -> AsyncIterator[bytes]:
    """Yield the SSE frames of one request, one frame per chunk (each is flushed by itself)."""
    prefix = "image_edit" if edit else "image_generation"
    echoed = {
        "size": job.requested["size"],
        "quality": job.requested["quality"],
        "background": job.requested["background"],
        "output_format": job.output_format,
    }
    count = job.n if plan.images is None else min(plan.images, job.n)
    for index in range(count):
        for partial in range(job.partial_images):
            await asyncio.sleep(plan.partial_delay_s)
            data = await render(index, (partial + 1) / (job.partial_images + 1))
            frame = sse(
                f"{prefix}.partial_image",
                {
                    "type": f"{prefix}.partial_image",
                    "b64_json": b64(data),
                    "created_at": int(time.time()),
                    **echoed,
                    "partial_image_index": partial,
                },
            )
            if not (plan.split_s or plan.cut_partial):
                yield frame
                continue
            value_at = frame.index(b'"b64_json":"') + len(b'"b64_json":"')
            cut = value_at + (frame.index(b'"', value_at) - value_at) // 2
            yield frame[:cut]
            _note(plan, "head")
            if plan.cut_partial:
                return
            await asyncio.sleep(plan.split_s)
            yield frame[cut:]
            _note(plan, "tail")
        if plan.truncate:
            return
        if plan.error is not None:
            yield sse("error", {"type": "error", "error": plan.error.body()["error"]})
            return
        await asyncio.sleep(plan.partial_delay_s)
        data = await render(index, 1.0)
        completed: dict[str, Any] = {
            "type": f"{prefix}.completed",
            "b64_json": b64(data),
            "created_at": int(time.time()),
            **echoed,
            "usage": usage(
                job,
                input_sizes,
                images=1,
                partials=job.partial_images,
                with_input=index == 0,
                details=False,
            ),
        }
        if job.safety_identifier:
            completed["safety_identifier"] = job.safety_identifier
        yield sse(f"{prefix}.completed", completed)
    if plan.emit_done:
        yield DONE
