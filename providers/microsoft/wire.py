"""Lenient models of what the MAI image API on Azure AI Foundry sends back.

Only the fields the adapter uses are declared; everything else is ignored, and every field is
optional: Microsoft documents only ``data[].b64_json``, the rest is what clients and fixtures
show (our notes, compiled 2026-11).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from providers._lenient import LenientCount, LenientInt, object_or_none

DOCS = "https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _code_text(value: object) -> str | None:
    """A code as text (Azure sends strings, numbers or null); nothing readable is None."""
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return value if isinstance(value, str) else str(value)


_Label = Annotated[str | None, BeforeValidator(_str_or_none)]
_Code = Annotated[str | None, BeforeValidator(_code_text)]
# A filter result that is not an object (a string, a list, ``true``) is read as absent: the
# rest of the error envelope must still be read.
_FilterResult = Annotated[
    dict[str, Any] | None,
    BeforeValidator(object_or_none),
    Field(validation_alias=AliasChoices("content_filter_result", "content_filter_results")),
]


class MaiUsage(_Lenient):
    """``usage`` of a response (Vercel AI SDK and LiteLLM fixtures; not in Microsoft's docs).

    https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai
    """

    # ``"4160"`` and ``4160.0`` are 4160; a count that cannot be read is absent (the output
    # tokens are then estimated from the image, with a warning).
    num_input_text_tokens: LenientCount = None
    num_input_image_tokens: LenientCount = None
    num_output_tokens: LenientCount = None
    output_image_tokens: LenientCount = None  # LiteLLM fixtures: same value as num_output_tokens


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

    # Secondary fields: a type we cannot read is absent, never a failed (and paid) answer.
    # ``data`` (the image itself) stays strict.
    created: LenientInt = None
    model: _Label = None
    size: _Label = None
    data: list[ImageItem] | None = None
    usage: Annotated[MaiUsage | None, BeforeValidator(object_or_none)] = None
    num_output_tokens: LenientCount = None


class InnerError(_Lenient):
    """Azure's ``innererror``: ``ResponsibleAIPolicyViolation`` plus per-category results.

    https://learn.microsoft.com/azure/ai-foundry/openai/concepts/content-filter
    """

    code: _Code = None
    content_filter_result: _FilterResult = None


class ErrorDetail(_Lenient):
    """The ``error`` object of Azure's envelope; ``code`` may be a string, number or null.

    https://learn.microsoft.com/azure/foundry/foundry-models/how-to/use-foundry-models-mai
    """

    code: _Code = None
    message: str | None = None
    details: str | None = None
    innererror: InnerError | None = Field(
        default=None, validation_alias=AliasChoices("innererror", "inner_error", "innerError")
    )
    content_filter_result: _FilterResult = None

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
