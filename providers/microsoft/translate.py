"""Pure mapping between :class:`GenerateCall` and the MAI image API on Azure AI Foundry.

No I/O, no ``await``, no httpx: requests come out as :class:`UpstreamRequest` values, response
bodies go in as bytes; error bodies become exceptions in :mod:`providers.microsoft.errors`.
Transport, generations, edits and the response as Microsoft's Azure AI Foundry documentation
describes the MAI image API (our notes, compiled 2026-11).

Choices where the reference is unsure:

* ``width`` and ``height`` are always sent, on edits too (Vercel does; Microsoft's table lists
  them for generations only). A call without a shape asks for 1024x1024, every client's default.
* Reference images go up as repeated ``image`` parts, PNG or JPEG only (anything else is a
  400 here rather than a guess at a conversion); how many is the catalog's
  ``input_references`` limit (1 by default, up to 5 where an operator configures it).
* No ``api-version`` query: Microsoft's examples send none. An operator who needs one puts it
  in the base URL (``…/mai/v1?api-version=preview``); it is kept on every request.
* Output tokens missing from the answer (no ``usage``) are estimated as ``w*h/1024`` of the
  returned image, the rule every observed answer follows, and the estimate is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from providers._http import form_fields, load_json
from providers._media import (
    JPEG,
    PNG,
    b64_image_dimensions,
    extension_for,
    image_dimensions,
    parse_size,
    sniff_b64_media_type,
    sniff_media_type,
)
from providers.errors import ContentModerated, InvalidRequest, ProtocolError
from providers.microsoft.errors import error_from_detail
from providers.microsoft.wire import ErrorEnvelope, ImagesResponse
from providers.spec import Completed, GenerateCall, GeneratedImage, InputImage, Usage

GENERATIONS_PATH = "/images/generations"
EDITS_PATH = "/images/edits"
API_PATH = "/mai/v1"  # path of the API under a resource root (https://<res>.services.ai.azure.com)
DEFAULT_EDGE = 1024
MAX_REFERENCES = 5  # "text and up to five images" (§4)
REFERENCE_TYPES = (PNG, JPEG)
# Set by the adapter itself; an option must not override them.
RESERVED_OPTIONS = frozenset({"model", "prompt", "width", "height", "image", "n"})
PIXELS_PER_TOKEN = 1024

FileField = tuple[str, tuple[str, bytes, str]]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One ``POST {base_url}{path}``: a JSON body, or multipart ``data`` + ``files``."""

    path: str
    json: dict[str, Any] | None = None
    data: dict[str, str | list[str]] | None = None
    files: tuple[FileField, ...] = ()


def endpoint_url(base_url: str, path: str) -> str:
    """``base_url`` + ``path``, keeping a query the base URL carries.

    A bare resource root (``https://<res>.services.ai.azure.com``) gets ``/mai/v1``, as
    LiteLLM accepts it; any other path (``…/mai/v1``, a proxy's) is used as given.
    """
    parts = urlsplit(base_url.strip())
    base_path = parts.path.rstrip("/") or API_PATH
    return urlunsplit((parts.scheme, parts.netloc, base_path + path, parts.query, ""))


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def build_request(call: GenerateCall) -> UpstreamRequest:
    """Generations (JSON) without reference images, else edits (multipart)."""
    params = build_params(call)
    if not call.input_images:
        return UpstreamRequest(path=GENERATIONS_PATH, json=params)
    if len(call.input_images) > MAX_REFERENCES:
        raise InvalidRequest(
            f"MAI image models take at most {MAX_REFERENCES} reference images, "
            f"got {len(call.input_images)}",
            code="too_many_images",
        )
    return UpstreamRequest(
        path=EDITS_PATH, data=form_fields(params), files=image_files(call.input_images)
    )


def build_params(call: GenerateCall) -> dict[str, Any]:
    """``model`` (the deployment name), ``prompt``, ``width``, ``height``, then options.

    Precedence, lowest first: caller ``options`` (already allowlisted by the gateway:
    ``auto_aspect_ratio``/``web_grounding`` on 2.6), the call's fields, then the endpoint's
    operator-``fixed`` parameters. ``n``, seed, quality, format and background have no MAI
    parameter and are never sent (one PNG per call, always).
    """
    reserved = sorted(RESERVED_OPTIONS & call.options.keys())
    if reserved:
        raise InvalidRequest(
            f"option(s) {', '.join(reserved)} cannot be passed to MAI image models",
            code="unsupported_parameter",
        )
    params: dict[str, Any] = {"model": call.endpoint.upstream_model, "prompt": call.prompt}
    params.update((k, v) for k, v in call.options.items() if v is not None)
    params["width"] = call.width or DEFAULT_EDGE
    params["height"] = call.height or DEFAULT_EDGE
    params.update(call.endpoint.fixed)
    return params


