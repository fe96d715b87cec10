"""Lenient models of what the OpenAI Images API sends back.

Only the fields the adapter uses are declared; everything else is ignored, and optional
fields default so that OpenAI-compatible servers with thinner responses still parse.
Responses, stream events and errors as OpenAI's API reference shows them (notes compiled 2026-11).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from providers._lenient import LenientInt


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _error_object(value: object) -> object:
    """Some OpenAI-compatible servers send ``"error": "text"``; read it as the message."""
    if isinstance(value, str):
        return {"message": value}
    return value


class InputTokensDetails(_Lenient):
    """https://platform.openai.com/docs/api-reference/images/object#images/object-usage"""

    text_tokens: int = 0
    image_tokens: int = 0


class OutputTokensDetails(_Lenient):
    """https://platform.openai.com/docs/api-reference/images/object#images/object-usage"""

    text_tokens: int = 0
    image_tokens: int = 0


class ImageUsage(_Lenient):
    """``usage`` of a GPT image response or ``*.completed`` stream event.

    https://platform.openai.com/docs/api-reference/images/object#images/object-usage
    """

    input_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails | None = None
    total_tokens: int | None = None


class ImageData(_Lenient):
    """One item of ``data``: GPT image models send ``b64_json``; dall-e style servers ``url``.

    https://platform.openai.com/docs/api-reference/images/object#images/object-data
    """

    b64_json: str | None = None
    url: str | None = None


class ImagesResponse(_Lenient):
    """Body of ``POST /images/generations`` and ``/images/edits`` (non-streaming).

    ``size``/``output_format`` are the resolved values (never ``auto``) on OpenAI itself.
    https://platform.openai.com/docs/api-reference/images/object
    """

    created: LenientInt = None
    data: list[ImageData] | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None
    usage: ImageUsage | None = None


class ErrorDetail(_Lenient):
    """The ``error`` object of the error envelope (HTTP errors and stream ``error`` events).

    Relays have been seen sending ``param: ""`` and numeric codes; both are normalised.
    https://platform.openai.com/docs/guides/error-codes/api-errors
    """

    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | None = None
    # Kept for the gateway's logs: {"moderation_stage": "input|output", "categories": [...]}.
    moderation_details: dict[str, Any] | None = None

    @field_validator("code", "type", "param", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    @field_validator("message", mode="before")
    @classmethod
    def _message_text(cls, value: object) -> object:
        return value if value is None or isinstance(value, str) else str(value)


class ErrorEnvelope(_Lenient):
    """``{"error": {...}}``. https://platform.openai.com/docs/guides/error-codes/api-errors"""

    error: ErrorDetail | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return _error_object(value)


class StreamEvent(_Lenient):
    """One SSE ``data:`` payload, discriminated by ``type`` (not by the ``event:`` line).

    Covers ``image_generation.partial_image``/``image_edit.partial_image``,
    ``image_generation.completed``/``image_edit.completed`` and ``error``.
    https://platform.openai.com/docs/api-reference/images-streaming
    """

    type: str = ""
    b64_json: str | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None
    partial_image_index: int | None = None
    usage: ImageUsage | None = None
    error: ErrorDetail | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return _error_object(value)
