"""providers/_lenient.py: secondary answer fields of an unexpected type read as absent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers._lenient import (
    count_or_none,
    decimal_or_none,
    float_or_none,
    int_or_none,
    text_or_none,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        (-7, -7),
        ("1024", 1024),
        (" 12 ", 12),
        (1024.0, 1024),
        ("1e3", 1000),
        (Decimal("5"), 5),
        (1024.5, None),
        ("NaN", None),
        ("inf", None),
        (float("nan"), None),
        (True, None),
        ([1], None),
        ({"n": 1}, None),
        ("x" * 100, None),
        (10**19, None),
        ("1e400", None),
    ],
)
def test_int_or_none(value: object, expected: int | None) -> None:
    assert int_or_none(value) == expected


def test_counts_are_non_negative() -> None:
    assert (count_or_none(3), count_or_none(-3), count_or_none("0")) == (3, None, 0)


def test_decimals_are_exact_and_non_negative() -> None:
    assert decimal_or_none(0.1) == Decimal("0.1")
    assert decimal_or_none("4.5") == Decimal("4.5")
    assert [decimal_or_none(v) for v in (-1, "Infinity", False, "n/a", [1])] == [None] * 5


def test_floats_and_text() -> None:
    assert (float_or_none("4.8"), float_or_none(2), float_or_none("soon")) == (4.8, 2.0, None)
    assert [text_or_none(v) for v in ("T", 42, "", 1.5, True, ["T"])] == [
        "T",
        "42",
        None,
        None,
        None,
        None,
    ]
