"""Wire formatting of market-data fields and the parsers the trading engine uses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.protocol import fields as F
from tickgate.protocol.fields import (
    format_change,
    format_change_pct,
    format_last,
    format_price,
    format_size,
    format_volume,
    parse_price,
    parse_size,
)


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (168.42, 2, "168.42"),
        (Decimal("168.4"), 2, "168.40"),
        (1.08425, 5, "1.08425"),
        (4521.25, 2, "4521.25"),
        (12, 0, "12"),
        (-0.001, 2, "0.00"),
        (Decimal("-0.004"), 2, "0.00"),
    ],
)
def test_format_price(value: Decimal | float, decimals: int, expected: str) -> None:
    assert format_price(value, decimals) == expected


def test_format_price_refuses_negative_decimals() -> None:
    with pytest.raises(ValueError, match="decimals"):
        format_price(1.0, -1)


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "0"), (100, "100"), (1300, "1,300"), (1_234_567, "1,234,567")]
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0"),
        (87, "87"),
        (999, "999"),
        (1000, "1.00K"),
        (1234, "1.23K"),
        (12_345, "12.3K"),
        (99_949, "99.9K"),
        (99_950, "100K"),
        (563_400, "563K"),
        (999_499, "999K"),
        (999_500, "1.00M"),
        (1_234_567, "1.23M"),
        (23_200_000, "23.2M"),
        (999_499_999, "999M"),
        (999_500_000, "1,000M"),
        (1_234_567_890, "1,235M"),
    ],
)
def test_format_volume(n: int, expected: str) -> None:
    assert format_volume(n) == expected


@given(st.integers(min_value=0, max_value=10**12))
def test_format_volume_is_close_to_the_number(n: int) -> None:
    text = format_volume(n)
    scale = {"K": 1000, "M": 1_000_000}.get(text[-1], 1)
    shown = float(text.rstrip("KM").replace(",", "")) * scale
    assert abs(shown - n) <= max(0.005 * n, 0.5)
    if scale == 1:
        assert int(text) == n


def test_negative_sizes_and_volumes_are_refused() -> None:
    with pytest.raises(ValueError):
        format_size(-1)
    with pytest.raises(ValueError):
        format_volume(-1)


@pytest.mark.parametrize(
    ("prior_close", "halted", "expected"),
    [
        (False, False, "189.50"),
        (True, False, "C189.50"),
        (False, True, "H189.50"),
        (True, True, "H189.50"),
    ],
)
def test_format_last(prior_close: bool, halted: bool, expected: str) -> None:
    assert format_last("189.50", prior_close=prior_close, halted=halted) == expected


@pytest.mark.parametrize(
    ("diff", "decimals", "expected"),
    [
        (1.25, 2, "+1.25"),
        (-0.8, 2, "-0.80"),
        (0, 2, "0.00"),
        (-0.001, 2, "0.00"),
        (0.00005, 5, "+0.00005"),
    ],
)
def test_format_change(diff: float, decimals: int, expected: str) -> None:
    assert format_change(diff, decimals) == expected


@pytest.mark.parametrize(
    ("pct", "expected"),
    [(0.449, "+0.45"), (-1.5, "-1.50"), (0.0, "0.00"), (Decimal("12.345"), "+12.34")],
)
def test_format_change_pct(pct: float | Decimal, expected: str) -> None:
    assert format_change_pct(pct) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("168.42", 168.42), ("C189.50", 189.5), ("H12.01", 12.01), ("1,234.5", 1234.5)],
)
def test_parse_price(text: str, expected: float) -> None:
    assert parse_price(text) == expected


@pytest.mark.parametrize("text", ["", "C", "abc", "1.2.3", "X12.0", "nan", "Hinf"])
def test_parse_price_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a price"):
        parse_price(text)


@pytest.mark.parametrize("text", ["", "-100", "1.5", "1e3", "563K"])
def test_parse_size_refuses_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@given(
    st.decimals(min_value=0, max_value=10**7, places=4, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0, max_value=6),
)
def test_price_round_trip(value: Decimal, decimals: int) -> None:
    text = format_price(value, decimals)
    expected = float(value.quantize(Decimal(1).scaleb(-decimals)))
    assert parse_price(text) == expected
    for prior_close, halted in ((True, False), (False, True)):
        assert parse_price(format_last(text, prior_close=prior_close, halted=halted)) == expected


@given(st.integers(min_value=0, max_value=10**15))
def test_size_round_trip(n: int) -> None:
    assert parse_size(format_size(n)) == n


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(0, 5))
def test_change_has_a_sign_unless_zero(diff: float, decimals: int) -> None:
    text = format_change(diff, decimals)
    assert parse_price(text) == pytest.approx(round(diff, decimals), abs=10**-decimals)
    if parse_price(text) == 0:
        assert text[0].isdigit()
    else:
        assert text[0] == ("+" if diff > 0 else "-")


def test_conid_fields_go_on_the_wire_as_integers() -> None:
    values = {55: "AAPL", 6008: "265598", 6457: "8314"}
    assert F.wire_values(values) == {55: "AAPL", 6008: 265598, 6457: 8314}
    plain = {31: "1.00"}
    assert F.wire_values(plain) is plain  # no copy on the hot path


@pytest.mark.parametrize("text", ["189.50", "C189.50", "H0.01", "1,234.5", "4500", "1.08455"])
def test_parse_decimal_price_is_the_exact_value_of_the_text(text: str) -> None:
    exact = F.parse_decimal_price(text)
    assert exact == Decimal(text.lstrip("CH").replace(",", ""))
    assert float(exact) == F.parse_price(text)


@pytest.mark.parametrize("text", ["", "C", "abc", "nan", "Hinf", "1.2.3"])
def test_parse_decimal_price_refuses_what_is_not_a_price(text: str) -> None:
    with pytest.raises(ValueError, match="not a price"):
        F.parse_decimal_price(text)


@given(
    tick=st.sampled_from(["0.01", "0.25", "0.10", "0.00005", "0.005", "1", "5", "10"]),
    ticks=st.integers(min_value=0, max_value=10**9),
    sign=st.sampled_from([1, -1]),
)
def test_tick_grid_text_is_the_text_of_the_price_without_a_float(
    tick: str, ticks: int, sign: int
) -> None:
    min_tick = Decimal(tick)
    decimals = max(0, -int(min_tick.normalize().as_tuple().exponent))
    grid = F.TickGrid.of(min_tick, decimals)
    assert grid.price(ticks) == F.format_price(ticks * min_tick, decimals)
    assert grid.price(ticks) == F.format_price(ticks * float(min_tick), decimals)
    change = sign * ticks
    assert grid.change(change) == F.format_change(change * float(min_tick), decimals)


def test_a_tick_grid_needs_decimals_that_show_the_tick() -> None:
    with pytest.raises(ValueError, match="not a whole number"):
        F.TickGrid.of(Decimal("0.25"), 1)
    with pytest.raises(ValueError, match="decimals"):
        F.TickGrid.of(Decimal("1"), -1)
