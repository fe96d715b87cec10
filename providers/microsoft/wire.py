"""Lenient models of what the MAI image API on Azure AI Foundry sends back.

Only the fields the adapter uses are declared; everything else is ignored, and every field is
optional: Microsoft documents only ``data[].b64_json``, the rest is what clients and fixtures
show (our notes, compiled 2026-11).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from providers._lenient import count_or_none, int_or_none

DOCS = "https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MaiUsage(_Lenient):
    """``usage`` of a response (Vercel AI SDK and LiteLLM fixtures; not in Microsoft's docs).

    https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai
    """

    num_input_text_tokens: int | None = None
    num_input_image_tokens: int | None = None
    num_output_tokens: int | None = None
    output_image_tokens: int | None = None  # LiteLLM fixtures: same value as num_output_tokens

    @field_validator("*", mode="before")
    @classmethod
    def _count(cls, value: object) -> int | None:
        """``"4160"`` and ``4160.0`` are 4160; a count that cannot be read is absent (the
        output tokens are then estimated from the image, with a warning)."""
        return count_or_none(value)


class ImageItem(_Lenient):
    """One item of ``data``: a base64 PNG; none when the output was filtered.

    https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai
    """

    b64_json: str | None = None


class ImagesResponse(_Lenient):
    """Body of ``POST …/mai/v1/images/generations`` and ``…/images/edits``.

    ``num_output_tokens`` at the root is the legacy shape without a ``usage`` object.
    https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai
    """

    created: int | None = None
    model: str | None = None
    size: str | None = None
    data: list[ImageItem] | None = None
    usage: MaiUsage | None = None
    num_output_tokens: int | None = None

    # Secondary fields: a type we cannot read is absent, never a failed (and paid) answer.
    # ``data`` (the image itself) stays strict.
    @field_validator("created", mode="before")
    @classmethod
    def _created(cls, value: object) -> int | None:
        return int_or_none(value)

    @field_validator("model", "size", mode="before")
    @classmethod
    def _label(cls, value: object) -> str | None:
        return value if isinstance(value, str) else None

    @field_validator("usage", mode="before")
    @classmethod
    def _usage_object(cls, value: object) -> object:
        return value if isinstance(value, dict) else None

    @field_validator("num_output_tokens", mode="before")
    @classmethod
    def _legacy_count(cls, value: object) -> int | None:
        return count_or_none(value)


class InnerError(_Lenient):
    """Azure's ``innererror``: ``ResponsibleAIPolicyViolation`` plus per-category results.

    https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter
    """

    code: str | None = None
    content_filter_result: dict[str, Any] | None = Field(
        default=None,
        validation_alias=AliasChoices("content_filter_result", "content_filter_results"),
    )

    @field_validator("code", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        return _code_text(value)

    @field_validator("content_filter_result", mode="before")
    @classmethod
    def _filter_object(cls, value: object) -> object:
        return _object_or_none(value)


def _code_text(value: object) -> str | None:
    """A code as text (Azure sends strings, numbers or null); nothing readable is None."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


def _object_or_none(value: object) -> object:
    """A filter result that is not an object (a string, a list, ``true``) is read as absent:
    the rest of the error envelope must still be read."""
    return value if isinstance(value, dict) else None


class ErrorDetail(_Lenient):
    """The ``error`` object of Azure's envelope; ``code`` may be a string, number or null.

    https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai
    """

    code: str | None = None
    message: str | None = None
    details: str | None = None
    innererror: InnerError | None = Field(
        default=None, validation_alias=AliasChoices("innererror", "inner_error", "innerError")
    )
    content_filter_result: dict[str, Any] | None = Field(
        default=None,
        validation_alias=AliasChoices("content_filter_result", "content_filter_results"),
    )

    @field_validator("code", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        return _code_text(value)

    @field_validator("content_filter_result", mode="before")
    @classmethod
    def _filter_object(cls, value: object) -> object:
        return _object_or_none(value)

    @field_validator("message", "details", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, dict | list):  # structured details: compact JSON, if it writes
            try:
                return orjson.dumps(value).decode()
            except (TypeError, ValueError):  # nested deeper than orjson writes
                return None
        return str(value)

    @field_validator("innererror", mode="before")
    @classmethod
    def _inner_object(cls, value: object) -> object:
        return value if isinstance(value, dict) else None


class ErrorEnvelope(_Lenient):
    """``{"error": {...}}``; a bare string ``error`` is read as its message."""

    error: ErrorDetail | None = None

    @field_validator("error", mode="before")
    @classmethod
    def _error_text(cls, value: object) -> object:
        return {"message": value} if isinstance(value, str) else value
