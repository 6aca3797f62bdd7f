"""The JSON shape of ``/trsrv/secdef/schedule``: an instrument's trading schedule, read off its
market calendar.

One entry per exchange of the matching contracts, each with the schedules of the trading dates
from today's on for `SCHEDULE_DAYS` calendar days (weekends and holidays have none). Times are
``HHMM`` strings on the exchange's local clock (``timezone``); ``tradingtimes`` is the whole
session, extended hours included, ``sessions`` its liquid (regular) part, and a session that
starts the evening before (futures, FX) has an opening time later than its closing time.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import takewhile
from typing import Any

from tickgate.market.calendar import CALENDARS, Hours, MarketCalendar

__all__ = ["SCHEDULE_DAYS", "schedule_payload"]

#: How far ahead a schedule reaches (the reference: "up to a month").
SCHEDULE_DAYS = 31


def schedule_payload(calendar: MarketCalendar, exchange: str, now_ns: int) -> dict[str, Any]:
    """The schedule entry of `exchange` trading on `calendar`, from the trading date of
    `now_ns` on. Never raises."""
    first = calendar.trading_date(now_ns)
    last = first + timedelta(days=SCHEDULE_DAYS - 1)
    sessions = calendar.sessions_after(calendar.date_start_ns(first) - 1)
    index = CALENDARS.index(calendar) if calendar in CALENDARS else len(CALENDARS)
    return {
        "id": f"p{101 + index}",
        "tradeVenueId": f"v{13038 + index}",
        "exchange": exchange,
        "description": calendar.name,
        "timezone": calendar.zone.key,
        "schedules": [
            _day(calendar, hours)
            for hours in takewhile(lambda h: h.day <= last, sessions)
            if hours.day >= first
        ],
    }


def _day(calendar: MarketCalendar, hours: Hours) -> dict[str, Any]:
    def clock(ns: int) -> str:
        minute = calendar.local(ns)[1]
        return f"{minute // 60:02d}{minute % 60:02d}"

    liquid = {"openingTime": clock(hours.open_ns), "closingTime": clock(hours.close_ns)}
    whole = (hours.start_ns, hours.end_ns) == (hours.open_ns, hours.close_ns)
    return {
        "clearingCycleEndTime": clock(hours.end_ns),
        "tradingScheduleDate": hours.day.strftime("%Y%m%d"),
        "sessions": [{**liquid, "prop": "LIQUID"}] if whole else [liquid],
        "tradingtimes": [
            {
                "openingTime": clock(hours.start_ns),
                "closingTime": clock(hours.end_ns),
                "cancelDayOrders": "Y",
            }
        ],
        "earlyClose": hours.early_close,
    }
