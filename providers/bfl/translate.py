"""Pure mapping between :class:`GenerateCall` and the BFL wire format.

No I/O, no ``await``, no httpx: the submit body comes out as a :class:`SubmitRequest`; the
submit answer, poll answers and the downloaded image go in as bytes. Request bodies, the submit
answer, polling and results as Black Forest Labs documents them (our notes, compiled 2026-10).

What each model takes (§2) lives in :data:`FAMILIES`, keyed by upstream slug: only those keys
are ever sent. Width/height come from the call (already placed on the catalog's grid; rounded
to the family's multiple here as a last guard), ``aspect_ratio`` for the ratio models (in
whole numbers, :func:`wire_ratio`), references as ``input_image``, ``input_image_2`` … (raw
base64, no ``data:`` prefix) or as FLUX1.1's single ``image_prompt``, and BFL-only knobs only
from the allowlisted passthrough options. Upstream models missing from the table
(operator-added endpoints) are described by their catalog entry: its geometry, its reference
limit and its passthrough keys.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal
from urllib.parse import parse_qs, quote, urljoin, urlsplit

from pydantic import ValidationError

from providers._media import image_dimensions, sniff_media_type
from providers.bfl.errors import FAILED, MODERATED, NOT_FOUND
from providers.bfl.wire import AsyncResponse, ResultResponse
from providers.errors import InvalidRequest, ProtocolError
from providers.spec import Completed, GenerateCall, GeneratedImage, RatioTier, Usage

CREDIT_USD = Decimal("0.01")  # 1 credit = $0.01 (§3, §7)
PENDING = "Pending"
IN_PROGRESS = frozenset({PENDING, "Generating", "Reasoning", "Queued"})  # known ones (§4)
READY = "Ready"
# Every status the adapter recognises (§4's enum and the in-progress ones above): a 202 whose
# body names one of these is read as that answer (:func:`parse_pending`).
KNOWN_STATUSES = IN_PROGRESS | {READY, NOT_FOUND} | FAILED | frozenset(MODERATED)


@dataclass(frozen=True, slots=True)
class Family:
    """The body fields one BFL model takes (§2)."""

    shape: Literal["pixels", "ratio"]
    references: Literal["input_image", "image_prompt"] = "input_image"
    max_references: int = 8
    multiple: int = 16
    options: frozenset[str] = frozenset()


_FLUX2 = Family("pixels", options=frozenset({"safety_tolerance", "disable_pup"}))
_FLEX = Family(
    "pixels", options=frozenset({"safety_tolerance", "steps", "guidance", "prompt_upsampling"})
)
_KLEIN = Family("pixels", max_references=4, options=frozenset({"safety_tolerance"}))
_KONTEXT = Family(
    "ratio", max_references=4, options=frozenset({"safety_tolerance", "prompt_upsampling"})
)
FAMILIES: dict[str, Family] = {
    "flux-2-max": _FLUX2,
    "flux-2-pro": _FLUX2,
    "flux-2-pro-preview": _FLUX2,
    "flux-2-flex": _FLEX,
    "flux-2-klein-4b": _KLEIN,
    "flux-2-klein-9b": _KLEIN,
    "flux-2-klein-9b-preview": _KLEIN,
    "flux-kontext-pro": _KONTEXT,
    "flux-kontext-max": _KONTEXT,
    "flux-pro-1.1": Family(
        "pixels",
        references="image_prompt",
        max_references=1,
        multiple=32,
        options=frozenset({"safety_tolerance", "prompt_upsampling"}),
    ),
    "flux-pro-1.1-ultra": Family(
        "ratio",
        references="image_prompt",
        max_references=1,
        options=frozenset({"safety_tolerance", "raw", "image_prompt_strength"}),
    ),
}


def family(call: GenerateCall) -> Family:
    """The model's family; an unknown slug is described by its catalog entry."""
    endpoint = call.endpoint
    known = FAMILIES.get(endpoint.upstream_model)
    if known is not None:
        return known
    shape: Literal["pixels", "ratio"] = (
        "ratio" if isinstance(endpoint.geometry, RatioTier) else "pixels"
    )
    return Family(
        shape,
        max_references=min(8, endpoint.max_references),
        options=frozenset(endpoint.passthrough),
    )


