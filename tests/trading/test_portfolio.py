"""Portfolio bookkeeping, and the P&L identities as property tests."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.instruments import future, stock

from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import Fill, Side
from tickgate.trading.portfolio import Portfolio

D = Decimal
STK = stock(1, "AAA", "A", price="100", volatility=0.2)
FUT = future(2)
INSTRUMENTS = {1: STK, 2: FUT}


def _fill(conid: int, side: Side, qty: str, price: str, commission: str = "0") -> Fill:
    return Fill("e", 1, "DU1", conid, side, D(qty), D(price), D(commission), 0)


def _book(p: Portfolio, *fills: Fill) -> None:
    for fill in fills:
        p.apply_fill(fill, INSTRUMENTS[fill.conid])


def test_round_trip_realizes_net_of_both_commissions() -> None:
    p = Portfolio(AccountConfig("DU1", starting_cash=D(10000)))
    _book(p, _fill(1, Side.BUY, "10", "100", "1"))
    assert p.positions[1].avg_price == D("100.1")  # the opening commission is in the cost
    _book(p, _fill(1, Side.SELL, "10", "105", "1"))
    assert p.realized == D(48)  # 50 of price move, less 1 to open and 1 to close
    assert p.cash == D(10000) + D(50) - D(2)
    assert p.positions[1].quantity == 0 and p.positions[1].cost == 0


def test_average_price_and_partial_close() -> None:
    p = Portfolio(AccountConfig("DU1"))
    _book(p, _fill(1, Side.BUY, "10", "100"), _fill(1, Side.BUY, "30", "104"))
    assert p.positions[1].avg_price == D(103)
    _book(p, _fill(1, Side.SELL, "20", "110"))
    assert p.realized == D(140)
    assert p.positions[1].avg_price == D(103) and p.positions[1].quantity == D(20)


def test_short_flip_and_cover() -> None:
    p = Portfolio(AccountConfig("DU1"))
    _book(p, _fill(1, Side.BUY, "5", "100"), _fill(1, Side.SELL, "15", "90"))
    assert p.realized == D(-50)
    assert p.positions[1].quantity == D(-10) and p.positions[1].avg_price == D(90)
    _book(p, _fill(1, Side.BUY, "10", "80"))
    assert p.realized == D(50)


def test_multiplier_applies_to_cash_and_value() -> None:
    p = Portfolio(AccountConfig("DU1", starting_cash=D(100000)))
    _book(p, _fill(2, Side.BUY, "1", "5000"))
    assert p.cash == D(100000) - D(250000)
    p.mark(2, D("5010"))
    assert p.unrealized == D(500) and p.market_value == D(250500)
    assert p.initial_margin == D(25050)


def test_mark_reports_changes_only_for_open_positions() -> None:
    p = Portfolio(AccountConfig("DU1"))
    assert not p.mark(1, D(1))
    _book(p, _fill(1, Side.BUY, "1", "100"))
    assert p.mark(1, D(101)) and not p.mark(1, D(101))


def test_margin_and_buying_power() -> None:
    p = Portfolio(AccountConfig("DU1", starting_cash=D(100000)))
    _book(p, _fill(1, Side.BUY, "100", "100"))
    assert p.initial_margin == D(5000) and p.maintenance_margin == D(2500)
    assert p.available_funds == D(95000) and p.excess_liquidity == D(97500)
    assert p.buying_power == D(190000)


def test_daily_pnl_from_session_open() -> None:
    p = Portfolio(AccountConfig("DU1", starting_cash=D(1000)))
    _book(p, _fill(1, Side.BUY, "1", "100"))
    p.mark(1, D(110))
    assert p.daily_pnl == D(10)
    p.open_session()
    p.mark(1, D(105))
    assert p.daily_pnl == D(-5)


trades = st.tuples(
    st.sampled_from([1, 2]),
    st.sampled_from(list(Side)),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=40000).map(lambda i: D(i) / 4),
    st.integers(min_value=0, max_value=500).map(lambda i: D(i) / 100),
)
marks = st.integers(min_value=1, max_value=40000).map(lambda i: D(i) / 4)


@settings(max_examples=300, deadline=None)
@given(st.lists(trades, max_size=30), marks, marks)
def test_identities_hold_after_every_fill(
    tape: list[tuple[int, Side, int, D, D]], mark1: D, mark2: D
) -> None:
    p = Portfolio(AccountConfig("DU1", starting_cash=D(1000000)))
    net_qty = {1: D(0), 2: D(0)}
    for conid, side, qty, price, commission in tape:
        _book(p, _fill(conid, side, str(qty), str(price), str(commission)))
        net_qty[conid] += side.sign * qty
        for conid_, mark in ((1, mark1), (2, mark2)):
            p.mark(conid_, mark)
            assert p.net_liquidation == p.cash + p.market_value
            assert p.realized + p.unrealized == p.net_liquidation - p.deposits
            got = p.positions[conid_].quantity if conid_ in p.positions else D(0)
            assert got == net_qty[conid_]
