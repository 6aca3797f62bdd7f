"""MarketHours: the session boundaries a gateway acts on, and when orders may fill."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.instruments import AAPL, EURUSD

from tickgate.market.calendar import FX, US_EQUITY
from tickgate.market.market_hours import Boundary, MarketHours, Mode


def utc(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000


def walk(hours: MarketHours, start: str, steps: int) -> list[tuple[int, str, str]]:
    now, seen = utc(start), []
    for _ in range(steps):
        due = hours.next_transitions(now)
        seen += [(t.at_ns, t.calendar.name, t.boundary.value) for t in due]
        now = due[0].at_ns
    return seen


def test_a_week_end_and_a_holiday_in_transitions() -> None:
    hours = MarketHours([AAPL, EURUSD], Mode.EXCHANGE)
    # From Thursday 2026-12-24 (an early close) over Christmas and the weekend.
    assert walk(hours, "2026-12-24 17:00", 7) == [
        (utc("2026-12-24 18:00"), "US equities", "close"),  # 13:00 EST
        # At one instant closes come first, then ends, then starts, then opens.
        (utc("2026-12-24 22:00"), "FX", "close"),
        (utc("2026-12-24 22:00"), "US equities", "end"),  # 17:00 EST
        (utc("2026-12-24 22:00"), "FX", "end"),
        (utc("2026-12-24 22:00"), "FX", "start"),  # FX trades on Christmas Day
        (utc("2026-12-24 22:00"), "FX", "open"),
        (utc("2026-12-25 22:00"), "FX", "close"),
        (utc("2026-12-25 22:00"), "FX", "end"),
        (utc("2026-12-27 22:00"), "FX", "start"),  # Sunday 17:00
        (utc("2026-12-27 22:00"), "FX", "open"),
        (utc("2026-12-28 09:00"), "US equities", "start"),
        (utc("2026-12-28 14:30"), "US equities", "open"),
        (utc("2026-12-28 21:00"), "US equities", "close"),
    ]


def test_transitions_carry_their_calendars_conids() -> None:
    hours = MarketHours([AAPL, EURUSD], Mode.ALWAYS)
    due = hours.next_transitions(utc("2026-12-02 12:00"))
    assert [(t.calendar, t.boundary, t.conids) for t in due] == [
        (US_EQUITY, Boundary.OPEN, (AAPL.conid,))
    ]
    assert hours.conids(FX) == (EURUSD.conid,)


def test_exchange_mode_fills_in_regular_hours_and_outside_rth_in_extended_hours() -> None:
    exchange = MarketHours([AAPL, EURUSD], Mode.EXCHANGE)
    regular, pre, night, saturday = (
        utc(t)
        for t in ("2026-12-02 15:00", "2026-12-02 10:00", "2026-12-02 03:30", "2026-12-05 15:00")
    )
    assert exchange.may_fill(AAPL.conid, regular, outside_rth=False)
    assert not exchange.may_fill(AAPL.conid, pre, outside_rth=False)
    assert exchange.may_fill(AAPL.conid, pre, outside_rth=True)
    assert not exchange.may_fill(AAPL.conid, night, outside_rth=True)
    assert exchange.may_fill(EURUSD.conid, night, outside_rth=False)
    assert not exchange.may_fill(EURUSD.conid, saturday, outside_rth=True)
    assert exchange.closed_conids(saturday) == [AAPL.conid, EURUSD.conid]
    assert exchange.closed_conids(night) == [AAPL.conid]


def test_always_mode_fills_at_any_hour_and_closes_nothing() -> None:
    always = MarketHours([AAPL, EURUSD], Mode.ALWAYS)
    saturday = utc("2026-12-05 15:00")
    assert always.may_fill(AAPL.conid, saturday, outside_rth=False)
    assert always.closed_conids(saturday) == []
    assert always.describe(saturday) == (
        "market hours: always (markets trade around the clock); now: US equities closed, FX closed"
    )
