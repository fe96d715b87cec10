"""Reading OpenAI image requests off the wire: JSON generations, multipart and JSON edits.

Produces JSON-typed fields for ``openai_rules.validate``, the decoded input images, and a
summary of the body for the request log (files and data URLs summarised, never their bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from simulator.openai_errors import OpenAIError, invalid_value, missing_parameter, too_long
from simulator.openai_rules import MAX_EDIT_IMAGES, coerce_form
from simulator.render import dimensions, image_format, open_image

MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_MASK_BYTES = 4 * 1024 * 1024
_IMAGE_PARTS = ("image", "image[]")
_DATA_URL = re.compile(r"data:([\w/+.-]+)?(?:;[\w=.-]+)*;base64,(.*)", re.DOTALL)


@dataclass
class InputPart:
    """One uploaded image (``image``/``image[]``/``mask``/``markup`` or a JSON data URL)."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "bytes": len(self.data),
        }


@dataclass
class ParsedRequest:
    """A request body, split into typed fields and image parts."""

    fields: dict[str, Any]
    log_body: dict[str, Any]
    images: list[InputPart] = field(default_factory=list)
    mask: InputPart | None = None
    markup: InputPart | None = None
    multipart: bool = False
    """A multipart edit (what the SDK sends), which has no ``moderation`` field (§3.1)."""


def bad_json() -> OpenAIError:
    return OpenAIError(
        400,
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
        "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
        "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
        "contact us through our help center at help.openai.com.)",
    )


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise bad_json() from exc
    if not isinstance(body, dict):
        raise bad_json()
    return body


async def parse_generation(request: Request) -> ParsedRequest:
    body = await _json_object(request)
    return ParsedRequest(fields=body, log_body=dict(body))


async def parse_edit(request: Request) -> ParsedRequest:
    """Multipart (what the SDK sends) or the JSON form with ``images: [{image_url}]``."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _parse_multipart(request)
    if content_type.startswith("application/json"):
        return _parse_json_edit(await _json_object(request))
    raise OpenAIError(
        400,
        f"Invalid Content-Type header ({content_type or 'none'}), expected multipart/form-data "
        "or application/json.",
    )


async def _parse_multipart(request: Request) -> ParsedRequest:
    text: dict[str, str] = {}
    log_body: dict[str, Any] = {}
    parsed = ParsedRequest(fields={}, log_body=log_body, multipart=True)
    try:
        async with request.form(
            max_files=4 * MAX_EDIT_IMAGES, max_part_size=MAX_IMAGE_BYTES + 1
        ) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    part = InputPart(name, await value.read(), value.filename, value.content_type)
                elif name in (*_IMAGE_PARTS, "mask", "markup"):
                    part = InputPart(name, value.encode())
                else:
                    text[name] = value
                    log_body[name] = value
                    continue
                _attach(parsed, part)
                if name == "image[]":
                    log_body.setdefault(name, []).append(part.summary())
                else:
                    log_body[name] = part.summary()
    except HTTPException as exc:  # Starlette's multipart errors
        raise OpenAIError(400, f"Invalid multipart body: {exc.detail}") from exc
    # Nested objects arrive flattened (`svg[model]`); fold them back so validation sees `svg`.
    fields = coerce_form({k: v for k, v in text.items() if "[" not in k})
    for key in text:
        if "[" in key:
            fields.setdefault(key.partition("[")[0], {})
    parsed.fields = fields
    return parsed


def _attach(parsed: ParsedRequest, part: InputPart) -> None:
    if part.name in _IMAGE_PARTS:
        parsed.images.append(part)
    elif part.name == "mask":
        parsed.mask = part
    else:
        parsed.markup = part


def _parse_json_edit(body: dict[str, Any]) -> ParsedRequest:
    fields = {k: v for k, v in body.items() if k not in ("images", "mask", "markup")}
    parsed = ParsedRequest(fields=fields, log_body=dict(fields))
    images = body.get("images")
    if images is not None:
        if not isinstance(images, list):
            raise invalid_value("images", "…", why="Expected an array of image references.")
        parsed.log_body["images"] = []
        for i, ref in enumerate(images):
            part = _reference(f"images[{i}]", "image", ref)
            parsed.images.append(part)
            parsed.log_body["images"].append(part.summary())
    for name in ("mask", "markup"):
        if body.get(name) is not None:
            part = _reference(name, name, body[name])
            _attach(parsed, part)
            parsed.log_body[name] = part.summary()
    return parsed


def _reference(param: str, name: str, ref: object) -> InputPart:
    """``{"image_url": "data:…"}``; remote URLs and file ids are refused (nothing to fetch)."""
    url = ref.get("image_url") if isinstance(ref, dict) else None
    if isinstance(ref, dict) and "file_id" in ref:
        raise invalid_value(
            param, ref["file_id"], why="The simulator has no Files API; send a data: URL."
        )
    if not isinstance(url, str):
        raise invalid_value(param, "…", why="Expected an object with 'image_url' or 'file_id'.")
    match = _DATA_URL.fullmatch(url)
    if match is None:
        raise invalid_value(
            f"{param}.image_url", url[:60], why="The simulator only accepts data: URLs."
        )
    try:
        data = base64.b64decode(match[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid_value(f"{param}.image_url", url[:60], why="Invalid base64 data.") from exc
    return InputPart(name, data, None, match[1])


@dataclass
class EditInputs:
    """Decoded edit inputs: sizes of every image, the first one as the render base."""

    sizes: list[tuple[int, int]]
    base: Image.Image
    base_key: str
    """Digest of the first image's bytes (render cache key)."""


def check_edit_inputs(parsed: ParsedRequest) -> EditInputs:
    """Count, format and size checks for edit images and mask (reference §3.1)."""
    if not parsed.images:
        raise missing_parameter("image")
    if len(parsed.images) > MAX_EDIT_IMAGES:
        raise too_long("image", "array", len(parsed.images), MAX_EDIT_IMAGES)
    sizes: list[tuple[int, int]] = []
    for index, part in enumerate(parsed.images, start=1):
        if len(part.data) > MAX_IMAGE_BYTES or image_format(part.data) is None:
            raise _bad_image("image", index)
        try:
            sizes.append(dimensions(part.data))
        except ValueError as exc:
            raise _bad_image("image", index) from exc
    base = open_image(parsed.images[0].data)
    if parsed.mask is not None:
        mask = parsed.mask
        if len(mask.data) > MAX_MASK_BYTES or image_format(mask.data) != "png":
            raise _bad_image("mask", 1)
        try:
            mask_size = dimensions(mask.data)
        except ValueError as exc:
            raise _bad_image("mask", 1) from exc
        if mask_size != sizes[0]:
            raise OpenAIError(
                400,
                f"Invalid mask: mask size {mask_size[0]}x{mask_size[1]} does not match the "
                f"size of the first image {sizes[0][0]}x{sizes[0][1]}.",
                param="mask",
                code="invalid_value",
            )
    digest = hashlib.blake2b(parsed.images[0].data, digest_size=16).hexdigest()
    return EditInputs(sizes=sizes, base=base, base_key=digest)


def _bad_image(param: str, index: int) -> OpenAIError:
    what = "image" if param == "image" else "mask"
    return OpenAIError(
        400,
        f"Invalid {what} file or mode for {what} {index}, please check your image file. "
        "Supported formats are PNG, JPEG and WebP under 50 MB (mask: PNG under 4 MB).",
        param=param,
        code="invalid_image_format",
    )
