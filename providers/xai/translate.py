"""Pure mapping between :class:`GenerateCall` and xAI's image REST API (Grok Imagine).

No I/O, no ``await``, no httpx. Requests come out as :class:`UpstreamRequest` values; a 2xx
body goes in as bytes and comes out as an :class:`Answer` (what was delivered, what was
withheld, what it cost), which :func:`completed` turns into the final event once any result URL
has been downloaded by the adapter. Generations, edits and the response as xAI's REST API
documentation describes them (our notes, compiled 2026-11).

What is sent: ``model``, ``prompt``, ``n``, ``response_format: b64_json``, and when known
``aspect_ratio`` and ``resolution`` (the gateway's ratio geometry: ``1k``/``2k``), ``quality``
(only where the endpoint describes it: grok-imagine-image-2.0) and ``user``. Nothing else: xAI
refuses unknown fields with a 422 and ``size``/``style`` with a 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import ValidationError

from providers._http import load_json, redact
from providers._lenient import int_or_none
from providers._media import (
    b64_image_dimensions,
    encode_data_url,
    image_dimensions,
    sniff_b64_media_type,
)
from providers.errors import ContentModerated, InvalidRequest, ProtocolError, ProviderError
from providers.spec import Completed, GenerateCall, GeneratedImage, InputImage, Usage
from providers.xai.errors import error_from_response
from providers.xai.wire import ImagesResponse

GENERATIONS_PATH = "/images/generations"
EDITS_PATH = "/images/edits"
MAX_REFERENCES = 3  # docs.x.ai: "up to 3 reference images per request" (§2.2)
TICKS_PER_USD = Decimal(10_000_000_000)  # 1 tick = 1e-10 USD (xai-sdk cost.py)
DEFAULT_MEDIA_TYPE = "image/jpeg"  # "JPEG-encoded" (§2.3)
# Set by the adapter itself; an option must not override them.
RESERVED_OPTIONS = frozenset({"model", "prompt", "n", "response_format", "image", "images"})
# Fields xAI does not take (400 or 422, §5.3): never forwarded, even from an operator's list.
UNSUPPORTED_OPTIONS = frozenset(
    {
        *("size", "style", "output_format", "output_compression", "background"),
        *("moderation", "stream", "seed", "mask"),
    }
)
# An input block's reason is "a top-level string" whose name is unknown (§2.3, §7): the first
# string found under one of these names, else under any top-level name that reads as a reason.
REASON_FIELDS = (
    *("block_reason", "blocked_reason", "moderation_reason", "input_moderation_reason"),
    *("reason", "refusal", "message", "detail"),
)
_REASON_NAME = re.compile(r"reason|block|moderat|refus|violat", re.IGNORECASE)
_MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One ``POST {base_url}{path}`` with a JSON body (edits are JSON too, §2.2)."""

    path: str
    json: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def build_request(call: GenerateCall) -> UpstreamRequest:
    """Generations without input images; edits, with ``image`` (one) or ``images`` (several)."""
    body = build_body(call)
    if not call.input_images:
        return UpstreamRequest(path=GENERATIONS_PATH, json=body)
    if len(call.input_images) > MAX_REFERENCES:
        raise InvalidRequest(
            f"xAI accepts at most {MAX_REFERENCES} reference images, got {len(call.input_images)}",
            code="too_many_images",
        )
    refs = [image_reference(image) for image in call.input_images]
    if len(refs) == 1:
        body["image"] = refs[0]
    else:
        body["images"] = refs
    return UpstreamRequest(path=EDITS_PATH, json=body)


def build_body(call: GenerateCall) -> dict[str, Any]:
    """The JSON fields shared by both routes.

    Precedence, lowest first: caller ``options`` (already allowlisted by the gateway), the
    call's first-class fields, then the endpoint's operator-``fixed`` parameters.
    """
    refused = sorted((RESERVED_OPTIONS | UNSUPPORTED_OPTIONS) & call.options.keys())
    if refused:
        raise InvalidRequest(
            f"option(s) {', '.join(refused)} cannot be passed to xAI image models",
            code="unsupported_parameter",
        )
    body: dict[str, Any] = {"model": call.endpoint.upstream_model, "prompt": call.prompt}
    body.update((k, v) for k, v in call.options.items() if v is not None)
    body["n"] = call.n
    body["response_format"] = "b64_json"
    quality = call.quality if "quality" in call.endpoint.parameters else None
    fields = {
        "aspect_ratio": call.aspect_ratio,
        "resolution": call.resolution_wire,
        "quality": quality,
        "user": call.user,
    }
    body.update((k, v) for k, v in fields.items() if v is not None)
    body.update(call.endpoint.fixed)
    return body


