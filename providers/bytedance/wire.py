"""Lenient models of what BytePlus ModelArk's image API sends back.

Only the fields the adapter uses are declared; everything else is ignored. Response, stream
events and errors as ModelArk documents them (our notes, compiled 2026-10). API pages:
https://docs.byteplus.com/en/docs/ModelArk ("Image generation API", "Streaming events",
"Error codes"); the China twin with the same shape:
https://www.volcengine.com/docs/82379/1541523.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from providers._lenient import LenientInt


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorDetail(_Lenient):
    """The ``error`` object: of an HTTP error body, a failed ``data[]`` item, a
    ``partial_failed`` event or a stream-level error. ``param``/``type`` are absent on items.

    https://docs.byteplus.com/en/docs/ModelArk (Error codes)
    """

    code: str | None = None
    message: str | None = None
    param: str | None = None
    type: str | None = None

    @field_validator("code", "param", "type", "message", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)


def _error_object(value: object) -> object:
    """A bare string error is read as its message."""
    return {"message": value} if isinstance(value, str) else value


class ErrorEnvelope(_Lenient):
    """``{"error": {...}}`` (a top-level ``message`` is kept too, as Vercel's adapter reads it).

    https://docs.byteplus.com/en/docs/ModelArk (Error codes)
    """

    error: ErrorDetail | None = None
    message: str | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return _error_object(value)


class ImageUsage(_Lenient):
    """``usage``: ``generated_images`` is the billable count; ``output_tokens`` (Σ w·h / 256)
    is informational only.

    https://www.volcengine.com/docs/82379/1541523 (Image generation API)
    """

    generated_images: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class ImageItem(_Lenient):
    """One ``data[]`` item: ``b64_json`` or ``url`` plus ``size``, or just ``error``.

    https://www.volcengine.com/docs/82379/1541523 (Image generation API)
    """

    b64_json: str | None = None
    url: str | None = None
    size: str | None = None
    output_format: str | None = None
    error: ErrorDetail | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return _error_object(value)


class ImagesResponse(_Lenient):
    """Body of a non-streaming ``POST /images/generations``.

    https://www.volcengine.com/docs/82379/1541523 (Image generation API)
    """

    model: str | None = None
    created: LenientInt = None
    data: list[ImageItem] | None = None
    usage: ImageUsage | None = None
    error: ErrorDetail | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return _error_object(value)


class StreamEvent(_Lenient):
    """One SSE ``data:`` payload: ``image_generation.partial_succeeded`` (an image),
    ``image_generation.partial_failed`` (``error``), ``image_generation.completed`` (``usage``),
    or a stream-level ``{"error": {...}}`` without a type.

    https://docs.byteplus.com/en/docs/ModelArk (Image generation API, streaming events)
    """

    type: str = ""
    image_index: int | None = None
    b64_json: str | None = None
    url: str | None = None
    size: str | None = None
    output_format: str | None = None
    usage: ImageUsage | None = None
    error: ErrorDetail | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return _error_object(value)
