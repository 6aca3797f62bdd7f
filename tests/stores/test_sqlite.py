"""SqliteEventStore: real files, reopen, and a SIGKILL mid-burst losing no acknowledged order."""

from __future__ import annotations

import signal
import stat
import textwrap
from decimal import Decimal
from pathlib import Path

from tests.trading.children import start_child
from tests.trading.quotes import grid_quote

from tickgate.clock import FakeClock
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.orders import OrderStatus
from tickgate.model.ticks import Quote
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import SessionClosed
from tickgate.trading.store import MemoryEventStore

D = Decimal
AAPL = Instrument(265598, "AAPL", "APPLE INC", SecType.STK, "NASDAQ", "USD", D("0.01"), D(100), 0.2)


class Catalogue:
    def find(self, conid: int) -> Instrument | None:
        return AAPL if conid == AAPL.conid else None


class Quotes:
    def __init__(self, quote: Quote | None = None) -> None:
        self.current = quote

    def quote(self, conid: int) -> Quote | None:
        return self.current


def _engine(store: SqliteEventStore | MemoryEventStore, quotes: Quotes) -> TradingEngine:
    engine = TradingEngine(Catalogue(), quotes, store, FakeClock(), accounts=[AccountConfig("DU1")])
    engine.suppress(["o10151", "o163"])
    return engine


def test_pragmas_and_roundtrip(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "t.db")
    store.append([SessionClosed(5, {1: D("1.25")})])
    store.close()
    again = SqliteEventStore(tmp_path / "t.db")
    assert list(again.replay()) == [SessionClosed(5, {1: D("1.25")})]
    assert again._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert again._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    again.close()


def test_reopen_gives_identical_state(tmp_path: Path) -> None:
    quotes = Quotes(grid_quote(AAPL.conid, 99.99, 100.01, 100.0, 7))
    store = SqliteEventStore(tmp_path / "t.db")
    engine = _engine(store, quotes)
    commands.place(
        engine, "DU1", [{"conid": AAPL.conid, "side": "BUY", "orderType": "MKT", "quantity": 10}]
    )
    commands.place(engine, "DU1", [{"conid": AAPL.conid, "side": "SELL", "orderType": "LMT",
                          "quantity": 3, "price": 101, "tif": "GTC", "cOID": "x"}])  # fmt: skip
    store.close()
    reopened = _engine(SqliteEventStore(tmp_path / "t.db"), quotes)
    assert reopened.state.orders == engine.state.orders
    assert reopened.state.fills == engine.state.fills
    assert reopened.portfolio_of("DU1").cash == engine.portfolio_of("DU1").cash
    assert reopened.positions("DU1") == engine.positions("DU1")
    assert reopened.state.next_order_id == engine.state.next_order_id


CHILD = textwrap.dedent(
    """
    import sys
    from decimal import Decimal as D
    from tickgate.clock import FakeClock
    from tickgate.model.accounts import AccountConfig
    from tickgate.model.ticks import Quote
    from tickgate.server import rest_commands as commands
    from tickgate.trading.engine import TradingEngine
    from tickgate.stores.sqlite import SqliteEventStore
    from tests.stores.test_sqlite import AAPL, Catalogue, Quotes

    quotes = Quotes(Quote(AAPL.conid, D("99.99"), D("100.01"), D(5), D(5), D("100.00"), 0))
    engine = TradingEngine(Catalogue(), quotes, SqliteEventStore(sys.argv[1]), FakeClock(),
                           accounts=[AccountConfig("DU1")])
    engine.suppress(["o10151", "o163"])
    i = 0
    while True:
        i += 1
        side = "BUY" if i % 3 else "SELL"
        order = {"conid": AAPL.conid, "side": side, "orderType": "LMT", "quantity": 7,
                 "price": 100.01 if side == "BUY" else 99.99, "tif": "GTC", "cOID": f"c{i}"}
        [ack] = commands.place(engine, "DU1", [order])
        print(ack["order_id"], ack["order_status"], flush=True)
        q = Quote(AAPL.conid, D("99.99"), D("100.01"), D(5), D(5), D("100.00"), 0)
        engine.on_quote(AAPL.conid, q)
    """
)


def test_sigkill_mid_burst_loses_no_acknowledged_order(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    child = start_child(CHILD, db)
    assert child.stdout is not None
    acked: dict[int, str] = {}
    for line in child.stdout:
        printed_id, printed_status = line.split()
        acked[int(printed_id)] = printed_status
        if len(acked) >= 60:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    engine = _engine(SqliteEventStore(db), Quotes())
    for order_id, status in acked.items():
        assert order_id in engine.state.orders
        recovered = engine.state.orders[order_id]
        # Every acknowledged status was stored before it was printed; later fills only advance it.
        assert status != "Filled" or recovered.status is OrderStatus.FILLED
    _assert_books_balance(engine)


def _assert_books_balance(engine: TradingEngine) -> None:
    portfolio = engine.portfolio_of("DU1")
    fills = engine.state.fills
    signed = sum((f.side.sign * f.quantity for f in fills), D(0))
    assert portfolio.positions[AAPL.conid].quantity == signed
    for order in engine.state.orders.values():
        mine = [f for f in fills if f.order_id == order.order_id]
        assert sum((f.quantity for f in mine), D(0)) == order.filled_quantity
    cash = D(1000000) - sum(
        (f.side.sign * f.quantity * f.price + f.commission for f in fills), D(0)
    )
    assert portfolio.cash == cash


def test_an_existing_store_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "trading.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o644)
    SqliteEventStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
