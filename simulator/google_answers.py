"""``GenerateContentResponse`` bodies (reference §3, §4): images, refusals and usageMetadata.

An answer is built as the list of chunks ``:streamGenerateContent`` would send; the buffered
``:generateContent`` body is their merge (parts concatenated, the last chunk's finishReason and
usage). Shapes follow the recorded fixtures of the reference:

* success: the image as ``inlineData`` with a ``thoughtSignature`` (3.x), ``finishReason: STOP``;
  streamed as an image chunk without finishReason, then ``parts: [{"text": ""}]`` + ``STOP``;
* prompt block: HTTP 200, ``promptFeedback.blockReason``, no ``candidates`` (§3.2);
* image-level refusal: ``content: {}`` (no ``parts`` key) with the finishReason (§3.1);
* soft refusal: ``STOP`` with one text part and no image;
* Pro-style thinking: a ``thought: true`` text part and draft image before the final image.

``usageMetadata`` is cumulative: each stream chunk carries a snapshot, and (as in the recorded
Pro stream) an early snapshot's ``thoughtsTokenCount`` can be larger than the final one.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from simulator.google_inputs import ImageJob
from simulator.google_rules import text_tokens
from simulator.render import b64

# (progress 0..1) -> encoded image bytes; progress < 1 is a blurred draft
RenderFn = Callable[[float], Awaitable[bytes]]
Chunk = dict[str, Any]

CAPTION = "Here is the image you asked for."
REFUSAL = (
    "I can't create that image. I'm not able to generate images that could depict the "
    "content you described. Is there something else I can help you make?"
)
THOUGHT = "**Composing the scene**\n\nI'm blocking out the layout first, then refining details."
EARLY_THOUGHTS_EXTRA = 77  # 244 → 167 in the recorded Pro stream


def response_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")[:22]


def _mime(job: ImageJob) -> str:
    return "image/jpeg" if job.rules.fmt == "jpeg" else "image/png"


def prompt_usage(job: ImageJob) -> dict[str, Any]:
    """Input side only: what a refused call reports (the §3.1/§3.2 fixtures)."""
    text = text_tokens(job.prompt)
    image = len(job.images) * job.rules.input_image_tokens
    details = [{"modality": "TEXT", "tokenCount": text}]
    if image:
        details.append({"modality": "IMAGE", "tokenCount": image})
    return {
        "promptTokenCount": text + image,
        "totalTokenCount": text + image,
        "promptTokensDetails": details,
        "serviceTier": "standard",
    }


def output_usage(
    job: ImageJob, *, images: int, text: str, thoughts: int, hidden: int = 0
) -> dict[str, Any]:
    """Full usage: prompt + candidates (image + text + hidden remainder) + thoughts."""
    usage = prompt_usage(job)
    image_tokens = images * job.rules.image_tokens[job.tier]
    text_out = text_tokens(text)
    candidates = image_tokens + text_out + hidden
    details = []
    if image_tokens:
        details.append({"modality": "IMAGE", "tokenCount": image_tokens})
    if text_out:
        details.append({"modality": "TEXT", "tokenCount": text_out})
    prompt = usage["promptTokenCount"]
    out: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    out["totalTokenCount"] = prompt + candidates + thoughts
    out["promptTokensDetails"] = usage["promptTokensDetails"]
    out["candidatesTokensDetails"] = details
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    out["serviceTier"] = "standard"
    return out


def _envelope(job: ImageJob, rid: str, chunk: Chunk) -> Chunk:
    return {**chunk, "modelVersion": job.model, "responseId": rid}


def _candidate(parts: list[dict[str, Any]] | None, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"} if parts else {}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return candidate


def blocked(job: ImageJob, rid: str, reason: str) -> list[Chunk]:
    """§3.2: the prompt was refused before generation; no candidates at all."""
    body = {"promptFeedback": {"blockReason": reason}, "usageMetadata": prompt_usage(job)}
    return [_envelope(job, rid, body)]


def finished_empty(job: ImageJob, rid: str, reason: str) -> list[Chunk]:
    """§3.1: a candidate with ``content: {}`` and the finishReason (IMAGE_SAFETY, NO_IMAGE…)."""
    body = {"candidates": [_candidate(None, reason)], "usageMetadata": prompt_usage(job)}
    return [_envelope(job, rid, body)]


def text_answer(job: ImageJob, rid: str, text: str) -> list[Chunk]:
    """``STOP`` with text only: a soft refusal, or what a TEXT-only request gets."""
    usage = output_usage(job, images=0, text=text, thoughts=0)
    body = {"candidates": [_candidate([{"text": text}], "STOP")], "usageMetadata": usage}
    return [_envelope(job, rid, body)]


async def image_answer(job: ImageJob, rid: str, render: RenderFn, *, drafts: bool) -> list[Chunk]:
    """The success chunks: [thought draft,] image (+ caption on 2.5), then the STOP chunk."""
    thoughts = job.rules.thoughts_tokens if job.thinks or drafts else 0
    caption = CAPTION if job.wants_text and job.rules.fmt == "png" else ""
    final = _usage_final(job, caption, thoughts)
    early = {**final, "thoughtsTokenCount": thoughts + EARLY_THOUGHTS_EXTRA} if thoughts else final
    early["totalTokenCount"] = (
        early["promptTokenCount"]
        + early["candidatesTokenCount"]
        + early.get("thoughtsTokenCount", 0)
    )
    chunks: list[Chunk] = []
    if drafts:
        draft = await render(0.5)
        parts = [
            {"text": THOUGHT, "thought": True},
            {"inlineData": {"mimeType": _mime(job), "data": b64(draft)}, "thought": True},
        ]
        chunks.append({"candidates": [_candidate(parts, None)], "usageMetadata": early})
    image_part: dict[str, Any] = {
        "inlineData": {"mimeType": _mime(job), "data": b64(await render(1.0))}
    }
    if job.rules.fmt == "jpeg":  # the 3.x models sign their parts
        image_part["thoughtSignature"] = b64(secrets.token_bytes(96))
    parts = [image_part] + ([{"text": caption}] if caption else [])
    chunks.append({"candidates": [_candidate(parts, None)], "usageMetadata": early})
    chunks.append({"candidates": [_candidate([{"text": ""}], "STOP")], "usageMetadata": final})
    return [_envelope(job, rid, c) for c in chunks]


def _usage_final(job: ImageJob, caption: str, thoughts: int) -> dict[str, Any]:
    return output_usage(
        job, images=1, text=caption, thoughts=thoughts, hidden=job.rules.hidden_tokens
    )


def merge(chunks: list[Chunk]) -> Chunk:
    """The buffered body of a streamed answer: parts joined, last finishReason and usage."""
    if len(chunks) == 1:
        return chunks[0]
    last = chunks[-1]
    parts: list[dict[str, Any]] = []
    for chunk in chunks:
        for candidate in chunk.get("candidates", []):
            parts.extend(p for p in candidate["content"].get("parts", []) if p != {"text": ""})
    candidate = _candidate(parts, last["candidates"][0].get("finishReason"))
    merged = {k: v for k, v in last.items() if k != "candidates"}
    return {"candidates": [candidate], **merged}
