"""Trading in other currencies than the account's: cash per currency, figures in the base
currency at the simulated FX rates, commissions in the instrument's currency, currency
conversions (`isCcyConv`), and all of it rebuilt from the store (also after a SIGKILL)."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.trading.children import start_child
from tests.trading.quotes import grid_quote

from tickgate.clock import FakeClock
from tickgate.market.engine import MarketListener
from tickgate.market.fx import FxRates, pairs
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.ticks import Quote
from tickgate.protocol import fields as F
from tickgate.protocol.rest import accounts as shapes
from tickgate.server import rest_commands as commands
from tickgate.server.cluster.account_wire import decode_event, encode_event
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.checkpoint import encode_state, restore_state
from tickgate.trading.engine import TradingEngine
from tickgate.trading.errors import OrderRejected
from tickgate.trading.events import PnlChanged
from tickgate.trading.feed import QuoteFeed
from tickgate.trading.store import EventStore, MemoryEventStore

D = Decimal
ACCT = "DU1"
#: A stock quoted in euros (a tickgate test instrument, not a real listing).
EURSTK = Instrument(9001, "EURSTK", "EURO STOCK AG", SecType.STK, "IBIS", "EUR", D("0.01"),
                    D(100), 0.2)  # fmt: skip
#: IBKR's real EUR.USD pair (conid 12087792), as the catalogue's forex file names it.
EURUSD = Instrument(12087792, "EUR.USD", "EURO / US DOLLAR", SecType.CASH, "IDEALPRO", "USD",
                    D("0.00005"), D("1.16"), 0.08)  # fmt: skip
#: A stock in a currency no pair links to the dollar.
MXNSTK = Instrument(9002, "MXNSTK", "PESO SA", SecType.STK, "MEXI", "MXN", D("0.01"), D(50), 0.2)
USDSTK = Instrument(9003, "USDSTK", "DOLLAR INC", SecType.STK, "NASDAQ", "USD", D("0.01"),
                    D(100), 0.2)  # fmt: skip
INSTRUMENTS = {i.conid: i for i in (EURSTK, EURUSD, MXNSTK, USDSTK)}


class Catalogue:
    def find(self, conid: int) -> Instrument | None:
        return INSTRUMENTS.get(conid)


class Quotes:
    """Quotes by conid, and the conids a quote feed watches."""

    def __init__(self) -> None:
        self.book: dict[int, Quote] = {}
        self.watchers: dict[int, MarketListener] = {}

    def quote(self, conid: int) -> Quote | None:
        return self.book.get(conid)

    def watch(self, conid: int, listener: MarketListener, *, name: str | None = None) -> None:
        self.watchers[conid] = listener

    def unwatch(self, conid: int, listener: MarketListener) -> None:
        del self.watchers[conid]


def build(store: EventStore, quotes: Quotes, clock: FakeClock | None = None) -> TradingEngine:
    rates = FxRates(INSTRUMENTS.values(), quotes)
    accounts = [AccountConfig(ACCT, starting_cash=D(100_000))]
    engine = TradingEngine(
        Catalogue(), quotes, store, clock or FakeClock(), accounts=accounts, rates=rates
    )
    engine.desk.suppress(["o10151", "o163"])
    return engine


def quote(engine: TradingEngine, quotes: Quotes, inst: Instrument, bid: str, ask: str) -> None:
    last = str((D(bid) + D(ask)) / 2)
    q = grid_quote(inst.conid, bid, ask, last, 100_000, min_tick=inst.min_tick)
    quotes.book[inst.conid] = q
    engine.on_quote(inst.conid, q)


def order(inst: Instrument, side: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {"conid": inst.conid, "side": side, "orderType": "MKT", "quantity": quantity,
            "tif": "DAY", **extra}  # fmt: skip


def market(store: EventStore | None = None) -> tuple[TradingEngine, Quotes]:
    quotes = Quotes()
    engine = build(MemoryEventStore() if store is None else store, quotes)
    quote(engine, quotes, EURUSD, "1.19990", "1.20010")  # mid 1.2000 dollars a euro
    quote(engine, quotes, EURSTK, "99.99", "100.01")
    return engine, quotes


def buy_ten(engine: TradingEngine, quotes: Quotes) -> None:
    """Buy 10 EURSTK at 100.01 EUR, then mark them at the last, 100.00."""
    commands.place(engine, ACCT, [order(EURSTK, "BUY", 10)])
    quote(engine, quotes, EURSTK, "99.99", "100.01")


def test_a_fill_in_euros_settles_in_euros_and_the_account_values_it_in_dollars() -> None:
    engine, quotes = market()
    buy_ten(engine, quotes)
    portfolio = engine.journal.portfolio_of(ACCT)
    # The USD 1.00 minimum in euros at 1.2000: 0.8333 -> 0.83 EUR, charged in euros.
    [fill] = engine.state.fills
    assert fill.price == D("100.01") and fill.commission == D("0.83")
    assert portfolio.books["EUR"].cash == D("-1000.93")
    assert portfolio.books["USD"].cash == D(100_000)
    assert portfolio.positions[EURSTK.conid].currency == "EUR"
    # Base figures: euros at the mid, the position at its mark (the last, 100.00).
    assert portfolio.cash == D(100_000) - D("1000.93") * D("1.2")
    assert portfolio.market_value == D(1000) * D("1.2")
    assert portfolio.initial_margin == D(1000) * D("1.2") * D("0.5")


def test_the_ledger_has_a_line_per_currency_and_base_totals_at_the_rate() -> None:
    engine, quotes = market()
    buy_ten(engine, quotes)
    ledger = engine.views.ledger(ACCT)
    assert list(ledger) == ["USD", "EUR", "BASE"]
    eur, usd, base = ledger["EUR"], ledger["USD"], ledger["BASE"]
    assert eur["currency"] == eur["secondkey"] == "EUR" and eur["exchangerate"] == 1.2
    assert eur["cashbalance"] == eur["settledcash"] == -1000.93
    assert eur["stockmarketvalue"] == 1000.0 and eur["netliquidationvalue"] == -0.93
    assert eur["commissions"] == 0.83 and eur["endofbundle"] == 1
    assert usd["cashbalance"] == 100_000.0 and usd["exchangerate"] == 1.0
    assert base["currency"] == base["secondkey"] == "BASE" and "endofbundle" not in base
    assert base["cashbalance"] == float(D(100_000) - D("1000.93") * D("1.2"))
    assert base["stockmarketvalue"] == 1200.0
    assert base["netliquidationvalue"] == float(D(100_000) - D("0.93") * D("1.2"))
    for key in ("key", "acctcode", "timestamp", "severity", "sessionid", "dividends"):
        assert key in eur and key in base  # IBKR's members, zero where nothing is simulated


def test_a_move_of_the_rate_moves_the_base_figures_not_the_books() -> None:
    engine, quotes = market()
    buy_ten(engine, quotes)
    portfolio = engine.journal.portfolio_of(ACCT)
    before = portfolio.net_liquidation
    quote(engine, quotes, EURUSD, "1.09990", "1.10010")  # the euro falls to 1.1000
    assert portfolio.books["EUR"].cash == D("-1000.93")
    assert portfolio.net_liquidation == D(100_000) - D("0.93") * D("1.1")
    assert portfolio.net_liquidation - before == D("0.93") * D("0.1")
    [row] = engine.views.positions(ACCT)
    assert row["currency"] == "EUR" and row["mktValue"] == 1000.0
    assert row["baseMktValue"] == 1100.0 and row["baseMktPrice"] == 110.0


def test_a_conversion_moves_cash_between_the_pair_and_opens_no_position() -> None:
    engine, _ = market()
    [ack] = commands.place(engine, ACCT, [order(EURUSD, "BUY", 1000, isCcyConv=True)])
    assert ack["order_status"] == "Filled"
    portfolio = engine.journal.portfolio_of(ACCT)
    [fill] = engine.state.fills
    assert fill.price == D("1.20010")
    # Shares-like commission in dollars: 0.005 x 1000 = 5.00 (above the minimum, under 1%).
    assert fill.commission == D("5.00")
    assert portfolio.books["EUR"].cash == D(1000)
    assert portfolio.books["USD"].cash == D(100_000) - D("1200.10") - D("5.00")
    assert portfolio.positions == {}
    commands.place(engine, ACCT, [order(EURUSD, "SELL", 400, isCcyConv=True)])
    assert portfolio.books["EUR"].cash == D(600)
    assert portfolio.books["USD"].cash == D(100_000) - D("1205.10") + D("479.96") - D("2.00")


def test_an_fx_order_without_isccyconv_still_opens_a_position() -> None:
    engine, _ = market()
    commands.place(engine, ACCT, [order(EURUSD, "BUY", 1000)])
    assert engine.journal.portfolio_of(ACCT).positions[EURUSD.conid].quantity == 1000


def test_refusals_name_the_problem_and_store_nothing() -> None:
    store = MemoryEventStore()
    engine, quotes = market(store)
    quote(engine, quotes, MXNSTK, "49.99", "50.01")
    with pytest.raises(OrderRejected, match="no simulated exchange rate links MXN to USD"):
        commands.place(engine, ACCT, [order(MXNSTK, "BUY", 1)])
    with pytest.raises(OrderRejected, match="isCcyConv converts currencies through an FX pair"):
        commands.place(engine, ACCT, [order(EURSTK, "BUY", 1, isCcyConv=True)])
    with pytest.raises(OrderRejected, match="fxQty"):
        commands.place(engine, ACCT, [order(EURUSD, "BUY", 1, isCcyConv=True, fxQty=100)])
    with pytest.raises(OrderRejected, match="insufficient buying power"):
        commands.place(engine, ACCT, [order(EURUSD, "BUY", 90_000, isCcyConv=True)])
    assert len(store) == 0


def test_a_restart_rebuilds_every_currency_from_the_events_and_the_checkpoint() -> None:
    store = MemoryEventStore()
    engine, quotes = market(store)
    commands.place(engine, ACCT, [order(EURUSD, "BUY", 2000, isCcyConv=True)])
    commands.place(engine, ACCT, [order(EURSTK, "BUY", 10)])
    replayed = build(store, quotes)
    mine, theirs = engine.journal.portfolio_of(ACCT), replayed.journal.portfolio_of(ACCT)
    assert theirs.books == mine.books and theirs.positions == mine.positions
    same = AccountConfig(ACCT, starting_cash=D(100_000))
    restored = restore_state(encode_state(engine.state), [same], engine.rates).portfolios[ACCT]
    assert restored.books == mine.books and restored.positions == mine.positions
    assert restored.net_liquidation == mine.net_liquidation
    # Another configured starting cash shifts the base currency's cash only.
    richer = restore_state(encode_state(engine.state), [AccountConfig(ACCT)], engine.rates)
    assert richer.portfolios[ACCT].books["EUR"] == mine.books["EUR"]
    assert richer.portfolios[ACCT].net_liquidation == mine.net_liquidation + D(900_000)


def test_a_version_1_checkpoint_is_read_as_all_base_currency() -> None:
    engine, _ = market()
    commands.place(engine, ACCT, [order(EURSTK, "BUY", 1)])  # anything, for a document shape
    document = encode_state(engine.state)
    saved = document["portfolios"][ACCT]
    old = {"cash": "99000.5", "deposits": "100000", "commissions": "1.5", "realized": "2",
           "session_open": "100000", "positions": [
               [USDSTK.conid, "STK", 1, "10", "1000", "0", "100"]]}  # fmt: skip
    document["version"] = 1
    document["portfolios"][ACCT] = old
    assert "books" in saved
    restored = restore_state(document, [AccountConfig(ACCT, starting_cash=D(100_000))])
    portfolio = restored.portfolios[ACCT]
    assert set(portfolio.books) == {"USD"}
    assert portfolio.books["USD"].cash == D("99000.5")
    assert portfolio.commissions == D("1.5") and portfolio.realized == D(2)
    assert portfolio.positions[USDSTK.conid].currency == "USD"


def test_the_rest_shape_of_an_account_without_rates_is_one_currency() -> None:
    engine = TradingEngine(Catalogue(), Quotes(), MemoryEventStore(), FakeClock(),
                           accounts=[AccountConfig(ACCT)])  # fmt: skip
    ledger = shapes.ledger(engine.journal.portfolio_of(ACCT), 0)
    assert list(ledger) == ["USD", "BASE"]
    assert ledger["USD"]["cashbalance"] == ledger["BASE"]["cashbalance"] == 1_000_000.0


CHILD = """
import sys
sys.path.insert(0, sys.argv[2] + "/../..")
from tests.trading.test_currencies import ACCT, EURSTK, EURUSD, build, market, order, quote
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SqliteEventStore

