"""Strict readers of REST values: one plain spelling each, ranges named, nothing else raised."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.errors import RequestError
from tickgate.protocol.rest_values import (
    ascii_int,
    bounded_decimal,
    json_bool,
    printable_text,
    shown,
)

D = Decimal
BIG = D(1_000_000_000)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
    | st.sampled_from(["1e999999", "NaN", "sNaN", "-Infinity", "²", "١", "1_0", " 5", "0x10"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@pytest.mark.parametrize(
    ("raw", "expected"), [(5, 5), ("5", 5), ("-1", -1), ("0", 0), (2**31, 2**31)]
)
def test_ascii_int_reads_plain_integers(raw: object, expected: int) -> None:
    assert ascii_int(raw, "n", minimum=-1, maximum=2**40) == expected


@pytest.mark.parametrize(
    "raw", ["²", "١", "２６５５９８", "1_0", " 5", "+5", "5.0", 5.0, True, None, [], {}, "1" * 5000]
)
def test_ascii_int_refuses_every_other_spelling(raw: object) -> None:
    with pytest.raises(RequestError, match=r"^Invalid parentId: .* is not an integer$"):
        ascii_int(raw, "parentId", minimum=0, maximum=10**30)


def test_ascii_int_names_the_range() -> None:
    with pytest.raises(RequestError, match=r"out of range \(1 to 9\)"):
        ascii_int(10, "conid", minimum=1, maximum=9)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, D(12)),
        ("12.50", D("12.5")),
        (0.1, D("0.1")),
        ("1e3", D(1000)),
        ("-3", D(-3)),
        ("0e-999", D(0)),
        ("1000000000", BIG),
    ],
)
def test_bounded_decimal_reads_numbers_without_redundant_exponents(
    raw: object, expected: Decimal
) -> None:
    value = bounded_decimal(raw, "price", maximum=BIG, places=10)
    assert value == expected and str(value) == str(expected)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1e999999", "is not a number"),  # exponent beyond any price: never parsed
        ("1e-999999", "is not a number"),
        ("NaN", "is not a number"),
        ("Infinity", "is not a number"),
        ("١٢", "is not a number"),
        ("1_000", "is not a number"),
        (" 5", "is not a number"),
        (True, "is not a number"),
        ({}, "is not a number"),
        (1e26, "exceeds the maximum of 1000000000"),
        ("1e26", "exceeds the maximum"),
        (10**30, "exceeds the maximum"),
        ("0.00000000001", "more than 10 decimal places"),
        ("1" * 41, "is not a number"),
    ],
)
def test_bounded_decimal_refuses_what_arithmetic_cannot_survive(raw: object, reason: str) -> None:
    with pytest.raises(RequestError, match=f"^Invalid trailingAmt: .*{reason}"):
        bounded_decimal(raw, "trailingAmt", maximum=BIG, places=10)


@pytest.mark.parametrize(
    ("raw", "expected"), [(True, True), (False, False), ("false", False), ("TRUE", True)]
)
def test_json_bool_reads_booleans_and_their_two_words(raw: object, expected: bool) -> None:
    assert json_bool(raw, "outsideRTH") is expected


@pytest.mark.parametrize("raw", ["no", "yes", "0", -1, 1, 0, None, "", [], "False "])
def test_json_bool_refuses_guesses(raw: object) -> None:
    with pytest.raises(RequestError, match=r"^Invalid outsideRTH: .*expected true or false$"):
        json_bool(raw, "outsideRTH")


def test_printable_text_bounds_length_type_and_characters() -> None:
    assert printable_text("my-order 1", "cOID", max_length=128) == "my-order 1"
    for raw, reason in [
        ({}, "expected a string"),
        (12, "expected a string"),
        ("x" * 129, "must be 1 to 128 characters, got 129"),
        ("a\nb", "unprintable"),
        ("a\u200bb", "unprintable"),  # zero-width space
    ]:
        with pytest.raises(RequestError, match=reason):
            printable_text(raw, "cOID", max_length=128)


def test_shown_is_short_and_never_walks_nested_values() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    assert shown(deep) == "a JSON list" and shown({"a": 1}) == "a JSON object"
    assert shown("x" * 100_000) == repr("x" * 40 + "...")
    assert shown(None) == "null" and shown(False) == "false" and shown(1.5) == "'1.5'"


@given(json_values)
def test_readers_raise_nothing_but_request_errors(raw: object) -> None:
    readers = [
        lambda: ascii_int(raw, "n", minimum=-(2**63), maximum=2**63 - 1),
        lambda: bounded_decimal(raw, "n", maximum=BIG, places=10),
        lambda: json_bool(raw, "n"),
        lambda: printable_text(raw, "n", max_length=128),
    ]
    for read in readers:
        try:
            value = read()
        except RequestError as exc:
            assert len(exc.message) < 200
        else:
            if isinstance(value, Decimal):
                assert value.is_finite() and abs(value) <= BIG
