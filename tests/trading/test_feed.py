"""QuoteFeed: the trading engine hears the ticks of the conids it has a stake in, and only those."""

from __future__ import annotations

from typing import Any

from tests.instruments import TRADED_AAPL as AAPL
from tests.instruments import stock

from tickgate.clock import FakeClock
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.engine import MarketEngine
from tickgate.model.accounts import AccountConfig
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.server import rest_commands as commands
from tickgate.trading.engine import TradingEngine
from tickgate.trading.feed import QuoteFeed
from tickgate.trading.store import MemoryEventStore

ACCT = "DU1"
IBM = stock(8314, "IBM", "INTL BUSINESS MACHINES", price="250", volatility=0.2)


def quote(market: MarketEngine, conid: int, bid: str, ask: str, size: str = "1000") -> None:
    fields = {F.BID: bid, F.ASK: ask, F.LAST: bid, F.BID_SIZE: size, F.ASK_SIZE: size}
    market.apply(Tick(conid, fields, 1))


def order(side: str, quantity: int, **more: Any) -> dict[str, Any]:
    return {"conid": AAPL.conid, "side": side, "quantity": quantity, **more}


def build(store: MemoryEventStore) -> tuple[MarketEngine, TradingEngine, QuoteFeed]:
    catalogue = Catalogue([AAPL, IBM])
    market = MarketEngine(catalogue)
    trading = TradingEngine(catalogue, market, store, FakeClock(), accounts=[AccountConfig(ACCT)])
    trading.desk.suppress(["o10151", "o163"])
    return market, trading, QuoteFeed(trading, market)


def test_a_working_order_or_a_position_is_watched_and_nothing_else() -> None:
    market, trading, feed = build(MemoryEventStore())
    quote(market, AAPL.conid, "99.00", "99.02")
    quote(market, IBM.conid, "250.00", "250.02")
    assert (market.watchers(AAPL.conid), market.watchers(IBM.conid)) == (0, 0)
    [ack] = commands.place(trading, ACCT, [order("BUY", 10, orderType="LMT", price=98)])
    assert feed.watched == {AAPL.conid} and market.watchers(AAPL.conid) == 1
    quote(market, AAPL.conid, "97.90", "98.00")  # the tick reaches the order: it fills
    assert trading.views.order_status(int(ack["order_id"]))["order_status"] == "Filled"
    assert market.watchers(AAPL.conid) == 1  # now for the position
    commands.place(trading, ACCT, [order("SELL", 10, orderType="MKT")])
    assert feed.watched == set() and market.watchers(AAPL.conid) == 0  # flat, nothing working
    assert market.watchers(IBM.conid) == 0


def test_a_restarted_feed_watches_what_the_store_restored() -> None:
    store = MemoryEventStore()
    market, trading, _ = build(store)
    quote(market, AAPL.conid, "99.00", "99.02")
    [ack] = commands.place(trading, ACCT, [order("BUY", 10, orderType="LMT", price=98)])
    market, trading, feed = build(store)
    assert feed.watched == {AAPL.conid} and market.watchers(AAPL.conid) == 1
    quote(market, AAPL.conid, "97.90", "98.00")
    assert trading.views.order_status(int(ack["order_id"]))["order_status"] == "Filled"