@dataclass(frozen=True, slots=True)
class SubmitRequest:
    """One ``POST {base_url}{path}`` with a JSON body."""

    path: str
    json: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the submit answer told us: the task, where to poll it, what it costs."""

    id: str
    polling_url: str
    cost_usd: Decimal | None = None


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def build_submit(call: GenerateCall) -> SubmitRequest:
    """The submit body for ``call`` (InvalidRequest for what BFL cannot be asked)."""
    fam = family(call)
    if call.n != 1:
        raise InvalidRequest(f"BFL makes one image per task, got n={call.n}", code="n")
    unknown = sorted(set(call.options) - fam.options)
    if unknown:
        raise InvalidRequest(
            f"{call.endpoint.upstream_model} does not take option(s) {', '.join(unknown)}",
            code="unsupported_parameter",
        )
    body: dict[str, Any] = {"prompt": call.prompt}
    body.update(_shape(call, fam))
    if call.seed is not None:
        body["seed"] = call.seed
    if call.output_format is not None:
        body["output_format"] = call.output_format
    body.update(references(call, fam))
    body.update((k, v) for k, v in call.options.items() if v is not None)
    body.update(call.endpoint.fixed)
    return SubmitRequest(path=f"/{call.endpoint.upstream_model}", json=body)


def _shape(call: GenerateCall, fam: Family) -> dict[str, Any]:
    if fam.shape == "ratio":
        return {"aspect_ratio": wire_ratio(call.aspect_ratio)} if call.aspect_ratio else {}
    if call.width and call.height:
        return {
            "width": snap(call.width, fam.multiple),
            "height": snap(call.height, fam.multiple),
        }
    return {}  # the model picks (or matches the first reference)


def wire_ratio(ratio: str) -> str:
    """The ratio as BFL takes it: ``"W:H"`` in whole numbers (§2.4: Kontext's ``aspect_ratio``
    is "a string "W:H" between 21:9 and 9:21"). A public ratio with decimals keeps its value in
    lowest terms (``9:19.5`` → ``6:13``); whole-number ratios go as written (``16:9``)."""
    width, sep, height = ratio.partition(":")
    if not sep or (width.isdigit() and height.isdigit()):
        return ratio
    try:
        value = Fraction(width) / Fraction(height)
    except (ValueError, ZeroDivisionError):
        return ratio  # not a ratio: the normalizer never lets one through; BFL will say 422
    return f"{value.numerator}:{value.denominator}"


def snap(edge: int, multiple: int) -> int:
    """The nearest multiple, halves up (at least one multiple); the normalizer usually has."""
    return max(multiple, (edge + multiple // 2) // multiple * multiple)


def references(call: GenerateCall, fam: Family) -> dict[str, str]:
    """``input_image``, ``input_image_2`` … or ``image_prompt``, as raw base64 (§2)."""
    images = call.input_images
    if len(images) > fam.max_references:
        raise InvalidRequest(
            f"{call.endpoint.upstream_model} takes at most {fam.max_references} reference "
            f"image(s), got {len(images)}",
            code="too_many_images",
        )
    names = [fam.references if i == 0 else f"{fam.references}_{i + 1}" for i in range(len(images))]
    return {
        name: base64.b64encode(img.data).decode("ascii")
        for name, img in zip(names, images, strict=True)
    }


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------


def _json(body: bytes, what: str, provider: str) -> Any:
    """JSON with exact decimals (credits are money)."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"BFL {what} is not valid JSON", provider=provider) from exc
    except RecursionError as exc:  # nesting deeper than the interpreter's recursion limit
        raise ProtocolError(f"BFL {what} is nested too deeply", provider=provider) from exc


def parse_submit(body: bytes, *, base_url: str, provider: str = "black-forest-labs") -> Submitted:
    """The ``AsyncResponse`` (§3) → the task id, its polling URL and its cost in USD."""
    obj = _json(body, "submit answer", provider)
    try:
        answer = AsyncResponse.model_validate(obj)
    except ValidationError as exc:
        raise ProtocolError(
            f"unexpected BFL submit answer: {exc.error_count()} error(s)", provider=provider
        ) from exc
    url = absolute(answer.polling_url, base_url, provider) if answer.polling_url else None
    task_id = answer.id or (_query_id(url, provider) if url else None)
    if not task_id:
        raise ProtocolError(
            "BFL submit answer names no task (no readable id, no id in polling_url)",
            provider=provider,
        )
    url = url or f"{base_url.rstrip('/')}/get_result"
    cost = answer.cost * CREDIT_USD if answer.cost is not None else None
    return Submitted(task_id, polling_url_for(url, task_id, provider), cost)


