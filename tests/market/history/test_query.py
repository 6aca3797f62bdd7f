"""History request grammar: periods, bar sizes, step sizes (protocol reference §5.2, §8.4)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.errors import RequestError
from tickgate.market.history.query import (
    BarUnit,
    Period,
    PeriodUnit,
    check_step,
    default_bar,
    parse_bar,
    parse_period,
)
from tickgate.server.errors import http_answer

ALL_BARS = ["1min", "2min", "3min", "5min", "10min", "15min", "30min"]
ALL_BARS += ["1h", "2h", "3h", "4h", "8h", "1d", "1w", "1m"]


@pytest.mark.parametrize(
    ("text", "count", "unit"),
    [
        ("1min", 1, PeriodUnit.MINUTE),
        ("30min", 30, PeriodUnit.MINUTE),
        ("5 MINS", 5, PeriodUnit.MINUTE),
        ("8h", 8, PeriodUnit.HOUR),
        ("1000d", 1000, PeriodUnit.DAY),
        ("792W", 792, PeriodUnit.WEEK),
        ("182m", 182, PeriodUnit.MONTH),
        ("1M", 1, PeriodUnit.MONTH),
        (" 15y ", 15, PeriodUnit.YEAR),
    ],
)
def test_valid_periods_parse_case_insensitively(text: str, count: int, unit: PeriodUnit) -> None:
    assert parse_period(text) == Period(count, unit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0d", "d periods go from 1d to 1000d"),
        ("31min", "min periods go from 1min to 30min"),
        ("9h", "h periods go from 1h to 8h"),
        ("1001d", "1d to 1000d"),
        ("793w", "1w to 792w"),
        ("183m", "1m to 182m"),
        ("16y", "1y to 15y"),
        ("99999d", "d periods go from 1d to 1000d"),
        ("123456789012min", "min periods go from 1min to 30min"),
        ("", "expected a number and a unit"),
        ("d", "expected a number and a unit"),
        ("1.5d", "expected a number and a unit"),
        ("-1d", "expected a number and a unit"),
        ("1s", "expected a number and a unit"),
        ("1 day", "expected a number and a unit"),
    ],
)
def test_invalid_periods_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(RequestError, match=message) as raised:
        parse_period(text)
    assert http_answer(raised.value)[0] == 400  # the HTTP boundary answers it with a 400
    assert repr(text) in raised.value.message


@pytest.mark.parametrize("text", ALL_BARS)
def test_every_documented_bar_parses_and_round_trips(text: str) -> None:
    assert parse_bar(text).text == text
    assert parse_bar(text.upper()).text == text


def test_bar_lengths_are_the_nominal_seconds() -> None:
    assert parse_bar("5min").seconds == 300
    assert parse_bar("1d").seconds == 86_400
    assert parse_bar("1w").seconds == 604_800
    assert parse_bar("1m").unit is BarUnit.MONTH
    assert parse_bar("1mins").text == "1min"


@pytest.mark.parametrize("text", ["4min", "45min", "5h", "2d", "2w", "1y", "3m", "0min", "min"])
def test_undocumented_bars_are_refused(text: str) -> None:
    with pytest.raises(RequestError, match=r"invalid bar .* expected one of 1min, 2min"):
        parse_bar(text)


@pytest.mark.parametrize(
    ("period", "bar"),
    [
        ("1min", "1min"),
        ("2h", "5min"),
        ("1d", "1min"),
        ("1d", "8h"),
        ("1d", "1d"),  # one bar of the period: the day's bar, as the real gateway answers
        ("5d", "1d"),
        ("1w", "10min"),
        ("1w", "1w"),
        ("1m", "1h"),
        ("3m", "2h"),
        ("1y", "8h"),
        ("3y", "1d"),
        ("15y", "1m"),
        ("792w", "1w"),
    ],
)
def test_bars_inside_the_step_range_are_allowed(period: str, bar: str) -> None:
    check_step(parse_period(period), parse_bar(bar))


@pytest.mark.parametrize(
    ("period", "bar", "row"),
    [
        ("1min", "2min", "periods up to 1min take bars from 1min to 1min"),
        ("1d", "1w", "periods up to 1d take bars from 1min to 8h"),
        ("1w", "5min", "periods up to 1w take bars from 10min to 1w"),
        ("1m", "30min", "periods up to 1m take bars from 1h to 1m"),
        ("6m", "3h", "periods up to 6m take bars from 4h to 1m"),
        ("1y", "4h", "periods up to 1y take bars from 8h to 1m"),
        ("2y", "8h", "periods up to 2y take bars from 1d to 1m"),
        ("15y", "1d", "periods up to 15y take bars from 1w to 1m"),
    ],
)
def test_bars_outside_the_step_range_are_refused(period: str, bar: str, row: str) -> None:
    with pytest.raises(RequestError, match=f"bar {bar} is not allowed for period {period}: {row}"):
        check_step(parse_period(period), parse_bar(bar))


@given(
    st.sampled_from(list(PeriodUnit)).flatmap(
        lambda unit: st.tuples(
            st.just(unit),
            st.integers(1, {"min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}[unit]),
        )
    )
)
def test_the_default_bar_of_any_valid_period_is_allowed(unit_count: tuple[PeriodUnit, int]) -> None:
    unit, count = unit_count
    period = parse_period(f"{count}{unit.value}")
    check_step(period, default_bar(period))


def test_documented_defaults() -> None:
    assert default_bar(parse_period("1d")).text == "1min"
    assert default_bar(parse_period("1w")).text == "15min"
    assert default_bar(parse_period("1y")).text == "1d"
    assert default_bar(parse_period("15y")).text == "1w"


@given(st.text(max_size=12))
def test_parsing_raises_nothing_but_request_errors(text: str) -> None:
    for parse in (parse_period, parse_bar):
        with contextlib.suppress(RequestError):
            parse(text)
