"""Pure mapping between :class:`GenerateCall` and the Gemini API's ``generateContent``.

No I/O, no ``await``, no httpx. Request, response, ``finishReason``, prompt blocks and the cost
formula as Google's Gemini API documentation describes them (our notes, compiled 2026-10).

Outcomes of a 200 answer:

* images: every ``inlineData`` part with an ``image/*`` type that is not ``thought: true``
  (drafts are skipped), whatever the ``finishReason`` (unknown values are tolerated);
* no image is never an empty success. :class:`ContentModerated` for a prompt block
  (``promptFeedback.blockReason``), for the safety finishReasons, for ``NO_IMAGE`` (as the issue
  asks; Google uses it when the model declines to draw) and for a ``STOP`` with text only (a
  refusal in prose, whose text is the message). Choice: ``IMAGE_OTHER``, ``OTHER``,
  ``MALFORMED_RESPONSE``, ``MAX_TOKENS``, an empty ``STOP`` and unknown reasons are
  :class:`Unavailable` (retryable): the reference calls them "generation failed".
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError

from providers._http import load_json
from providers._media import b64_head, image_dimensions, sniff_media_type
from providers.errors import ContentModerated, InvalidRequest, ProtocolError, Unavailable
from providers.google.errors import clean, error_from_status
from providers.google.wire import (
    Candidate,
    ErrorEnvelope,
    GenerateContentResponse,
    Part,
    UsageMetadata,
)
from providers.spec import Completed, GenerateCall, GeneratedImage, InputImage, Usage

RESPONSE_MODALITIES = ("TEXT", "IMAGE")  # TEXT too, so a refusal can explain itself
INPUT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
THINKING_LEVELS = ("MINIMAL", "HIGH")
MODERATION_REASONS = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"}
    | {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "NO_IMAGE"}
    | {"MODEL_ARMOR"}
)
# Output image tokens per image (§3) when a response does not break its usage down by modality.
FALLBACK_IMAGE_TOKENS: dict[str, dict[str | None, int]] = {
    "gemini-3.1-flash-image": {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520, None: 1120},
    "gemini-3-pro-image": {"1K": 1120, "2K": 1120, "4K": 2000, None: 1120},
    "gemini-3.1-flash-lite-image": {None: 1120},
    "gemini-2.5-flash-image": {None: 1290},
}
DEFAULT_IMAGE_TOKENS = 1120
_URLSAFE = str.maketrans("-_", "+/")

# ``generationConfig.seed`` is a proto int32: a larger seed is Google's 400, so ours says why.
MIN_SEED, MAX_SEED = -(2**31), 2**31 - 1


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One ``POST {base_url}{path}`` with a JSON body."""

    path: str
    json: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def build_request(call: GenerateCall) -> UpstreamRequest:
    """``POST /models/{model}:generateContent``: one image per call (``candidateCount`` > 1 is
    not supported by the image models, so the gateway fans out)."""
    if call.n != 1:
        raise InvalidRequest(
            f"Gemini image models make one image per request, asked for {call.n}; set "
            "max_images_per_call = 1 for this endpoint",
            code="unsupported_n",
        )
    return UpstreamRequest(
        path=f"/models/{call.endpoint.upstream_model}:generateContent", json=build_body(call)
    )


def build_body(call: GenerateCall) -> dict[str, Any]:
    """The ``GenerateContentRequest`` in canonical camelCase, references as standard base64.

    ``output_format`` is never sent: the Gemini API cannot choose it (``imageOutputOptions``
    is Vertex-only); the gateway converts where the catalog promises a format. Operator
    ``fixed`` values are merged last (``generationConfig`` key by key).
    """
    parts: list[dict[str, Any]] = [{"text": call.prompt}]
    parts.extend(inline_part(image) for image in call.input_images)
    config: dict[str, Any] = {"responseModalities": list(RESPONSE_MODALITIES)}
    image_config: dict[str, str] = {}
    if call.aspect_ratio:
        image_config["aspectRatio"] = call.aspect_ratio
    if call.resolution_wire:
        image_config["imageSize"] = call.resolution_wire
    if image_config:
        config["imageConfig"] = image_config
    if call.seed is not None:
        if not MIN_SEED <= call.seed <= MAX_SEED:
            raise InvalidRequest(
                f"seed {call.seed} is out of range for Gemini; allowed: {MIN_SEED}..{MAX_SEED}",
                code="invalid_seed",
            )
        config["seed"] = call.seed
    thinking = thinking_config(call.options)
    if thinking:
        config["thinkingConfig"] = thinking
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": parts}]}
    body["generationConfig"] = config
    for key, value in call.endpoint.fixed.items():
        if key == "generationConfig" and isinstance(value, dict):
            config.update(value)
        else:
            body[key] = value
    return body


