"""Expiry calendars: third Fridays, NYMEX crude oil and COMEX gold last trading days."""

from __future__ import annotations

from datetime import date

import pytest

from tickgate.market.catalogue.expiries import (
    crude_oil_last_trade,
    expiries,
    gold_last_trade,
    month_code,
    parse_expiry,
    third_friday,
)


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 3, date(2026, 3, 20)),
        (2026, 5, date(2026, 5, 15)),  # the 1st is a Friday
        (2026, 8, date(2026, 8, 21)),  # the 1st is a Saturday
        (2027, 1, date(2027, 1, 15)),
    ],
)
def test_third_friday(year: int, month: int, expected: date) -> None:
    assert third_friday(year, month) == expected


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 10, date(2026, 9, 22)),  # 25 Sep is a Friday: three business days before
        (2026, 2, date(2026, 1, 20)),  # 25 Jan is a Sunday: four business days before
        (2026, 1, date(2025, 12, 19)),  # 25 Dec is a holiday: four business days before
        (2027, 1, date(2026, 12, 21)),  # 25 Dec is a Friday and a holiday
        (2026, 3, date(2026, 2, 20)),  # counting back crosses a weekend
    ],
)
def test_crude_oil_last_trade(year: int, month: int, expected: date) -> None:
    assert crude_oil_last_trade(year, month) == expected


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2026, 2, date(2026, 2, 25)),  # month ends on a Saturday
        (2026, 12, date(2026, 12, 29)),
        (2026, 6, date(2026, 6, 26)),  # month ends on a Tuesday: back over a weekend
        (2026, 11, date(2026, 11, 25)),  # Thanksgiving (a floating holiday) is skipped
    ],
)
def test_gold_last_trade(year: int, month: int, expected: date) -> None:
    assert gold_last_trade(year, month) == expected


def test_expiries_start_on_or_after_today_and_keep_the_cycle() -> None:
    found = expiries(third_friday, (3, 6, 9, 12), today=date(2026, 3, 20), count=3)
    assert found == [
        (2026, 3, date(2026, 3, 20)),
        (2026, 6, date(2026, 6, 19)),
        (2026, 9, date(2026, 9, 18)),
    ]
    later = expiries(third_friday, (3, 6, 9, 12), today=date(2026, 3, 21), count=1)
    assert later == [(2026, 6, date(2026, 6, 19))]


def test_expiries_cross_the_year_end() -> None:
    found = expiries(crude_oil_last_trade, tuple(range(1, 13)), today=date(2025, 12, 20), count=2)
    assert found == [(2026, 2, date(2026, 1, 20)), (2026, 3, date(2026, 2, 20))]


def test_month_code_and_parse_expiry() -> None:
    assert month_code("20261218") == "DEC26"
    assert parse_expiry("20260229".replace("29", "28")) == date(2026, 2, 28)
    for bad in ("20260229", "2026-01-01", "２０２６０１０１", "202601011"):
        with pytest.raises(ValueError):
            parse_expiry(bad)
