"""The market calendars at the instants that matter: nights, weekends, holidays, daylight-saving
switch days, early closes, the CME maintenance break and the FX week."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import islice

import pytest
from tests.instruments import AAPL, EURUSD

from tickgate.market.calendar import (
    CME_GLOBEX,
    FX,
    US_EQUITY,
    US_REGULAR,
    MarketCalendar,
    Phase,
    calendar_of,
)

EXTENDED, REGULAR, CLOSED = Phase.EXTENDED, Phase.REGULAR, Phase.CLOSED


def utc(text: str) -> int:
    """Epoch ns of 'YYYY-MM-DD HH:MM' UTC."""
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("calendar", "moment", "phase"),
    [
        # Wednesday 2026-12-02 03:30 UTC = Tuesday 22:30 EST: a weekday night.
        (US_EQUITY, "2026-12-02 03:30", CLOSED),
        (US_REGULAR, "2026-12-02 03:30", CLOSED),
        (CME_GLOBEX, "2026-12-02 03:30", EXTENDED),
        (FX, "2026-12-02 03:30", REGULAR),
        # Pre-market, regular hours and after-hours of a winter weekday.
        (US_EQUITY, "2026-12-02 09:00", EXTENDED),  # 04:00 EST
        (US_EQUITY, "2026-12-02 14:29", EXTENDED),
        (US_EQUITY, "2026-12-02 14:30", REGULAR),  # 09:30 EST
        (US_EQUITY, "2026-12-02 21:00", EXTENDED),  # 16:00 EST
        (US_EQUITY, "2026-12-03 01:00", CLOSED),  # 20:00 EST
        (US_REGULAR, "2026-12-02 21:00", CLOSED),
        # CME's maintenance break 16:00-17:00 CST, and its liquid hours 08:30-15:00.
        (CME_GLOBEX, "2026-12-02 22:00", CLOSED),
        (CME_GLOBEX, "2026-12-02 22:59", CLOSED),
        (CME_GLOBEX, "2026-12-02 23:00", EXTENDED),
        (CME_GLOBEX, "2026-12-02 14:30", REGULAR),
        (CME_GLOBEX, "2026-12-02 21:00", EXTENDED),
        # Saturday 2026-12-05: everything closed, FX too.
        (US_EQUITY, "2026-12-05 15:00", CLOSED),
        (CME_GLOBEX, "2026-12-05 15:00", CLOSED),
        (FX, "2026-12-05 15:00", CLOSED),
        # FX closes Friday 17:00 and opens Sunday 17:00 New York time; CME opens Sunday 17:00 CT.
        (FX, "2026-12-04 21:59", REGULAR),
        (FX, "2026-12-04 22:00", CLOSED),
        (FX, "2026-12-06 21:59", CLOSED),
        (FX, "2026-12-06 22:00", REGULAR),
        (CME_GLOBEX, "2026-12-06 22:30", CLOSED),
        (CME_GLOBEX, "2026-12-06 23:00", EXTENDED),
        # Christmas 2026 is a Friday: NYSE and CME closed; FX trades.
        (US_EQUITY, "2026-12-25 15:00", CLOSED),
        (CME_GLOBEX, "2026-12-25 15:00", CLOSED),
        (FX, "2026-12-25 15:00", REGULAR),
        # The day after Thanksgiving closes at 13:00 EST, after-hours end at 17:00.
        (US_EQUITY, "2026-11-27 17:59", REGULAR),
        (US_EQUITY, "2026-11-27 18:00", EXTENDED),
        (US_EQUITY, "2026-11-27 22:00", CLOSED),
        (US_REGULAR, "2026-11-27 18:00", CLOSED),
        (CME_GLOBEX, "2026-11-27 17:59", REGULAR),  # CME stops at 12:00 CST that day
        (CME_GLOBEX, "2026-11-27 18:00", CLOSED),
        # Daylight saving starts Sunday 2026-03-08 and ends Sunday 2026-11-01: Monday's open is
        # 13:30 UTC after the first, 14:30 UTC after the second.
        (US_EQUITY, "2026-03-09 13:29", EXTENDED),
        (US_EQUITY, "2026-03-09 13:30", REGULAR),
        (US_EQUITY, "2026-11-02 14:29", EXTENDED),
        (US_EQUITY, "2026-11-02 14:30", REGULAR),
        (CME_GLOBEX, "2026-03-08 21:59", CLOSED),
        (CME_GLOBEX, "2026-03-08 22:00", EXTENDED),  # Sunday 17:00 CDT
        (FX, "2026-11-01 21:59", CLOSED),
        (FX, "2026-11-01 22:00", REGULAR),  # Sunday 17:00 EST
    ],
)
def test_phase_at_the_instants_that_matter(
    calendar: MarketCalendar, moment: str, phase: Phase
) -> None:
    assert calendar.phase(utc(moment)) is phase


def test_holidays_and_early_closes_come_from_the_exchange_calendars() -> None:
    for day in (date(2026, 1, 19), date(2026, 4, 3), date(2026, 7, 3), date(2026, 11, 26)):
        assert not US_EQUITY.is_trading_day(day)  # MLK, Good Friday, July 4 observed, Thanksgiving
    assert US_EQUITY.is_early_close(date(2026, 12, 24))
    assert US_EQUITY.is_early_close(date(2025, 7, 3))  # the day before a weekday July 4
    assert not US_EQUITY.is_early_close(date(2026, 12, 23))
    assert CME_GLOBEX.is_trading_day(date(2026, 1, 19))  # CME trades MLK day, closing early
    assert CME_GLOBEX.is_early_close(date(2026, 1, 19))
    assert FX.is_trading_day(date(2026, 12, 25))
    assert not US_EQUITY.is_trading_day(date(2026, 12, 5))  # a Saturday


def test_sessions_in_order_around_a_holiday_weekend() -> None:
    days = [h.day for h in islice(US_EQUITY.sessions_after(utc("2026-12-23 12:00")), 3)]
    assert days == [date(2026, 12, 23), date(2026, 12, 24), date(2026, 12, 28)]
    back = [h.day for h in islice(US_EQUITY.sessions_before(utc("2026-12-28 12:00")), 3)]
    assert back == [date(2026, 12, 28), date(2026, 12, 24), date(2026, 12, 23)]
    christmas_eve = US_EQUITY.session(date(2026, 12, 24))
    assert christmas_eve is not None and christmas_eve.early_close
    assert christmas_eve.close_ns == utc("2026-12-24 18:00")
    assert US_EQUITY.session(date(2026, 12, 25)) is None


def test_next_open_close_and_change() -> None:
    saturday = utc("2026-12-05 15:00")
    assert US_EQUITY.next_open_ns(saturday) == utc("2026-12-07 14:30")
    assert US_EQUITY.next_close_ns(saturday) == utc("2026-12-07 21:00")
    assert US_EQUITY.previous_close_ns(saturday) == utc("2026-12-04 21:00")
    assert US_EQUITY.next_change_ns(saturday) == utc("2026-12-07 09:00")  # pre-market
    assert CME_GLOBEX.next_change_ns(saturday) == utc("2026-12-06 23:00")
    during = utc("2026-12-07 15:00")
    assert US_EQUITY.next_change_ns(during) == utc("2026-12-07 21:00")
    assert US_EQUITY.current_or_next(during).day == date(2026, 12, 7)


def test_trading_dates_of_evening_sessions() -> None:
    thursday_evening = utc("2026-12-03 23:30")  # 18:30 EST, 17:30 CST
    assert FX.trading_date(thursday_evening) == date(2026, 12, 4)
    assert CME_GLOBEX.trading_date(thursday_evening) == date(2026, 12, 4)
    assert US_EQUITY.trading_date(thursday_evening) == date(2026, 12, 3)


def test_instruments_get_the_calendar_of_their_market() -> None:
    assert calendar_of(AAPL) is US_EQUITY
    assert calendar_of(EURUSD) is FX
    assert US_EQUITY.has_extended_hours and not US_REGULAR.has_extended_hours
    assert FX.regular_minutes == 1440 and US_EQUITY.regular_minutes == 390
