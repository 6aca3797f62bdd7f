"""Account frames are rendered forward: from the event and the catalogue, never the engine."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import orjson
from tests.dialects.conftest import Engines

from tickgate.dialects.account_frames import (
    api_notices_renderer,
    api_orders_renderer,
    portal_renderer,
)
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tickgate.trading.events import OrderAccepted, OrderFilled, PnlChanged, SessionClosed
from tickgate.trading.portfolio import Portfolio

ACCT, AAPL = "DU1234567", 265598


def order(status: OrderStatus = OrderStatus.SUBMITTED, account: str = ACCT) -> Order:
    return Order(
        order_id=7,
        account=account,
        conid=AAPL,
        side=Side.BUY,
        order_type=OrderType.LMT,
        quantity=D(10),
        tif=TimeInForce.DAY,
        status=status,
        created_ns=1,
        updated_ns=1,
        price=D("189.50"),
    )


def test_portal_frames_come_from_the_event_and_the_catalogue(engines: Engines) -> None:
    render = portal_renderer(engines.gateway.catalogue, ACCT)
    frame = orjson.loads(render(OrderAccepted(order())) or b"")
    assert frame["topic"] == f"realtime-account-data+{ACCT}"
    [row] = frame["orders"]
    assert row["orderId"] == 7 and row["ticker"] == "AAPL"
    assert render(OrderAccepted(order(account="DU0000002"))) is None
    figures = PnlChanged.of(Portfolio(AccountConfig(ACCT)))
    pnl = dataclasses.replace(figures, daily=D(1), unrealized=D(2), excess_liquidity=D(900))
    assert orjson.loads(render(pnl) or b"")["pnl"][f"{ACCT}.Core"]["dpl"] == 1.0


def test_api_order_filters_and_notices(engines: Engines) -> None:
    catalogue = engines.gateway.catalogue
    filled = api_orders_renderer(catalogue, ("filled",))
    assert filled(OrderAccepted(order())) is None
    assert (
        orjson.loads(api_orders_renderer(catalogue, ())(OrderAccepted(order())) or b"")["topic"]
        == "sor"
    )
    fill = Fill(
        execution_id="e1",
        order_id=7,
        account=ACCT,
        conid=AAPL,
        side=Side.BUY,
        quantity=D(10),
        price=D("189.50"),
        commission=D(1),
        ts_ns=5,
    )
    notices = api_notices_renderer(catalogue)
    [notice] = orjson.loads(notices(OrderFilled(order(OrderStatus.FILLED), fill)) or b"")["args"]
    assert notice["text"] == "Bought 10 AAPL @ 189.5"
    closed = orjson.loads(notices(SessionClosed(ts_ns=2_000_000_000, closes={})) or b"")
    assert closed["topic"] == "blt" and closed["args"]["id"] == "session-close-2"
