"""Lenient models of what the Recraft external API sends back.

Only the fields the adapter uses are declared; everything else is ignored. The OpenAPI
document declares no error responses at all, so :class:`ErrorBody` accepts the shapes seen in
the wild (``{code, message}``, ``{error: "…"}``, ``{error: {message}}``, ``{detail}``).
Response and errors as Recraft's API documentation shows them (notes compiled 2026-11).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from providers._lenient import LenientDecimal, LenientInt, LenientText


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _str_or_none(value: object) -> str | None:
    """A ``revised_prompt`` that is not text is absent; the image is kept."""
    return value if isinstance(value, str) else None


class ImageItem(_Lenient):
    """One item of ``data``: ``image_id`` plus ``url`` (the default) or ``b64_json``.

    https://www.recraft.ai/docs/api-reference/endpoints (schema ``Image``)
    """

    # Secondary fields: a type we cannot read is absent, never a failed (and paid) answer.
    image_id: LenientText = None
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: Annotated[str | None, BeforeValidator(_str_or_none)] = None


class GenerateImageResponse(_Lenient):
    """Body of ``POST /v1/images/generations`` and ``/v1/images/imageToImage``.

    ``credits`` is the API units this request was charged (1 000 units = $1).
    https://www.recraft.ai/docs/api-reference/endpoints (schema ``GenerateImageResponse``)
    """

    # Secondary fields: a type we cannot read is absent, never a failed (and paid) answer.
    # Credits we cannot read (a string of words, a negative or non-finite number) leave the
    # cost to the catalog. ``data`` (the images) stays strict.
    created: LenientInt = None
    credits: LenientDecimal = None
    data: list[ImageItem] = []
    style_id: LenientText = None


class ErrorBody(_Lenient):
    """A JSON error body; Recraft documents no shape (reference §4, open question).

    https://www.recraft.ai/docs/api-reference/error-handling
    """

    code: str | None = None
    message: str | None = None
    error: Any = None
    detail: Any = None

    @field_validator("code", "message", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> str | None:
        return _text(value)

    @property
    def text(self) -> str | None:
        """The human message, wherever this body keeps it."""
        if self.message:
            return self.message
        for value in (self.error, self.detail):
            if isinstance(value, dict):
                found = _text(value.get("message") or value.get("detail"))
                if found:
                    return found
            elif value not in (None, ""):
                return str(value)
        return None

    @property
    def kind(self) -> str | None:
        """The machine code: ``code``, or ``error.code`` / ``error.type``."""
        if self.code:
            return self.code
        if isinstance(self.error, dict):
            return _text(self.error.get("code") or self.error.get("type"))
        return None
