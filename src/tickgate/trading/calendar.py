"""When the simulated trading session closes: once a day at a fixed UTC time.

DAY orders expire and MOC/LOC orders fill at the close. A gateway that was down over a close
catches up when it starts, so a DAY order placed before a close never survives it.
"""

from __future__ import annotations

import datetime

from tickgate.clock import NS_PER_S
from tickgate.trading.engine import TradingEngine

DAY_NS = 86_400 * NS_PER_S


def parse_close_time(text: str) -> datetime.time:
    """`HH:MM` (UTC) as a time. Raises ValueError with the reason."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return datetime.time(hours, minutes)
    except ValueError:
        raise ValueError(f"session close must be HH:MM (UTC), got {text!r}") from None


def previous_close_ns(now_ns: int, close: datetime.time) -> int:
    """The latest session close at or before `now_ns`."""
    day = datetime.datetime.fromtimestamp(now_ns / NS_PER_S, datetime.UTC).date()
    today = datetime.datetime.combine(day, close, tzinfo=datetime.UTC)
    close_ns = int(today.timestamp()) * NS_PER_S
    return close_ns if close_ns <= now_ns else close_ns - DAY_NS


def next_close_ns(now_ns: int, close: datetime.time) -> int:
    """The first session close strictly after `now_ns`."""
    return previous_close_ns(now_ns, close) + DAY_NS


def catch_up(engine: TradingEngine, now_ns: int, close: datetime.time) -> bool:
    """Close a session the gateway missed while it was down; True when it did.

    A close is missed when the store holds an order from before the latest close time and no
    close was recorded since; a restart later on the same day closes nothing.
    """
    boundary = previous_close_ns(now_ns, close)
    if engine.state.session_start_ns >= boundary:
        return False
    if not any(o.created_ns < boundary for o in engine.state.orders.values()):
        return False
    engine.close_session(boundary)
    return True