def inline_part(image: InputImage) -> dict[str, Any]:
    media_type = image.media_type.split(";")[0].strip().lower()
    if media_type not in INPUT_TYPES:
        raise InvalidRequest(
            f"Gemini accepts PNG, JPEG, WebP, HEIC or HEIF reference images, not {media_type}",
            code="unsupported_image_type",
        )
    data = base64.b64encode(image.data).decode("ascii")
    return {"inlineData": {"mimeType": media_type, "data": data}}


def thinking_config(options: dict[str, Any]) -> dict[str, str]:
    """``thinking_level`` (minimal/high) → ``thinkingConfig.thinkingLevel``; other keys: 400."""
    unknown = sorted(set(options) - {"thinking_level"})
    if unknown:
        raise InvalidRequest(
            f"option(s) {', '.join(unknown)} are not supported by the Gemini adapter",
            code="unsupported_parameter",
        )
    level = options.get("thinking_level")
    if level is None:
        return {}
    if not isinstance(level, str) or level.upper() not in THINKING_LEVELS:
        allowed = ", ".join(v.lower() for v in THINKING_LEVELS)
        raise InvalidRequest(
            f"thinking_level must be one of {allowed}, got {level!r}", code="invalid_value"
        )
    return {"thinkingLevel": level.upper()}


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def parse_response(
    body: bytes,
    call: GenerateCall,
    *,
    provider: str = "google-ai-studio",
    secrets: tuple[str, ...] = (),
) -> Completed:
    """A 200 ``GenerateContentResponse`` → :class:`Completed`, or the refusal as an error."""
    protocol = partial(ProtocolError, provider=provider)
    obj = load_json(body, what="generateContent response", provider=provider)
    if not isinstance(obj, dict):
        raise protocol("generateContent response is not a JSON object")
    try:
        if obj.get("error"):
            detail = ErrorEnvelope.model_validate(obj).error
            if detail is not None:
                raise error_from_status(detail, None, provider=provider, secrets=secrets)
        response = GenerateContentResponse.model_validate(obj)
    except ValidationError as exc:
        raise protocol(f"unexpected generateContent shape: {exc.error_count()} error(s)") from exc
    upstream_id = response.response_id
    if not response.candidates:
        raise _no_candidates(response, provider, upstream_id)
    candidate = response.candidates[0]
    parts = (candidate.content.parts if candidate.content else None) or []
    try:
        images = [make_image(p) for p in parts if _is_image(p)]
    except ProtocolError as exc:
        exc.provider, exc.upstream_request_id = provider, upstream_id
        raise
    if not images:
        raise refusal(candidate, parts, provider, upstream_id, secrets)
    warnings: tuple[str, ...] = ()
    if candidate.finish_reason not in (None, "STOP"):
        warnings = (f"Gemini finished with {candidate.finish_reason} after returning an image",)
    usage, note = token_usage(response.usage_metadata, call, len(images))
    usage = usage + output_usage(images, call)
    # What the model said beside its image (not its thoughts), for chat completions' content.
    text = "".join(p.text for p in parts if p.text and not p.thought).strip()
    return Completed(
        images=tuple(images),
        usage=usage,
        upstream_id=upstream_id,
        warnings=warnings + note,
        text=text,
    )


def _is_image(part: Part) -> bool:
    blob = part.inline_data
    return (
        blob is not None
        and bool(blob.data)
        and (blob.mime_type or "").lower().startswith("image/")
        and part.thought is not True
    )


def make_image(part: Part) -> GeneratedImage:
    """The image as standard, padded base64, its type and size read from the bytes."""
    assert part.inline_data is not None and part.inline_data.data
    data = part.inline_data.data
    if "-" in data or "_" in data:
        data = data.translate(_URLSAFE)  # proto-JSON may use the URL-safe alphabet
    data += "=" * (-len(data) % 4)  # ... and may leave the padding out: relay it padded
    head = b64_head(data)
    media_type = sniff_media_type(head)
    if media_type is None:
        raise ProtocolError(
            f"Gemini returned {part.inline_data.mime_type} data that is not a readable image"
        )
    dims = image_dimensions(head) or _full_dimensions(data)
    width, height = dims if dims is not None else (None, None)
    return GeneratedImage(b64=data, media_type=media_type, width=width, height=height)


