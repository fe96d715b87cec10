"""Readers for the secondary fields of a provider's answer: a value of an unexpected type is
read as absent (None), never as a broken answer.

A paid, successful answer must not be thrown away because a field the gateway only reports or
uses as a hint (``created``, a seed, a token count sent as a string, ``revised_prompt``) came
in another type than documented. These are meant for pydantic ``mode="before"`` validators of
those fields; the image data itself stays strictly typed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator

# Larger integers are not a count or a timestamp any provider sends: read as unreadable.
_MAX_INT = 10**18


def _number(value: object) -> Decimal | None:
    """A finite number from an int, float, Decimal or numeric string; booleans are not."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if abs(value) <= _MAX_INT else None
    if isinstance(value, float | Decimal):
        number = Decimal(str(value)) if isinstance(value, float) else value
    elif isinstance(value, str) and len(value) <= 64:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def int_or_none(value: object) -> int | None:
    """An integer, or a number or numeric string with an integral value (``"1024"``,
    ``1024.0``); anything else (``1024.5``, ``"soon"``, a list, ``true``) is None."""
    if type(value) is int:  # the documented type: no Decimal on every answer's hot path
        return value if abs(value) <= _MAX_INT else None
    number = _number(value)
    if number is None or number != number.to_integral_value() or abs(number) > _MAX_INT:
        return None
    return int(number)


def count_or_none(value: object) -> int | None:
    """A non-negative :func:`int_or_none` (a token or image count)."""
    number = int_or_none(value)
    return number if number is not None and number >= 0 else None


def float_or_none(value: object) -> float | None:
    """A finite number (or numeric string) as a float; anything else is None."""
    number = _number(value)
    return float(number) if number is not None else None


def decimal_or_none(value: object) -> Decimal | None:
    """A non-negative finite number as an exact Decimal (money: a float goes through its
    shortest repr, ``0.1`` → ``Decimal("0.1")``); anything else is None."""
    number = _number(value)
    return number if number is not None and number >= 0 else None


def text_or_none(value: object) -> str | None:
    """A non-empty string as is, an integer as its digits; anything else is None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def object_or_none(value: object) -> object:
    """A JSON object as is; anything else (a string, a list, ``true``) is absent."""
    return value if isinstance(value, dict) else None


def nonnegative_float_or_none(value: object) -> float | None:
    """A non-negative finite number as a float (seconds, progress); anything else is None."""
    number = decimal_or_none(value)
    return float(number) if number is not None else None


# Field types for the wire models: ``created: LenientInt = None`` reads as the function says.
LenientInt = Annotated[int | None, BeforeValidator(int_or_none)]
LenientCount = Annotated[int | None, BeforeValidator(count_or_none)]
LenientFloat = Annotated[float | None, BeforeValidator(float_or_none)]
LenientSeconds = Annotated[float | None, BeforeValidator(nonnegative_float_or_none)]
LenientDecimal = Annotated[Decimal | None, BeforeValidator(decimal_or_none)]
LenientText = Annotated[str | None, BeforeValidator(text_or_none)]
