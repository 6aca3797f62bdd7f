"""The daily session close at the calendar's close, and the catch-up after downtime."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from tests.instruments import AAPL
from tests.trading.quotes import QuoteBook, grid_quote

from tickgate.clock import NS_PER_S, FakeClock
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.server import rest_commands as commands
from tickgate.trading import sessions
from tickgate.trading.engine import TradingEngine
from tickgate.trading.store import MemoryEventStore


def utc(*parts: int) -> int:
    return int(datetime.datetime(*parts, tzinfo=datetime.UTC).timestamp()) * NS_PER_S


# Tuesday 2026-03-10 16:00 EDT (the first week of daylight saving time).
CLOSE_NS = utc(2026, 3, 10, 20)
HOUR = 3600 * NS_PER_S


CATALOGUE = Catalogue([AAPL])


def engine_at(clock: FakeClock, store: MemoryEventStore) -> TradingEngine:
    quotes = QuoteBook(grid_quote(AAPL.conid, 99.99, 100.01, 100.0))
    return TradingEngine(CATALOGUE, quotes, store, clock)


def day_order(engine: TradingEngine) -> int:
    order = {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "price": 99, "quantity": 1,
             "tif": "DAY"}  # fmt: skip
    return int(commands.place(engine, "DU1234567", [order])[0]["order_id"])


@pytest.mark.parametrize(
    ("now", "previous", "following"),
    [
        # In daylight time the close is 20:00 UTC, in standard time 21:00 UTC.
        (CLOSE_NS, CLOSE_NS, utc(2026, 3, 11, 20)),
        (CLOSE_NS - 1, utc(2026, 3, 9, 20), CLOSE_NS),
        (utc(2026, 3, 6, 22), utc(2026, 3, 6, 21), utc(2026, 3, 9, 20)),  # over the switch
        # A weekend and a holiday close nothing: Friday 2026-12-25 is Christmas.
        (utc(2026, 12, 26, 12), utc(2026, 12, 24, 18), utc(2026, 12, 28, 21)),
        # The day after Thanksgiving closes early, at 13:00 EST.
        (utc(2026, 11, 27, 12), utc(2026, 11, 25, 21), utc(2026, 11, 27, 18)),
    ],
)
def test_close_times_follow_the_calendar(now: int, previous: int, following: int) -> None:
    assert sessions.previous_close_ns(now) == previous
    assert sessions.next_close_ns(now) == following


def test_a_restart_on_the_same_day_closes_nothing() -> None:
    clock, store = FakeClock(CLOSE_NS + HOUR), MemoryEventStore()  # 17:00, after the close
    order_id = day_order(engine_at(clock, store))
    clock.advance(seconds=600)
    restarted = engine_at(clock, store)
    assert sessions.catch_up(restarted, clock.now_ns()) is False
    assert restarted.state.orders[order_id].is_working


def test_a_close_missed_while_down_expires_the_old_day_orders_only() -> None:
    clock, store = FakeClock(CLOSE_NS - HOUR), MemoryEventStore()  # 15:00
    old = day_order(engine_at(clock, store))
    clock.advance(seconds=7200)  # 17:00: the gateway was down over the 16:00 close
    restarted = engine_at(clock, store)
    assert sessions.catch_up(restarted, clock.now_ns()) is True
    assert not restarted.state.orders[old].is_working
    new = day_order(restarted)
    assert sessions.catch_up(restarted, clock.now_ns()) is False
    assert restarted.state.orders[new].is_working
    assert restarted.state.orders[new].quantity == D(1)


def test_a_weekend_of_downtime_closes_friday_once() -> None:
    friday = utc(2026, 3, 13, 15)
    clock, store = FakeClock(friday), MemoryEventStore()
    old = day_order(engine_at(clock, store))
    clock.set(utc(2026, 3, 16, 12))  # Monday 08:00 EDT
    restarted = engine_at(clock, store)
    assert sessions.catch_up(restarted, clock.now_ns()) is True
    assert not restarted.state.orders[old].is_working
    assert restarted.state.session_start_ns == utc(2026, 3, 13, 20)
