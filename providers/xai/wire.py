"""Lenient models of what the xAI image API sends back.

Only the fields the adapter uses are declared; everything else is ignored, and every field is
optional, because several are seen only through relays (``created``) or are being retired
(``revised_prompt``). Response and errors as xAI's REST API documentation shows them (notes
compiled 2026-11).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from providers._lenient import LenientInt

# Top-level reason of an input-moderation block. The real field name is not known (xAI's docs
# are silent); this is the simulator's choice, read only to word the error.
BLOCK_REASON_FIELD = "block_reason"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _text(value: object) -> object:
    """A string as is; anything else (a number, an object) as its text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return value["message"]
    return str(value)


class ImageItem(_Lenient):
    """One item of ``data``: ``b64_json`` (maybe a ``data:`` URI) or a temporary ``url``.

    ``respect_moderation: false`` means the image was withheld and carries no payload.
    https://docs.x.ai/docs/guides/image-generations
    """

    b64_json: str | None = None
    url: str | None = None
    mime_type: str | None = None
    respect_moderation: bool | None = None


class SamplingUsage(_Lenient):
    """``usage``: the exact charge in ticks of 1e-10 USD (xai-sdk ``cost.py``).

    https://docs.x.ai/docs/guides/image-generations
    """

    cost_in_usd_ticks: int | None = None


class ImagesResponse(_Lenient):
    """Body of ``POST /v1/images/generations`` and ``/v1/images/edits``.

    https://docs.x.ai/docs/guides/image-generations
    """

    created: LenientInt = None
    data: list[ImageItem] | None = None
    usage: SamplingUsage | None = None
    block_reason: str | None = None

    @field_validator("block_reason", mode="before")
    @classmethod
    def _reason_text(cls, value: object) -> object:
        return _text(value)


class ErrorBody(_Lenient):
    """``{"code": "...", "error": "..."}``: no OpenAI-style envelope; ``code`` is a gRPC status
    spelled in prose, hyphen or snake case (from observed traffic).

    https://docs.x.ai/docs/api-reference
    """

    code: str | None = None
    error: str | None = None

    @field_validator("code", "error", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        return _text(value)