def image_reference(image: InputImage) -> dict[str, str]:
    """``{"url": "data:<type>;base64,…", "type": "image_url"}`` (§2.2)."""
    return {"url": encode_data_url(image.data, image.media_type), "type": "image_url"}


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """One delivered image: base64 (any ``data:`` prefix removed) or a URL to download."""

    b64: str | None
    url: str | None
    declared_type: str | None  # ``mime_type``, else the data URI's type


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: the delivered slots, how many were withheld, the stated charge."""

    slots: tuple[Slot, ...]
    withheld: int
    ticks: int | None


def read_answer(
    body: bytes,
    *,
    provider: str = "xai",
    upstream_id: str | None = None,
    secrets: tuple[str, ...] = (),
) -> Answer:
    """Parse a 2xx body. Silent moderation becomes :class:`ContentModerated` (§5.5):
    every slot ``respect_moderation: false``, or no image at all: a ``data`` that is empty or
    missing is an input block (§2.3, §5.5), whatever else the body holds, unless the body is an
    error (``{code, error}``), which is read like an error answer (:func:`_error_in_2xx`); an
    ``error`` without a ``code`` beside an explicit ``data: []`` is the block's reason.
    """
    protocol = partial(ProtocolError, provider=provider, upstream_request_id=upstream_id)
    obj = load_json(body, what="images response", provider=provider)
    if not isinstance(obj, dict):
        raise protocol("images response is not a JSON object")
    if not obj.get("data") and _is_error_body(obj):
        error = _error_in_2xx(body, provider=provider, upstream_id=upstream_id, secrets=secrets)
        reason = _error_text(obj)
        if (
            type(error) is ProtocolError
            and obj.get("data") == []
            and not obj.get("code")
            and reason is not None
            and _BLOCK_WORDS.search(reason)
        ):
            # ``data: []`` says no image was generated (§5.5); an ``error`` text beside it that
            # reads as a refusal, with no ``code`` to classify, is the block's reason, whose
            # field name is not documented (§2.3). Other texts ("Internal server error") stay a
            # broken answer, retried elsewhere.
            raise _refusal(
                reason, 0, _ticks(obj), provider=provider, upstream_id=upstream_id,
                secrets=secrets,
            )  # fmt: skip
        raise error
    try:
        response = ImagesResponse.model_validate(obj)
    except ValidationError as exc:
        raise protocol(f"unexpected images response shape: {exc.error_count()} error(s)") from exc
    slots: list[Slot] = []
    withheld = 0
    for item in response.data or []:
        if item.b64_json:
            b64, uri_type = split_data_uri(item.b64_json, protocol)
            slots.append(Slot(b64=b64, url=None, declared_type=item.mime_type or uri_type))
        elif item.url:
            slots.append(Slot(b64=None, url=item.url, declared_type=item.mime_type))
        elif item.respect_moderation is False:
            withheld += 1
        else:
            raise protocol("image item carries neither b64_json nor url")
    ticks = response.usage.cost_in_usd_ticks if response.usage else None
    if not slots:
        reason = response.block_reason or block_reason(obj)
        raise _refusal(
            reason, withheld, ticks, provider=provider, upstream_id=upstream_id, secrets=secrets
        )
    return Answer(slots=tuple(slots), withheld=withheld, ticks=ticks)


def _is_error_body(obj: dict[str, Any]) -> bool:
    """xAI's error shape, ``{code, error}`` (§3), rather than a success without images."""
    return obj.get("error") not in (None, "", {}) or obj.get("code") not in (None, "")


# Words of a refusal beyond what xAI's error classifier already reads as moderation.
_BLOCK_WORDS = re.compile(
    r"moderat|polic(?:y|ies)|guideline|reject|refus|prohibit|forbidden content|unsafe|"
    r"inappropriate|not allowed|sensitive|nsfw|violat|block|flagged|safety",
    re.IGNORECASE,
)


def _ticks(obj: dict[str, Any]) -> int | None:
    """``usage.cost_in_usd_ticks`` of a body read as raw JSON, when it is a whole number."""
    usage = obj.get("usage")
    ticks = usage.get("cost_in_usd_ticks") if isinstance(usage, dict) else None
    return int_or_none(ticks)


def _error_text(obj: dict[str, Any]) -> str | None:
    """The ``error`` of an error-shaped body as text (a string, or an object's message)."""
    error = obj.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    return error if isinstance(error, str) else None


