"""DayCycle: the one owner of the daily close and the other session boundaries."""

from __future__ import annotations

from tests.instruments import AAPL
from tests.trading.test_sessions import CLOSE_NS, HOUR, day_order, engine_at

from tickgate.clock import FakeClock
from tickgate.market.market_hours import Boundary, MarketHours, Mode
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.trading.day_cycle import DayCycle
from tickgate.trading.store import MemoryEventStore


def test_close_day_closes_the_simulated_market_before_the_orders() -> None:
    clock, store = FakeClock(CLOSE_NS - HOUR), MemoryEventStore()
    trading = engine_at(clock, store)
    order_id = day_order(trading)
    simulator = MarketSimulator([AAPL], seed=3, start_ns=clock.now_ns())
    simulator.initial_ticks()
    published: list[tuple[Tick, bool]] = []
    cycle = DayCycle(
        trading,
        MarketHours([AAPL], Mode.ALWAYS),
        market=simulator,
        # Whether the order was still working when each tick went out: ticks come first.
        publish=lambda tick: published.append((tick, trading.state.orders[order_id].is_working)),
    )
    clock.advance(seconds=60)  # the close concerns orders placed before it
    cycle.close_day(clock.now_ns())
    assert not simulator.session_open
    assert published and all(working for _, working in published)
    assert str(published[0][0].fields[F.LAST]).startswith("C")
    assert not trading.state.orders[order_id].is_working


def test_without_a_simulated_market_the_orders_still_see_every_boundary() -> None:
    clock, store = FakeClock(CLOSE_NS - HOUR), MemoryEventStore()
    trading = engine_at(clock, store)
    order_id = day_order(trading)
    published: list[Tick] = []
    cycle = DayCycle(
        trading, MarketHours([AAPL], Mode.EXCHANGE), market=None, publish=published.append
    )
    due = cycle.next_boundaries(clock.now_ns())
    assert {t.boundary for t in due} == {Boundary.CLOSE} and due[0].at_ns == CLOSE_NS
    clock.set(CLOSE_NS)
    for transition in due:
        cycle.apply(transition)
    assert not trading.state.orders[order_id].is_working and published == []


def test_catch_up_closes_a_day_missed_while_down_once() -> None:
    clock, store = FakeClock(CLOSE_NS - HOUR), MemoryEventStore()
    order_id = day_order(engine_at(clock, store))
    clock.advance(seconds=7200)
    restarted = engine_at(clock, store)
    cycle = DayCycle(restarted, MarketHours([AAPL], Mode.ALWAYS), market=None, publish=print)
    assert cycle.catch_up(clock.now_ns()) is True
    assert cycle.catch_up(clock.now_ns()) is False
    assert not restarted.state.orders[order_id].is_working