def _query_id(url: str, provider: str) -> str | None:
    """The ``id`` query parameter of a polling URL, if it has one."""
    try:
        values = parse_qs(urlsplit(url).query).get("id")
    except ValueError as exc:
        raise ProtocolError("BFL returned an invalid polling URL", provider=provider) from exc
    return values[0] if values and values[0] else None


def absolute(url: str, base_url: str, provider: str = "black-forest-labs") -> str:
    """An absolute URL is kept as given; a relative one (never seen from BFL, but harmless to
    honour) is resolved against the base URL, as a browser would. A URL that cannot be parsed
    (``http://[::1``: a broken IPv6 host) is a :class:`ProtocolError`."""
    try:
        if urlsplit(url).netloc:
            return url
        return urljoin(f"{base_url.rstrip('/')}/", url)
    except ValueError as exc:
        raise ProtocolError("BFL returned an invalid URL", provider=provider) from exc


def polling_url_for(url: str, task_id: str, provider: str = "black-forest-labs") -> str:
    """``url`` exactly as given, with ``id=<task>`` appended only when it has no ``id`` (§4)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ProtocolError("BFL returned an invalid polling URL", provider=provider) from exc
    if "id" in parse_qs(parts.query, keep_blank_values=True):
        return url
    separator = "&" if parts.query else "?"
    base, hash_mark, fragment = url.partition("#")
    return f"{base}{separator}id={quote(task_id, safe='')}{hash_mark}{fragment}"


def parse_result(body: bytes, *, provider: str = "black-forest-labs") -> ResultResponse:
    """A poll answer (§4); ProtocolError when it is not a ``ResultResponse``."""
    obj = _json(body, "poll answer", provider)
    try:
        return ResultResponse.model_validate(obj)
    except ValidationError as exc:
        raise ProtocolError(
            f"unexpected BFL poll answer: {exc.error_count()} error(s)", provider=provider
        ) from exc


def parse_pending(body: bytes, *, provider: str = "black-forest-labs") -> ResultResponse:
    """An HTTP 202 poll answer: pending (§4: old clients "handled HTTP 202 from get_result as
    still pending. Treat 202 as pending."), unless its body is a ``ResultResponse`` naming a
    status in :data:`KNOWN_STATUSES`. An empty body, one that is not JSON, one without
    ``status`` (such as ``{"id": "T"}``) or with an unknown status says nothing more than the
    202 itself, so it is never a :class:`ProtocolError` that would end the task."""
    try:
        answer = parse_result(body, provider=provider)
    except ProtocolError:
        return ResultResponse(status=PENDING)
    return answer if answer.status in KNOWN_STATUSES else ResultResponse(status=PENDING)


def sample_url(
    answer: ResultResponse, *, base_url: str, provider: str = "black-forest-labs"
) -> str:
    """``result.sample`` of a Ready answer."""
    sample = answer.result.sample if answer.result else None
    if not sample:
        raise ProtocolError("BFL answered Ready without result.sample", provider=provider)
    return absolute(sample, base_url, provider)


def completed(
    data: bytes,
    content_type: str | None,
    call: GenerateCall,
    submitted: Submitted,
    *,
    provider: str = "black-forest-labs",
) -> Completed:
    """The downloaded image → :class:`Completed`, with its true type and size (§5)."""
    declared = (content_type or "").split(";")[0].strip().lower()
    media_type = sniff_media_type(data) or (declared if declared.startswith("image/") else None)
    if not data or media_type is None:
        raise ProtocolError(
            "BFL result download is not an image",
            provider=provider,
            upstream_request_id=submitted.id,
        )
    dims = image_dimensions(data) or (
        (call.width, call.height) if call.width and call.height else None
    )
    width, height = dims if dims else (None, None)
    image = GeneratedImage(
        b64=base64.b64encode(data).decode("ascii"),
        media_type=media_type,
        width=width,
        height=height,
    )
    return Completed(images=(image,), usage=usage(image, call, submitted), upstream_id=submitted.id)


def usage(image: GeneratedImage, call: GenerateCall, submitted: Submitted) -> Usage:
    """Facts: one image, its pixels, the references sent, and BFL's own charge when stated."""
    input_pixels = 0
    for ref in call.input_images:
        dims = image_dimensions(ref.data)
        if dims is not None:
            input_pixels += dims[0] * dims[1]
    return Usage(
        images=1,
        pixels=(image.width or 0) * (image.height or 0),
        input_images=len(call.input_images),
        input_pixels=input_pixels,
        provider_cost_usd=submitted.cost_usd,
    )
