"""The one rule for decimals on the wire: numbers, whole counts, exact text."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.protocol.decimals import (
    MAX_EXACT_DIGITS,
    count,
    number,
    number_json,
    text,
    text_json,
    wire_number,
)


def test_the_three_spellings_of_a_decimal() -> None:
    assert orjson.dumps([number(Decimal("1.50")), count(Decimal("5.000")), count(Decimal("2.5")),
                         text(Decimal("1.50"))]) == b'[1.5,5,2.5,"1.50"]'  # fmt: skip


def test_the_json_defaults_write_decimals_and_refuse_anything_else() -> None:
    value = {"a": Decimal("0.10")}
    assert orjson.dumps(value, default=number_json) == b'{"a":0.1}'
    assert orjson.dumps(value, default=text_json) == b'{"a":"0.10"}'
    for default in (number_json, text_json):
        with pytest.raises(TypeError, match="set cannot be written as JSON"):
            default({1})


@given(st.integers(-(10**18), 10**18), st.integers(0, 8))
def test_wire_number_gives_back_exactly_the_decimal_or_leaves_it_as_text(
    units: int, places: int
) -> None:
    shown = f"{Decimal(units).scaleb(-places):f}"
    number = wire_number(shown)
    if number is None:
        assert len(shown.lstrip("-").replace(".", "")) > MAX_EXACT_DIGITS
        return
    assert Decimal(orjson.dumps(number).decode()) == Decimal(shown)


@given(st.integers(min_value=0, max_value=10**15 - 1))
def test_sizes_with_thousands_separators_are_whole_numbers(size: int) -> None:
    assert wire_number(f"{size:,}") == size


@given(st.text(alphabet="0123456789,.-+CHKM e", max_size=24) | st.text(max_size=24))
def test_wire_number_reads_only_plain_ascii_decimals(raw: str) -> None:
    number = wire_number(raw)
    if number is not None:
        assert raw.isascii() and raw.replace(",", "").lstrip("-").replace(".", "", 1).isdigit()
        assert Decimal(orjson.dumps(number).decode()) == Decimal(raw.replace(",", ""))


def test_wire_number_refuses_prefixes_units_signs_and_broken_groups() -> None:
    for odd in ("C189.50", "H1", "1.23M", "12.3K", "+1.25", "1,30", "1,3000", ".5", "5.", "",
                "-", "١٢", "1e5", "nan", "inf", " 1"):  # fmt: skip
        assert wire_number(odd) is None, odd
    assert [wire_number(t) for t in ("189.50", "1,300", "-0.25", "0.00", "7")] == [
        189.5,
        1300,
        -0.25,
        0.0,
        7,
    ]
