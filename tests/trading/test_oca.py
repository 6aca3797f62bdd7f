"""One-cancels-all groups as IBKR's Client Portal places them: the orders of one placement that
set `isSingleGroup` form one group with one `oca_group_id`; a fill of one cancels the rest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.trading.quotes import grid_quote

from tickgate.clock import FakeClock
from tickgate.errors import RequestError
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.orders import OrderStatus
from tickgate.model.ticks import Quote
from tickgate.server import rest_commands as commands
from tickgate.trading.engine import TradingEngine
from tickgate.trading.store import MemoryEventStore

D = Decimal
ACCT = "DU1"
STK = Instrument(9201, "OCA", "OCA INC", SecType.STK, "NASDAQ", "USD", D("0.01"), D(100), 0.2)


class Catalogue:
    def find(self, conid: int) -> Instrument | None:
        return STK if conid == STK.conid else None


class Quotes:
    def __init__(self) -> None:
        self.book: dict[int, Quote] = {}

    def quote(self, conid: int) -> Quote | None:
        return self.book.get(conid)


def engine_and_quotes() -> tuple[TradingEngine, Quotes]:
    quotes = Quotes()
    engine = TradingEngine(Catalogue(), quotes, MemoryEventStore(), FakeClock(),
                           accounts=[AccountConfig(ACCT)])  # fmt: skip
    engine.desk.suppress(["o10151", "o163"])
    return engine, quotes


def tick(engine: TradingEngine, quotes: Quotes, bid: str, ask: str) -> None:
    quote = grid_quote(STK.conid, bid, ask, bid, 1000)
    quotes.book[STK.conid] = quote
    engine.on_quote(STK.conid, quote)


def limit(side: str, price: str, **extra: Any) -> dict[str, Any]:
    return {"conid": STK.conid, "side": side, "orderType": "LMT", "quantity": 10,
            "price": price, "tif": "GTC", **extra}  # fmt: skip


def test_a_fill_in_the_group_cancels_the_rest_and_spares_other_orders() -> None:
    engine, quotes = engine_and_quotes()
    tick(engine, quotes, "99.00", "101.00")
    acks = commands.place(engine, ACCT, [
        limit("BUY", "98.00", isSingleGroup=True),
        limit("BUY", "97.00", isSingleGroup=True),
        limit("BUY", "96.00"),
    ])  # fmt: skip
    first, second, alone = (int(a["order_id"]) for a in acks)
    statuses = [engine.views.order_status(i) for i in (first, second, alone)]
    assert statuses[0]["oca_group_id"] == statuses[1]["oca_group_id"] == str(first)
    assert statuses[2]["oca_group_id"] is None
    tick(engine, quotes, "96.50", "97.50")  # reaches the first group order's limit
    orders = engine.state.orders
    assert orders[first].status is OrderStatus.FILLED
    assert orders[second].status is OrderStatus.CANCELLED
    assert orders[alone].is_working
    tick(engine, quotes, "95.00", "96.00")
    assert orders[second].status is OrderStatus.CANCELLED  # a cancelled sibling stays so
    assert orders[alone].status is OrderStatus.FILLED


def test_groups_of_two_placements_are_two_groups() -> None:
    engine, quotes = engine_and_quotes()
    tick(engine, quotes, "99.00", "101.00")
    [a] = commands.place(engine, ACCT, [limit("BUY", "98.00", isSingleGroup=True)])
    [b] = commands.place(engine, ACCT, [limit("BUY", "96.00", isSingleGroup=True)])
    tick(engine, quotes, "97.00", "97.90")
    assert engine.state.orders[int(a["order_id"])].status is OrderStatus.FILLED
    assert engine.state.orders[int(b["order_id"])].is_working


def test_a_bracket_childs_group_is_not_shown_as_a_users_group() -> None:
    engine, quotes = engine_and_quotes()
    tick(engine, quotes, "99.00", "101.00")
    parent = limit("BUY", "98.00", cOID="p")
    child = limit("SELL", "110.00", parentId="p")
    [_, kid] = commands.place(engine, ACCT, [parent, child])
    assert engine.views.order_status(int(kid["order_id"]))["oca_group_id"] is None


def test_a_malformed_flag_is_a_400_naming_it() -> None:
    engine, _ = engine_and_quotes()
    with pytest.raises(RequestError, match="isSingleGroup"):
        commands.place(engine, ACCT, [limit("BUY", "98.00", isSingleGroup="maybe")])
