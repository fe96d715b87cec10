"""Lenient models of what the BFL API sends back.

Only the fields the adapter uses are declared; everything else is ignored, and every field is
optional so legacy and future answers still parse. Shapes: BFL's submit response,
``ResultResponse`` and error bodies, as its API documentation shows them (notes compiled 2026-10).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _decimal_or_none(value: object) -> Decimal | None:
    """A non-negative number, else None: a cost we cannot read falls back to the catalog."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


class AsyncResponse(_Lenient):
    """Answer of ``POST /v1/<model>``: the task id, where to poll it and what it costs.

    ``cost`` is in credits (1 credit = $0.01); ``input_mp``/``output_mp`` are megapixels to two
    decimals; all three are nullable and legacy models may omit them.
    https://docs.bfl.ai/api-reference (``AsyncResponse``)
    """

    id: str
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
    def _id_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ResultSample(_Lenient):
    """``result`` of a ``Ready`` answer: ``sample`` is a signed URL valid for 10 minutes.

    https://docs.bfl.ai/api-reference/utility/get-result
    """

    sample: str | None = None
    seed: int | None = None
    duration: float | None = None


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