def _full_dimensions(data: str) -> tuple[int, int] | None:
    return image_dimensions(b64_head(data, len(data)))


def _no_candidates(
    response: GenerateContentResponse, provider: str, upstream_id: str | None
) -> Exception:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        message = f"Gemini blocked the prompt (blockReason {feedback.block_reason})"
        if feedback.block_reason_message:
            message += f": {feedback.block_reason_message}"
        return ContentModerated(
            message, provider=provider, upstream_request_id=upstream_id, code=feedback.block_reason
        )
    return ProtocolError(
        "Gemini returned neither candidates nor a block reason",
        provider=provider,
        upstream_request_id=upstream_id,
    )


def refusal(
    candidate: Candidate,
    parts: list[Part],
    provider: str,
    upstream_id: str | None,
    secrets: tuple[str, ...] = (),
) -> Exception:
    """The error for a candidate without an image (see the module docstring)."""
    reason = candidate.finish_reason
    text = " ".join(p.text.strip() for p in parts if p.text and not p.thought).strip()
    said = clean(" ".join(filter(None, [candidate.finish_message, text]))[:1000], secrets)
    if reason in MODERATION_REASONS or (reason == "STOP" and text):
        if reason == "STOP":
            message = f"Gemini answered with text instead of an image: {said}"
        else:
            message = f"Gemini returned no image (finishReason {reason})"
            message += f": {said}" if said else ""
        return ContentModerated(
            message, provider=provider, upstream_request_id=upstream_id, code=reason
        )
    if reason is None:
        return ProtocolError(
            "Gemini returned a candidate without an image or a finishReason",
            provider=provider,
            upstream_request_id=upstream_id,
        )
    message = f"Gemini returned no image (finishReason {reason})" + (f": {said}" if said else "")
    return Unavailable(message, provider=provider, upstream_request_id=upstream_id, code=reason)


def token_usage(
    meta: UsageMetadata | None, call: GenerateCall, images: int
) -> tuple[Usage, tuple[str, ...]]:
    """§7: image out = IMAGE details; text out = (candidates − image) + thoughts; input
    split into image (IMAGE details, priced as ``input_image``) and the rest as text."""
    if meta is None:
        return _estimated(call, images)
    image_out = _sum(meta.candidates_tokens_details, "IMAGE")
    notes: tuple[str, ...] = ()
    if images and not image_out:
        # No IMAGE breakdown: the candidates' tokens would all price as text (20x cheaper).
        # The images' share is the published per-image count; the rest is text.
        image_out = _image_tokens(call) * images
        notes = (
            "Gemini reported no image token breakdown; image tokens estimated from the "
            "published table",
        )
    candidates = max(meta.candidates_token_count or 0, image_out)
    text_out = candidates - image_out + (meta.thoughts_token_count or 0)
    prompt = meta.prompt_token_count or 0
    image_in = _sum(meta.prompt_tokens_details, "IMAGE")
    text_in = max(0, prompt - image_in) + (meta.tool_use_prompt_token_count or 0)
    usage = Usage(
        input_text_tokens=text_in,
        input_image_tokens=image_in,
        output_image_tokens=image_out,
        output_text_tokens=text_out,
    )
    return usage, notes


def _sum(details: list[Any] | None, modality: str) -> int:
    return sum(d.token_count for d in details or [] if (d.modality or "").upper() == modality)


def _estimated(call: GenerateCall, images: int) -> tuple[Usage, tuple[str, ...]]:
    """No ``usageMetadata``: bill the published per-image token count (§7 fallback)."""
    note = "Gemini reported no usageMetadata; image tokens estimated from the published table"
    return Usage(output_image_tokens=_image_tokens(call) * images), (note,)


def _image_tokens(call: GenerateCall) -> int:
    """The published output tokens of one image at the call's tier (§3)."""
    table = FALLBACK_IMAGE_TOKENS.get(call.endpoint.upstream_model, {})
    return table.get(call.resolution_wire) or table.get(None) or DEFAULT_IMAGE_TOKENS


def output_usage(images: list[GeneratedImage], call: GenerateCall) -> Usage:
    """Counts and pixels of what came back, and of the references that went up."""
    input_pixels = 0
    for ref in call.input_images:
        dims = image_dimensions(ref.data)
        if dims is not None:
            input_pixels += dims[0] * dims[1]
    return Usage(
        images=len(images),
        pixels=sum((img.width or 0) * (img.height or 0) for img in images),
        input_images=len(call.input_images),
        input_pixels=input_pixels,
    )