def image_files(images: tuple[InputImage, ...]) -> tuple[FileField, ...]:
    """One ``image`` part per reference (``image-1.png``, ``image-2.jpg``), PNG or JPEG."""
    files = []
    for index, image in enumerate(images, start=1):
        media_type = sniff_media_type(image.data) or image.media_type
        if media_type not in REFERENCE_TYPES:
            raise InvalidRequest(
                f"MAI image models accept PNG or JPEG reference images; image {index} is "
                f"{media_type}",
                code="unsupported_image_format",
            )
        files.append(
            ("image", (f"image-{index}.{extension_for(media_type)}", image.data, media_type))
        )
    return tuple(files)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def parse_response(
    body: bytes,
    call: GenerateCall,
    *,
    provider: str = "azure",
    upstream_id: str | None = None,
    secrets: tuple[str, ...] = (),
) -> Completed:
    """A 2xx body → :class:`Completed` with the one PNG and the token facts of ``usage``.

    ``data: [{}]`` (an answer without image bytes) is the output-side content filter
    (reference §6, §8) and raises :class:`ContentModerated`.
    """
    protocol = partial(ProtocolError, provider=provider, upstream_request_id=upstream_id)
    obj = load_json(body, what="images response", provider=provider)
    if not isinstance(obj, dict):
        raise protocol("images response is not a JSON object")
    try:
        if obj.get("error"):
            detail = ErrorEnvelope.model_validate(obj).error
            raise error_from_detail(
                detail, None, provider=provider, secrets=secrets, upstream_request_id=upstream_id
            )
        response = ImagesResponse.model_validate(obj)
    except ValidationError as exc:
        raise protocol(f"unexpected images response shape: {exc.error_count()} error(s)") from exc
    if not response.data:
        raise protocol("upstream returned no images")
    b64 = response.data[0].b64_json
    if not b64:
        raise ContentModerated(
            "Azure AI content filter: the answer holds no image (the output was filtered)",
            provider=provider,
            upstream_request_id=upstream_id,
            code="output_filtered",
        )
    image = make_image(b64, response.size)
    usage, warnings = token_usage(response, image)
    usage = usage + reference_usage(call.input_images)
    if call.n > 1:
        warnings += (f"upstream returned 1 of {call.n} requested images",)
    return Completed(images=(image,), usage=usage, upstream_id=upstream_id, warnings=warnings)


def make_image(b64: str, size: str | None) -> GeneratedImage:
    """Media type and size read from the image itself; the answer's ``size`` as a fallback."""
    dims = b64_image_dimensions(b64) or parse_size(size)
    width, height = dims if dims is not None else (None, None)
    return GeneratedImage(
        b64=b64, media_type=sniff_b64_media_type(b64) or PNG, width=width, height=height
    )


def token_usage(response: ImagesResponse, image: GeneratedImage) -> tuple[Usage, tuple[str, ...]]:
    """Token facts: ``usage.num_output_tokens``, else ``usage.output_image_tokens``, else the
    legacy root ``num_output_tokens``, else estimated from the image (with a warning)."""
    usage = response.usage
    text_in = (usage.num_input_text_tokens if usage else None) or 0
    image_in = (usage.num_input_image_tokens if usage else None) or 0
    candidates = (
        usage.num_output_tokens if usage else None,
        usage.output_image_tokens if usage else None,
        response.num_output_tokens,
    )
    out = next((c for c in candidates if c is not None), None)
    pixels = (image.width or 0) * (image.height or 0)
    warnings: tuple[str, ...] = ()
    if out is None:
        out = (pixels + PIXELS_PER_TOKEN // 2) // PIXELS_PER_TOKEN
        warnings = (
            f"the provider reported no token usage; {out} output tokens were estimated from "
            f"the image's {image.width}x{image.height} pixels",
        )
    facts = Usage(
        images=1,
        pixels=pixels,
        input_text_tokens=text_in,
        input_image_tokens=image_in,
        output_image_tokens=out,
    )
    return facts, warnings


def reference_usage(images: tuple[InputImage, ...]) -> Usage:
    """Count and pixels of the references that went up."""
    pixels = 0
    for ref in images:
        dims = image_dimensions(ref.data)
        if dims is not None:
            pixels += dims[0] * dims[1]
    return Usage(input_images=len(images), input_pixels=pixels)
