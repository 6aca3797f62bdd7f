"""Matching rules, and a property test against a naive reference model."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickgate.model.orders import (
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TrailingType,
)
from tickgate.model.ticks import Quote
from tickgate.trading.matching import (
    MatchConfig,
    QueueModel,
    TriggerSource,
    match,
    match_at_close,
    trail_stop,
)

D = Decimal
TICK = D("0.01")
CFG = MatchConfig()


def _order(
    side: Side = Side.BUY, order_type: OrderType = OrderType.MKT, qty: int = 100, **kw: object
) -> Order:
    base = Order(
        order_id=1,
        account="DU1",
        conid=1,
        side=side,
        order_type=order_type,
        quantity=D(qty),
        tif=TimeInForce.DAY,
        status=OrderStatus.SUBMITTED,
        created_ns=0,
        updated_ns=0,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def _mkt(bid: str, ask: str, last: str, bid_size: int = 500, ask_size: int = 500) -> Quote:
    return Quote(1, D(bid), D(ask), D(bid_size), D(ask_size), D(last), 0)


def test_market_buy_fills_at_ask_not_last() -> None:
    result = match(_order(), _mkt("99.98", "100.02", "100.00"), CFG, min_tick=TICK)
    assert (result.quantity, result.price) == (D(100), D("100.02"))


def test_market_sell_fills_at_bid() -> None:
    result = match(_order(Side.SELL), _mkt("99.98", "100.02", "100.00"), CFG, min_tick=TICK)
    assert result.price == D("99.98")


def test_fill_is_capped_at_displayed_size() -> None:
    result = match(_order(qty=300), _mkt("99", "100", "99.5", ask_size=120), CFG, min_tick=TICK)
    assert result.quantity == D(120)


def test_consume_shares_liquidity() -> None:
    market = _mkt("99", "100", "99.5", bid_size=50, ask_size=120)
    assert market.consume(Side.BUY, D(100)).ask_size == D(20)
    assert market.consume(Side.SELL, D(80)).bid_size == D(0)


def test_no_market_no_fill() -> None:
    result = match(_order(), _mkt("0", "0", "0"), CFG, min_tick=TICK)
    assert not result.filled


def test_marketable_limit_fills_at_ask_below_limit() -> None:
    order = _order(order_type=OrderType.LMT, price=D("101"))
    assert match(order, _mkt("99", "100", "99.5"), CFG, min_tick=TICK).price == D("100")


@pytest.mark.parametrize(
    ("model", "last", "fills"),
    [
        (QueueModel.TOUCH, "98.00", True),
        (QueueModel.THROUGH, "98.00", False),
        (QueueModel.THROUGH, "97.99", True),
        (QueueModel.TOUCH, "98.01", False),
    ],
)
def test_resting_buy_limit_queue_models(model: QueueModel, last: str, fills: bool) -> None:
    order = _order(order_type=OrderType.LMT, price=D("98"))
    result = match(order, _mkt("97.5", "98.5", last), MatchConfig(queue_model=model), min_tick=TICK)
    assert result.filled is fills
    if fills:
        assert result.price == D("98")


def test_resting_sell_limit_touch() -> None:
    order = _order(Side.SELL, OrderType.LMT, price=D("102"))
    result = match(order, _mkt("101.5", "102.5", "102"), CFG, min_tick=TICK)
    assert result.price == D("102")


def test_buy_stop_triggers_on_last_then_fills_at_ask() -> None:
    order = _order(order_type=OrderType.STP, aux_price=D("101"))
    quiet = match(order, _mkt("99", "101.5", "100.9"), CFG, min_tick=TICK)
    assert not quiet.triggered and not quiet.filled
    fired = match(order, _mkt("100.9", "101.2", "101"), CFG, min_tick=TICK)
    assert fired.triggered and fired.price == D("101.2")


def test_stop_trigger_source_bid() -> None:
    order = _order(Side.SELL, OrderType.STP, aux_price=D("99"))
    market = _mkt("98.99", "99.5", "99.2")
    assert not match(order, market, CFG, min_tick=TICK).triggered
    by_bid = MatchConfig(stop_trigger=TriggerSource.BID)
    assert match(order, market, by_bid, min_tick=TICK).price == D("98.99")


def test_stop_limit_triggers_then_rests_as_limit() -> None:
    order = _order(Side.SELL, OrderType.STOP_LIMIT, aux_price=D("99"), price=D("98.8"))
    result = match(order, _mkt("98.5", "98.7", "98.6"), CFG, min_tick=TICK)
    assert result.triggered and not result.filled  # bid and last are below the 98.8 limit


def test_trailing_sell_stop_ratchets_up_only() -> None:
    order = _order(
        Side.SELL,
        OrderType.TRAIL,
        aux_price=D("99"),
        trailing_type=TrailingType.AMOUNT,
        trailing_amount=D("1"),
    )
    up = match(order, _mkt("101", "101.1", "101"), CFG, min_tick=TICK)
    assert up.stop_price == D("100") and not up.triggered
    moved = dataclasses.replace(order, aux_price=up.stop_price)
    down = match(moved, _mkt("100.5", "100.6", "100.5"), CFG, min_tick=TICK)
    assert down.stop_price == D("100") and not down.triggered
    hit = match(moved, _mkt("99.9", "100.1", "100"), CFG, min_tick=TICK)
    assert hit.triggered and hit.price == D("99.9")


def test_trailing_percent_buy_stop() -> None:
    order = _order(
        order_type=OrderType.TRAIL, trailing_type=TrailingType.PERCENT, trailing_amount=D("2")
    )
    assert trail_stop(order, D("50"), TICK) == D("51")


def test_traillmt_without_price_limits_at_stop() -> None:
    order = _order(
        Side.SELL, OrderType.TRAILLMT, aux_price=D("100"), trailing_amount=D("1"), triggered=True
    )
    result = match(order, _mkt("99.5", "99.6", "99.5"), CFG, min_tick=TICK)
    assert not result.filled  # bid below the stop-as-limit; last 99.5 not at 100 either


def test_trail_stop_requires_amount() -> None:
    with pytest.raises(ValueError, match="no trailing amount"):
        trail_stop(_order(order_type=OrderType.TRAIL), D(1), TICK)


def test_at_close_orders_ignore_quotes() -> None:
    for order_type in (OrderType.MOC, OrderType.LOC):
        order = _order(order_type=order_type, price=D("200"))
        assert not match(order, _mkt("99", "100", "99.5"), CFG, min_tick=TICK).filled


def test_match_at_close() -> None:
    assert match_at_close(_order(order_type=OrderType.MOC, qty=7), D("10")) == D(7)
    loc_buy = _order(order_type=OrderType.LOC, price=D("10"))
    assert match_at_close(loc_buy, D("10")) == D(100)
    assert match_at_close(loc_buy, D("10.01")) is None
    assert match_at_close(_order(), D("10")) is None
    assert match_at_close(_order(order_type=OrderType.MOC), D("0")) is None


# ---- property test against a naive reference model -------------------------------------------


def _reference(order: Order, markets: list[Quote], cfg: MatchConfig) -> list[tuple[D, D]]:
    """Deliberately simple re-statement of the rules for MKT/LMT/STP/STOP_LIMIT."""
    fills: list[tuple[D, D]] = []
    left = order.quantity
    armed = order.order_type in (OrderType.MKT, OrderType.LMT)
    buy = order.side is Side.BUY
    for m in markets:
        trig = {"last": m.last, "bid": m.bid, "ask": m.ask}[cfg.stop_trigger.value]
        if not armed and trig > 0 and order.aux_price is not None:
            armed = trig >= order.aux_price if buy else trig <= order.aux_price
        if not armed or left == 0:
            continue
        limit = order.price if order.order_type in (OrderType.LMT, OrderType.STOP_LIMIT) else None
        opposite, size = (m.ask, m.ask_size) if buy else (m.bid, m.bid_size)
        if limit is None:
            ok = opposite > 0
            px = opposite
        elif opposite > 0 and ((buy and opposite <= limit) or (not buy and opposite >= limit)):
            ok, px = True, opposite
        else:
            px = limit
            if cfg.queue_model is QueueModel.TOUCH:
                ok = m.last > 0 and (m.last <= limit if buy else m.last >= limit)
            else:
                ok = m.last > 0 and (m.last < limit if buy else m.last > limit)
        qty = min(left, size)
        if ok and qty > 0:
            fills.append((qty, px))
            left -= qty
    return fills


def _run(order: Order, markets: list[Quote], cfg: MatchConfig) -> list[tuple[D, D]]:
    fills: list[tuple[D, D]] = []
    for m in markets:
        if order.remaining == 0:
            break
        r = match(order, m, cfg, min_tick=TICK)
        order = dataclasses.replace(order, triggered=r.triggered, aux_price=r.stop_price)
        if r.filled:
            assert r.price is not None
            fills.append((r.quantity, r.price))
            order = dataclasses.replace(order, filled_quantity=order.filled_quantity + r.quantity)
    return fills


prices = st.integers(min_value=0, max_value=40).map(lambda i: D(90) + D(i) / 4)
sizes = st.integers(min_value=0, max_value=300).map(D)
markets = st.builds(Quote, st.just(1), prices, prices, sizes, sizes, prices, st.just(0))


@settings(max_examples=400, deadline=None)
@given(
    side=st.sampled_from(list(Side)),
    order_type=st.sampled_from([OrderType.MKT, OrderType.LMT, OrderType.STP, OrderType.STOP_LIMIT]),
    qty=st.integers(min_value=1, max_value=800),
    limit=prices,
    stop=prices,
    queue=st.sampled_from(list(QueueModel)),
    trigger=st.sampled_from(list(TriggerSource)),
    tape=st.lists(markets, max_size=12),
)
def test_matching_agrees_with_reference(
    side: Side,
    order_type: OrderType,
    qty: int,
    limit: D,
    stop: D,
    queue: QueueModel,
    trigger: TriggerSource,
    tape: list[Quote],
) -> None:
    order = _order(
        side,
        order_type,
        qty,
        price=limit if order_type.has_limit else None,
        aux_price=stop if order_type.is_stop else None,
    )
    cfg = MatchConfig(queue_model=queue, stop_trigger=trigger)
    got = _run(order, tape, cfg)
    assert got == _reference(order, tape, cfg)
    assert sum((q for q, _ in got), D(0)) <= order.quantity
    if order_type.has_limit:
        assert all(side.sign * (limit - px) >= 0 for _, px in got)


def test_consume_takes_size_from_the_opposite_side_never_below_zero() -> None:
    market = _mkt("99.98", "100.02", "100.00", bid_size=300, ask_size=200)
    assert market.consume(Side.BUY, D(150)) == _mkt("99.98", "100.02", "100.00", 300, 50)
    assert market.consume(Side.SELL, D(500)) == _mkt("99.98", "100.02", "100.00", 0, 200)
