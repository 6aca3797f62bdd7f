"""The hot state's indexes: a quote is matched only against the orders it can fill."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import Order, OrderStatus, OrderType, Side, TimeInForce
from tickgate.model.ticks import Quote
from tickgate.trading.events import OrderAccepted, OrderUpdated
from tickgate.trading.matching import reachable_limits
from tickgate.trading.state import TradingState

D = Decimal
CONID = 265598


def _order(order_id: int, side: Side, order_type: OrderType, price: str | None = None,
           conid: int = CONID) -> Order:  # fmt: skip
    return Order(
        order_id=order_id, account="DU1", conid=conid, side=side, order_type=order_type,
        quantity=D(1), tif=TimeInForce.GTC, status=OrderStatus.SUBMITTED, created_ns=0,
        updated_ns=0, price=None if price is None else D(price),
        aux_price=D("99") if order_type.is_stop else None,
    )  # fmt: skip


def _state(*orders: Order) -> TradingState:
    state = TradingState.empty([AccountConfig("DU1")])
    for order in orders:
        state.apply(OrderAccepted(order), lambda conid: None)  # type: ignore[arg-type,return-value]
    return state


def test_reachable_limits_take_the_better_of_touch_and_last() -> None:
    market = Quote(1, D("99.98"), D("100.02"), bid_size=D(1), ask_size=D(1), last=D(100), ts_ns=0)
    assert reachable_limits(market) == (D(100), D(100))
    no_last = dataclasses.replace(market, last=D(0))
    assert reachable_limits(no_last) == (D("100.02"), D("99.98"))
    empty = Quote(1, D(0), D(0), D(0), D(0), D(0), 0)
    assert reachable_limits(empty) == (None, None)


def test_matchable_skips_far_limits_and_keeps_time_priority() -> None:
    state = _state(
        _order(1, Side.BUY, OrderType.LMT, "90"),  # far below: skipped
        _order(2, Side.BUY, OrderType.LMT, "100.5"),
        _order(3, Side.SELL, OrderType.LMT, "110"),  # far above: skipped
        _order(4, Side.SELL, OrderType.STP),  # stops are always matched
        _order(5, Side.SELL, OrderType.LMT, "99"),
        _order(6, Side.BUY, OrderType.LMT, "100"),  # exactly at the floor
        _order(7, Side.BUY, OrderType.LMT, "101", conid=8314),  # another conid
    )
    chosen = state.matchable(CONID, D(100), D(100))
    assert [o.order_id for o in chosen] == [2, 4, 5, 6]
    assert [o.order_id for o in state.matchable(CONID, None, None)] == [4]


def test_a_modified_or_finished_order_moves_in_or_out_of_the_book() -> None:
    far = _order(1, Side.BUY, OrderType.LMT, "90")
    state = _state(far)
    assert state.matchable(CONID, D(100), D(100)) == []
    near = dataclasses.replace(far, price=D("100.10"))
    state.apply(OrderUpdated(near), lambda conid: None)  # type: ignore[arg-type,return-value]
    assert state.matchable(CONID, D(100), D(100)) == [near]
    done = dataclasses.replace(near, status=OrderStatus.CANCELLED)
    state.apply(OrderUpdated(done), lambda conid: None)  # type: ignore[arg-type,return-value]
    assert state.matchable(CONID, D("0.01"), D(1000)) == []
    assert not state.has_working(CONID)
