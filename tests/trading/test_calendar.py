"""The daily session close and the catch-up after downtime."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

from tests.instruments import AAPL

from tickgate.clock import NS_PER_S, FakeClock
from tickgate.model.ticks import Quote
from tickgate.trading import calendar
from tickgate.trading.engine import TradingEngine
from tickgate.trading.store import MemoryEventStore

CLOSE = datetime.time(21, 0)
# 2026-03-10 21:00:00 UTC
CLOSE_NS = int(datetime.datetime(2026, 3, 10, 21, tzinfo=datetime.UTC).timestamp()) * NS_PER_S


class Quotes:
    def quote(self, conid: int) -> Quote | None:
        return Quote(conid, 99.99, 100.01, 1000, 1000, 100.0, 0)


class Instruments:
    def find(self, conid: int) -> object:
        return AAPL if conid == AAPL.conid else None


def engine_at(clock: FakeClock, store: MemoryEventStore) -> TradingEngine:
    return TradingEngine(Instruments(), Quotes(), store, clock)  # type: ignore[arg-type]


def day_order(engine: TradingEngine) -> int:
    order = {"conid": AAPL.conid, "side": "BUY", "orderType": "LMT", "price": 99, "quantity": 1,
             "tif": "DAY"}  # fmt: skip
    return int(engine.place("DU1234567", [order])[0]["order_id"])


def test_close_times() -> None:
    assert calendar.previous_close_ns(CLOSE_NS, CLOSE) == CLOSE_NS
    assert calendar.previous_close_ns(CLOSE_NS - 1, CLOSE) == CLOSE_NS - 86_400 * NS_PER_S
    assert calendar.next_close_ns(CLOSE_NS, CLOSE) == CLOSE_NS + 86_400 * NS_PER_S


def test_a_restart_on_the_same_day_closes_nothing() -> None:
    clock, store = FakeClock(CLOSE_NS + 3600 * NS_PER_S), MemoryEventStore()  # 22:00, after close
    order_id = day_order(engine_at(clock, store))
    clock.advance(seconds=600)
    restarted = engine_at(clock, store)
    assert calendar.catch_up(restarted, clock.now_ns(), CLOSE) is False
    assert restarted.state.orders[order_id].is_working


def test_a_close_missed_while_down_expires_the_old_day_orders_only() -> None:
    clock, store = FakeClock(CLOSE_NS - 3600 * NS_PER_S), MemoryEventStore()  # 20:00
    old = day_order(engine_at(clock, store))
    clock.advance(seconds=7200)  # 22:00: the gateway was down over the 21:00 close
    restarted = engine_at(clock, store)
    assert calendar.catch_up(restarted, clock.now_ns(), CLOSE) is True
    assert not restarted.state.orders[old].is_working
    new = day_order(restarted)
    assert calendar.catch_up(restarted, clock.now_ns(), CLOSE) is False
    assert restarted.state.orders[new].is_working
    assert restarted.state.orders[new].quantity == D(1)