def _error_in_2xx(
    body: bytes, *, provider: str, upstream_id: str | None, secrets: tuple[str, ...]
) -> ProviderError:
    """An error body under a 2xx status: classified by its code and message as an error answer
    would be (a moderation wording is :class:`ContentModerated`, ``not_found`` is
    :class:`providers.errors.Unavailable` …); one that says nothing more is a
    :class:`ProtocolError` (retryable: it is not a refusal of the prompt)."""
    headers = {"x-request-id": upstream_id} if upstream_id else {}
    error = error_from_response(200, body, headers, provider=provider, secrets=secrets)
    error.status_code = None  # no HTTP error status: the 200 is not one
    if type(error) is ProtocolError:
        error.message = f"images response is an error: {error.message}"
    return error


def block_reason(obj: dict[str, Any]) -> str | None:
    """The reason of an input block: a top-level string under one of :data:`REASON_FIELDS`,
    else under a name that reads as a reason (``…reason``, ``…block…``, ``…moderat…``)."""
    for name in REASON_FIELDS:
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            return value
    for name, value in obj.items():
        if _REASON_NAME.search(name) and isinstance(value, str) and value.strip():
            return value
    return None


def _refusal(
    reason: str | None,
    withheld: int,
    ticks: int | None,
    *,
    provider: str,
    upstream_id: str | None,
    secrets: tuple[str, ...] = (),
) -> ContentModerated:
    """The refusal; when the answer still reports a cost (withheld slots, §2.3), that cost is
    the failed call's charge: the gateway records what xAI says it bills."""
    if withheld:
        message = (
            f"xAI withheld {'the image' if withheld == 1 else f'all {withheld} images'} "
            "after output moderation (respect_moderation: false)"
        )
        code = "respect_moderation"
    else:
        text = redact((reason or "").strip()[:_MAX_REASON], secrets)
        message = "xAI returned no image (blocked by moderation)" + (f": {text}" if text else "")
        code = "no_image"
    charge = Usage(provider_cost_usd=Decimal(ticks) / TICKS_PER_USD) if ticks else None
    return ContentModerated(
        message, provider=provider, upstream_request_id=upstream_id, code=code, charge=charge
    )


def split_data_uri(value: str, protocol: partial[ProtocolError]) -> tuple[str, str | None]:
    """``data:image/jpeg;base64,AAA`` → ``("AAA", "image/jpeg")``; bare base64 unchanged.

    Everything up to and including ``base64,`` goes, as the official SDK does.
    """
    if not value.startswith("data:"):
        return value, None
    head, sep, payload = value.partition("base64,")
    if not sep:
        raise protocol("b64_json is a data URI without base64 content")
    media_type = head[5:].split(";")[0].strip().lower()
    return payload, media_type or None


def completed(
    answer: Answer,
    payloads: list[tuple[str, str | None]],
    call: GenerateCall,
    *,
    upstream_id: str | None = None,
) -> Completed:
    """The final event: ``payloads`` are each slot's base64 and declared type, in order.

    Billing: the response's ticks are the exact charge and become ``provider_cost_usd``. When
    some images were withheld, the ticks also cover images the caller never gets (whether xAI
    bills them is unknown, §2.3, but it reports them in the charge): the gateway records what
    xAI reports, and a warning says so. Without ticks, the catalog prices what was delivered.
    """
    images = tuple(make_image(b64, declared) for b64, declared in payloads)
    warnings: list[str] = []
    cost = None if answer.ticks is None else Decimal(answer.ticks) / TICKS_PER_USD
    if answer.withheld:
        total = answer.withheld + len(images)
        billed = (
            "the cost xAI reports covers all of them"
            if cost is not None
            else (f"{len(images)} billed at the catalog price")
        )
        warnings.append(
            f"xAI withheld {answer.withheld} of {total} images after output moderation "
            f"(respect_moderation: false); {len(images)} returned, {billed}"
        )
    if len(images) + answer.withheld < call.n:
        warnings.append(f"xAI returned {len(images)} of {call.n} requested images")
    usage = Usage(
        images=len(images),
        pixels=sum((img.width or 0) * (img.height or 0) for img in images),
        input_images=len(call.input_images),
        input_pixels=_input_pixels(call.input_images),
        provider_cost_usd=cost,
    )
    return Completed(images=images, usage=usage, upstream_id=upstream_id, warnings=tuple(warnings))


def make_image(b64: str, declared: str | None) -> GeneratedImage:
    """The true media type: the bytes' own signature, else the declared type, else JPEG;
    dimensions from the image header."""
    media_type = sniff_b64_media_type(b64) or (declared or "").lower() or DEFAULT_MEDIA_TYPE
    dims = b64_image_dimensions(b64)
    width, height = dims if dims is not None else (None, None)
    return GeneratedImage(b64=b64, media_type=media_type, width=width, height=height)


def _input_pixels(images: tuple[InputImage, ...]) -> int:
    total = 0
    for image in images:
        dims = image_dimensions(image.data)
        if dims is not None:
            total += dims[0] * dims[1]
    return total
