"""Pure mapping between :class:`GenerateCall` and Runware's task API.

No I/O, no ``await``, no httpx. Transport, ``imageInference`` tasks, results and errors as
Runware's task API documentation describes them (our notes, compiled 2026-11).

Requests: one ``imageInference`` task per image, each with its own ``taskUUID`` (v4) and
``numberResults: 1``, all in one JSON array. A task's failure (Runware scopes errors to tasks)
then costs exactly one image, and each image's ``cost`` is known. Every task asks for
``outputType: base64Data``, ``includeCost: true`` and ``deliveryMethod: sync`` explicitly (the
SDKs disagree on the default, §2). ``outputFormat`` is the requested format, PNG when none was
asked (Runware's default is JPG; OpenRouter serves Sourceful's images as PNG, and PNG keeps a
transparent background). ``width``/``height`` are always sent: the normalizer has placed them
on one of the model's listed pairs (§3.3); when the caller gave no shape, the endpoint's first
listed size is sent, since several Runware models require a size. Reference images go inline
as data URIs in ``inputs.referenceImages`` (§3.1: no upload step needed). Model-specific
fields: :mod:`providers.runware.dialects`. The endpoint's ``fixed`` fields are merged in last.

Answers: results are matched to tasks by ``taskUUID``, never by position (§4). A task that
failed (an ``errors`` item, ``NSFWContent: true``, or no result at all) loses its image only;
the others are returned with a warning and only they are counted. ``cost`` is summed exactly
(the body is parsed with decimal floats) when every delivered image carries one. A result
flagged ``NSFWContent`` was still generated and carries its ``cost``: that is billed too (§8,
"bill the returned cost"), added to the delivered images' cost or, when nothing was delivered,
as the failure's charge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from providers._media import (
    b64_image_dimensions,
    encode_data_url,
    image_dimensions,
    media_type_for_format,
    sniff_b64_media_type,
)
from providers.errors import ContentModerated, ProtocolError, ProviderError
from providers.runware import dialects
from providers.runware.errors import task_error
from providers.runware.wire import Answer, ImageResult, TaskError
from providers.spec import Completed, FixedSizes, GenerateCall, GeneratedImage, Usage

OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPG", "webp": "WEBP"}
DEFAULT_FORMAT = "png"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """The JSON array to POST, the task ids in order, and warnings for the caller."""

    tasks: tuple[dict[str, Any], ...]
    task_uuids: tuple[str, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One image of the answer: inline base64, or a URL the adapter must fetch at once."""

    task_uuid: str
    b64: str | None
    url: str | None
    cost: Decimal | None


@dataclass
class ParsedAnswer:
    """A 200 answer sorted by task: what was delivered, and why the other tasks failed."""

    deliveries: list[Delivery] = field(default_factory=list)
    failures: dict[str, ProviderError] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def build_request(call: GenerateCall, task_uuids: Sequence[str]) -> UpstreamRequest:
    """One task per image: ``len(task_uuids)`` must be ``call.n``."""
    if len(task_uuids) != call.n:
        raise ValueError(f"{call.n} images need {call.n} task ids, got {len(task_uuids)}")
    fields, warnings = task_fields(call)
    tasks = tuple(
        {"taskType": "imageInference", "taskUUID": task_uuid, **fields} for task_uuid in task_uuids
    )
    return UpstreamRequest(tasks=tasks, task_uuids=tuple(task_uuids), warnings=warnings)


def task_fields(call: GenerateCall) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Every task field but ``taskType``/``taskUUID``, and the dialect's warnings."""
    task: dict[str, Any] = {
        "model": call.endpoint.upstream_model,
        "positivePrompt": call.prompt,
        **_size(call),
        "numberResults": 1,
        "outputType": "base64Data",
        "outputFormat": OUTPUT_FORMATS[call.output_format or DEFAULT_FORMAT],
        "includeCost": True,
        "deliveryMethod": "sync",
    }
    if call.output_compression is not None and call.output_format in ("jpeg", "webp"):
        task["outputQuality"] = call.output_compression
    if call.seed is not None:
        task["seed"] = call.seed
    if call.input_images:
        refs = [encode_data_url(img.data, img.media_type) for img in call.input_images]
        task["inputs"] = {"referenceImages": refs}
    warnings = dialects.apply(task, call)
    _merge(task, call.endpoint.fixed)
    return task, warnings


def _size(call: GenerateCall) -> dict[str, Any]:
    if call.width and call.height:
        return {"width": call.width, "height": call.height}
    geometry = call.endpoint.geometry
    if isinstance(geometry, FixedSizes):
        width, _, height = geometry.sizes[0].partition("x")
        return {"width": int(width), "height": int(height)}
    if call.resolution_wire:
        return {"resolution": call.resolution_wire}
    return {}


def _merge(task: dict[str, Any], fixed: Mapping[str, Any]) -> None:
    """Deep-merge the endpoint's fixed fields (they win over everything)."""
    for key, value in fixed.items():
        current = task.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        else:
            task[key] = value


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


def load_answer(body: bytes, *, provider: str = "runware") -> Answer:
    """Parse a body with exact decimals (``cost`` is money) into :class:`Answer`."""
    try:
        obj = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(
            f"{provider} answer is not valid JSON ({exc})", provider=provider
        ) from exc
    if not isinstance(obj, dict):
        raise ProtocolError(f"{provider} answer is not a JSON object", provider=provider)
    try:
        return Answer.model_validate(obj)
    except ValidationError as exc:
        message = f"unexpected {provider} answer shape: {exc.error_count()} error(s)"
        raise ProtocolError(message, provider=provider) from exc


