"""Lenient models of what the BFL API sends back.

Only the fields the adapter uses are declared; everything else is ignored, and every field is
optional so legacy and future answers still parse. Shapes: BFL's submit response,
``ResultResponse`` and error bodies, as its API documentation shows them (notes compiled 2026-10).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from providers._lenient import (
    LenientDecimal,
    LenientFloat,
    LenientInt,
    LenientSeconds,
    LenientText,
    object_or_none,
)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AsyncResponse(_Lenient):
    """Answer of ``POST /v1/<model>``: the task id, where to poll it and what it costs.

    ``cost`` is in credits (1 credit = $0.01); ``input_mp``/``output_mp`` are megapixels to two
    decimals; all three are nullable and legacy models may omit them.
    https://docs.bfl.ai/api-reference (``AsyncResponse``)
    """

    # An id of another type is absent (the ``id`` of ``polling_url`` then names the task, see
    # :func:`providers.bfl.translate.parse_submit`); a cost we cannot read falls back to the
    # catalog.
    id: LenientText = None
    polling_url: str | None = None
    cost: LenientDecimal = None
    input_mp: LenientDecimal = None
    output_mp: LenientDecimal = None


class ResultSample(_Lenient):
    """``result`` of a ``Ready`` answer: ``sample`` is a signed URL valid for 10 minutes.

    https://docs.bfl.ai/api-reference/utility/get-result
    """

    sample: str | None = None
    # Secondary: a seed or duration of another type is absent, never a lost (paid) image.
    seed: LenientInt = None
    duration: LenientFloat = None


class ResultResponse(_Lenient):
    """Answer of ``GET <polling_url>``. Vercel's client also accepts ``state`` for ``status``.

    ``details`` explains moderation (``{"Moderation Reasons": [...]}``) and errors.
    https://docs.bfl.ai/api-reference/utility/get-result (``ResultResponse``)
    """

    id: LenientText = None
    status: str = Field(validation_alias=AliasChoices("status", "state"))
    result: Annotated[ResultSample | None, BeforeValidator(object_or_none)] = None
    progress: LenientSeconds = None
    details: Any = None


class ErrorBody(_Lenient):
    """FastAPI-style error body: ``detail`` is a string, a validation list or an object;
    some answers (the 429 of the skill doc) carry ``message`` and ``retry_after`` instead.

    https://docs.bfl.ai/api_integration/errors
    """

    detail: Any = None
    message: Any = None
    error: Any = None
    retry_after: LenientSeconds = None