engine, quotes = market(SqliteEventStore(sys.argv[1]))
i = 0
while True:
    i += 1
    conversion = i % 2 == 0
    side = "BUY" if i % 3 else "SELL"
    inst = EURUSD if conversion else EURSTK
    qty = 100 if conversion else 1
    [ack] = commands.place(engine, ACCT, [order(inst, side, qty, isCcyConv=conversion)])
    print(ack["order_id"], ack["order_status"], flush=True)
    quote(engine, quotes, EURUSD, "1.19990", "1.20010")
"""


def test_sigkill_mid_burst_loses_no_currency_of_an_acknowledged_fill(tmp_path: Path) -> None:
    db = tmp_path / "currencies.db"
    child = start_child(CHILD, db)
    assert child.stdout is not None
    acked = {}
    for line in child.stdout:
        printed_id, status = line.split()
        acked[int(printed_id)] = status
        if len(acked) >= 40:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    engine = build(SqliteEventStore(db), Quotes())
    fills = engine.state.fills
    assert all(engine.state.orders[i].status.value == "Filled" for i in acked)
    portfolio = engine.journal.portfolio_of(ACCT)
    stock = [f for f in fills if f.conid == EURSTK.conid]
    conversions = [f for f in fills if f.conid == EURUSD.conid]
    eur = sum((-f.side.sign * f.quantity * f.price - f.commission for f in stock), D(0))
    eur += sum((f.side.sign * f.quantity for f in conversions), D(0))
    usd = D(100_000) - sum(
        (f.side.sign * f.quantity * f.price + f.commission for f in conversions), D(0)
    )
    assert portfolio.books["EUR"].cash == eur and portfolio.books["USD"].cash == usd
    held = sum((f.side.sign * f.quantity for f in stock), D(0))
    assert portfolio.positions[EURSTK.conid].quantity == held


def test_a_move_of_a_held_currencys_rate_publishes_the_new_figures() -> None:
    engine, quotes = market()
    QuoteFeed(engine, quotes, pairs=pairs(INSTRUMENTS.values()))
    assert EURUSD.conid not in quotes.watchers  # no euros held yet
    published: list[PnlChanged] = []
    engine.journal.add_listener(
        lambda e: published.append(e) if isinstance(e, PnlChanged) else None
    )
    buy_ten(engine, quotes)
    assert EURUSD.conid in quotes.watchers
    before = engine.journal.portfolio_of(ACCT).net_liquidation
    published.clear()
    q = grid_quote(EURUSD.conid, "1.09990", "1.10010", "1.10000", 1000, min_tick=EURUSD.min_tick)
    quotes.book[EURUSD.conid] = q
    quotes.watchers[EURUSD.conid](EURUSD.conid, {F.BID: "1.09990", F.ASK: "1.10010"}, 0)
    [event] = published
    assert event.net_liquidation - before == D("0.93") * D("0.1")  # the euro debt shrank
    assert event.net_liquidation == D(100_000) - D("0.93") * D("1.1")


def test_a_pnl_event_with_its_currencies_crosses_the_cluster_wire_exactly() -> None:
    engine, quotes = market()
    buy_ten(engine, quotes)
    event = engine.views.pnl_event(ACCT)
    assert [line.currency for line in event.currencies] == ["USD", "EUR"]
    seq, decoded = decode_event(encode_event(7, event))
    assert seq == 7 and decoded == event
