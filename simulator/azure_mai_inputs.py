"""Reading MAI requests off the wire: JSON generations, multipart edits (reference §3, §4).

Produces JSON-typed fields for ``azure_mai_rules.validate``, the uploaded ``image`` parts, and a
summary of the body for the request log (files summarised, never their bytes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from simulator.azure_mai_errors import MaiError, bad_image, bad_request_body, unknown_field
from simulator.render import dimensions, image_format, open_image

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PARTS = 32
_INTEGER_FIELDS = ("width", "height")
_BOOLEAN_FIELDS = ("auto_aspect_ratio", "web_grounding")


@dataclass
class InputPart:
    """One uploaded file part."""

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
    """A request body, split into typed fields and ``image`` file parts."""

    fields: dict[str, Any]
    log_body: dict[str, Any]
    images: list[InputPart] = field(default_factory=list)
    other_files: list[InputPart] = field(default_factory=list)


async def parse_generation(request: Request) -> ParsedRequest:
    """``application/json`` object; anything else is Azure's 400 ``BadRequest`` [INF]."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/json"):
        raise bad_request_body(
            f"Unsupported Content-Type '{content_type or 'none'}'; expected application/json."
        )
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise bad_request_body("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise bad_request_body("The request body must be a JSON object.")
    return ParsedRequest(fields=body, log_body=dict(body))


async def parse_edit(request: Request) -> ParsedRequest:
    """``multipart/form-data`` with text fields and one to five ``image`` file parts."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise bad_request_body(
            f"Unsupported Content-Type '{content_type or 'none'}'; images/edits expects "
            "multipart/form-data."
        )
    parsed = ParsedRequest(fields={}, log_body={})
    try:
        async with request.form(max_files=MAX_PARTS, max_part_size=MAX_IMAGE_BYTES + 1) as form:
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    part = InputPart(name, await value.read(), value.filename, value.content_type)
                    target = parsed.images if name == "image" else parsed.other_files
                    target.append(part)
                    parsed.log_body.setdefault(name, []).append(part.summary())
                else:
                    parsed.fields[name] = _typed(name, value)
                    parsed.log_body[name] = parsed.fields[name]
    except HTTPException as exc:  # Starlette's multipart errors
        raise bad_request_body(f"Invalid multipart body: {exc.detail}") from exc
    return parsed


def _typed(name: str, value: str) -> Any:
    """Form text as JSON would type it: integers for sizes, booleans for the 2.6 options.

    A value that does not read as its type stays text, so validation reports the type.
    """
    if name in _INTEGER_FIELDS and value.strip().lstrip("-").isdigit():
        return int(value)
    if name in _BOOLEAN_FIELDS and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


@dataclass
class EditInputs:
    """Decoded edit images: their sizes, the first one as the render base."""

    sizes: list[tuple[int, int]]
    base: Image.Image
    base_key: str


def check_edit_inputs(parsed: ParsedRequest, max_images: int, strict_keys: bool) -> EditInputs:
    """Count and format checks: PNG or JPEG only (§4), 1..``max_images`` parts."""
    if strict_keys and parsed.other_files:
        raise unknown_field(parsed.other_files[0].name)
    if not parsed.images:
        raise bad_image("'image' is a required file part (PNG or JPEG).")
    if len(parsed.images) > max_images:
        raise bad_image(
            f"Too many input images: got {len(parsed.images)}, at most {max_images} allowed."
        )
    sizes: list[tuple[int, int]] = []
    for index, part in enumerate(parsed.images, start=1):
        if len(part.data) > MAX_IMAGE_BYTES or image_format(part.data) not in ("png", "jpeg"):
            raise _unreadable(index)
        try:
            sizes.append(dimensions(part.data))
        except ValueError as exc:
            raise _unreadable(index) from exc
    base = open_image(parsed.images[0].data)
    digest = hashlib.blake2b(parsed.images[0].data, digest_size=16).hexdigest()
    return EditInputs(sizes=sizes, base=base, base_key=digest)


def _unreadable(index: int) -> MaiError:
    return bad_image(
        f"Input image {index} is invalid or in an unsupported format. Supported formats are "
        f"PNG and JPEG up to {MAX_IMAGE_BYTES // (1024 * 1024)} MB."
    )
