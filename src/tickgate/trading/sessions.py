"""When the trading day closes: at the regular close of the US equity calendar.

DAY orders expire and MOC/LOC orders fill at the close, which `tickgate.market.calendar` puts
at 16:00 New York time (13:00 on early-close days) on every NYSE trading day: no close on a
weekend or holiday, and daylight saving is the time zone's business. A gateway that was down
over a close catches up when it starts, so a DAY order placed before a close never survives it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tickgate.market.calendar import US_EQUITY, MarketCalendar

if TYPE_CHECKING:  # the engine asks DAY_CALENDAR which day a close ends
    from tickgate.trading.engine import TradingEngine

#: The calendar whose close ends the accounts' trading day (daily P&L, DAY orders).
DAY_CALENDAR: MarketCalendar = US_EQUITY


def previous_close_ns(now_ns: int, calendar: MarketCalendar = DAY_CALENDAR) -> int:
    """The latest session close at or before `now_ns`."""
    return calendar.previous_close_ns(now_ns)


def next_close_ns(now_ns: int, calendar: MarketCalendar = DAY_CALENDAR) -> int:
    """The first session close strictly after `now_ns`."""
    return calendar.next_close_ns(now_ns)


def catch_up(engine: TradingEngine, now_ns: int, calendar: MarketCalendar = DAY_CALENDAR) -> bool:
    """Close a session the gateway missed while it was down; True when it did.

    A close is missed when the store holds an order from before the latest close and no close
    was recorded since; a restart later on the same day closes nothing.
    """
    boundary = previous_close_ns(now_ns, calendar)
    if engine.state.session_start_ns >= boundary:
        return False
    if not engine.state.has_orders_before(boundary):
        return False
    engine.close_session(boundary)
    return True
