"""Lenient models of what the BFL API sends back.

Only the fields the adapter uses are declared; everything else is ignored, and every field is
optional so legacy and future answers still parse. Shapes: BFL's submit response,
``ResultResponse`` and error bodies, as its API documentation shows them (notes compiled 2026-10).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from providers._lenient import decimal_or_none, float_or_none, int_or_none, text_or_none


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _decimal_or_none(value: object) -> Decimal | None:
    """A non-negative number, else None: a cost we cannot read falls back to the catalog."""
    return decimal_or_none(value)


class AsyncResponse(_Lenient):
    """Answer of ``POST /v1/<model>``: the task id, where to poll it and what it costs.

    ``cost`` is in credits (1 credit = $0.01); ``input_mp``/``output_mp`` are megapixels to two
    decimals; all three are nullable and legacy models may omit them.
    https://docs.bfl.ai/api-reference (``AsyncResponse``)
    """

    id: str | None = None
    polling_url: str | None = None
    cost: Decimal | None = None
    input_mp: Decimal | None = None
    output_mp: Decimal | None = None

    @field_validator("cost", "input_mp", "output_mp", mode="before")
    @classmethod
    def _number(cls, value: object) -> Decimal | None:
        return _decimal_or_none(value)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> str | None:
        """A string or an integer; anything else is absent (the ``id`` of ``polling_url``
        then names the task, see :func:`providers.bfl.translate.parse_submit`)."""
        return text_or_none(value)


class ResultSample(_Lenient):
    """``result`` of a ``Ready`` answer: ``sample`` is a signed URL valid for 10 minutes.

    https://docs.bfl.ai/api-reference/utility/get-result
    """

    sample: str | None = None
    seed: int | None = None
    duration: float | None = None

    # Secondary: a seed or duration of another type is absent, never a lost (paid) image.
    @field_validator("seed", mode="before")
    @classmethod
    def _seed(cls, value: object) -> int | None:
        return int_or_none(value)

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: object) -> float | None:
        return float_or_none(value)


class ResultResponse(_Lenient):
    """Answer of ``GET <polling_url>``. Vercel's client also accepts ``state`` for ``status``.

    ``details`` explains moderation (``{"Moderation Reasons": [...]}``) and errors.
    https://docs.bfl.ai/api-reference/utility/get-result (``ResultResponse``)
    """

    id: str | None = None
    status: str = Field(validation_alias=AliasChoices("status", "state"))
    result: ResultSample | None = None
    progress: float | None = None
    details: Any = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> str | None:
        return text_or_none(value)

    @field_validator("result", mode="before")
    @classmethod
    def _result_object(cls, value: object) -> object:
        return value if isinstance(value, dict) else None

    @field_validator("progress", mode="before")
    @classmethod
    def _progress_number(cls, value: object) -> float | None:
        number = _decimal_or_none(value)
        return float(number) if number is not None else None


class ErrorBody(_Lenient):
    """FastAPI-style error body: ``detail`` is a string, a validation list or an object;
    some answers (the 429 of the skill doc) carry ``message`` and ``retry_after`` instead.

    https://docs.bfl.ai/api_integration/errors
    """

    detail: Any = None
    message: Any = None
    error: Any = None
    retry_after: float | None = None

    @field_validator("retry_after", mode="before")
    @classmethod
    def _seconds(cls, value: object) -> float | None:
        number = _decimal_or_none(value)
        return float(number) if number is not None else None