def parse_answer(
    body: bytes,
    task_uuids: Sequence[str],
    *,
    provider: str = "runware",
    secrets: tuple[str, ...] = (),
) -> ParsedAnswer:
    """Sort a 200 answer by our tasks; items for other task ids are ignored."""
    answer = load_answer(body, provider=provider)
    parsed = ParsedAnswer()
    ours = set(task_uuids)
    delivered: set[str] = set()
    for raw in answer.data:
        item = _result(raw, provider)
        if item is None or item.task_uuid not in ours:
            continue
        if item.task_type not in (None, "imageInference"):
            continue
        task_uuid = str(item.task_uuid)
        if item.nsfw:
            parsed.failures.setdefault(task_uuid, _flagged(task_uuid, item.cost, provider))
            continue
        parsed.deliveries.append(_delivery(item, task_uuid, provider))
        delivered.add(task_uuid)
    loose: list[TaskError] = []
    for error in answer.all_errors():
        exc = task_error(error, None, provider=provider, secrets=secrets)
        if error.task_uuid in delivered:  # its image arrived: kept (and billed), not a failure
            continue
        if error.task_uuid in ours:
            parsed.failures.setdefault(str(error.task_uuid), exc)
        else:
            loose.append(error)
    for task_uuid in task_uuids:  # tasks with neither a result nor their own error
        if task_uuid in delivered or task_uuid in parsed.failures:
            continue
        if loose:
            exc = task_error(loose[0], None, provider=provider, secrets=secrets)
        else:
            exc = ProtocolError(
                f"{provider} returned no result for task {task_uuid}", provider=provider
            )
        parsed.failures[task_uuid] = exc
    return parsed


def _result(raw: dict[str, Any], provider: str) -> ImageResult | None:
    try:
        return ImageResult.model_validate(raw)
    except ValidationError as exc:
        raise ProtocolError(f"unexpected {provider} result item", provider=provider) from exc


def _flagged(task_uuid: str, cost: Decimal | None, provider: str) -> ContentModerated:
    """A result flagged ``NSFWContent``: refused, but its ``cost`` (the image was generated)
    is what Runware bills for it (§8: bill the returned cost), so it is the failure's charge."""
    return ContentModerated(
        "the generated image was flagged as NSFW content",
        provider=provider,
        upstream_request_id=task_uuid,
        code="NSFWContent",
        charge=Usage(provider_cost_usd=cost) if cost is not None else None,
    )


def _delivery(item: ImageResult, task_uuid: str, provider: str) -> Delivery:
    b64 = item.image_base64
    if b64 is None and item.image_data_uri is not None:
        head, sep, payload = item.image_data_uri.partition(";base64,")
        if not sep or not head.startswith("data:"):
            raise ProtocolError(f"{provider} returned a malformed imageDataURI", provider=provider)
        b64 = payload
    if b64 is None and item.image_url is None:
        raise ProtocolError(
            f"{provider} result for task {task_uuid} has no image", provider=provider
        )
    return Delivery(task_uuid, b64, None if b64 else item.image_url, item.cost)


def completed(
    call: GenerateCall,
    deliveries: Sequence[Delivery],
    failures: Mapping[str, ProviderError],
    *,
    upstream_id: str | None = None,
    warnings: tuple[str, ...] = (),
) -> Completed:
    """The images that arrived (base64 filled in), or the error when none did."""
    charged = [exc.charge.provider_cost_usd for exc in failures.values() if exc.charge]
    failed_cost = sum((c for c in charged if c is not None), Decimal(0)) if charged else None
    if not deliveries:
        error = _all_failed(list(failures.values()))
        if failed_cost is not None:  # every failed task's stated charge, whichever error wins
            error.charge = Usage(provider_cost_usd=failed_cost)
        raise error
    images = tuple(make_image(d.b64 or "", call) for d in deliveries)
    if failures:
        reasons = "; ".join(sorted({exc.message for exc in failures.values()}))
        warnings += (
            f"{len(failures)} of {len(failures) + len(images)} images failed upstream: {reasons}",
        )
    costs = [d.cost for d in deliveries]
    cost = sum((c for c in costs if c is not None), Decimal(0)) if None not in costs else None
    if cost is not None and failed_cost is not None:
        cost += failed_cost  # flagged results were generated, and billed, too
    usage = Usage(
        images=len(images),
        pixels=sum((i.width or 0) * (i.height or 0) for i in images),
        input_images=len(call.input_images),
        input_pixels=_input_pixels(call),
        provider_cost_usd=cost,
    )
    return Completed(images=images, usage=usage, upstream_id=upstream_id, warnings=warnings)


def _all_failed(errors: list[ProviderError]) -> ProviderError:
    """Moderation when every task was refused for content; otherwise the first other error."""
    if not errors:
        return ProtocolError("upstream returned no images")
    others = [e for e in errors if not isinstance(e, ContentModerated)]
    return others[0] if others else errors[0]


def make_image(b64: str, call: GenerateCall) -> GeneratedImage:
    """True media type (magic bytes first) and the size read from the image itself."""
    media_type = (
        sniff_b64_media_type(b64)
        or media_type_for_format(call.output_format or DEFAULT_FORMAT)
        or "image/png"
    )
    dims = b64_image_dimensions(b64)
    width, height = dims if dims is not None else (None, None)
    return GeneratedImage(b64=b64, media_type=media_type, width=width, height=height)


def _input_pixels(call: GenerateCall) -> int:
    total = 0
    for ref in call.input_images:
        dims = image_dimensions(ref.data)
        if dims is not None:
            total += dims[0] * dims[1]
    return total
