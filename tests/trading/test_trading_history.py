"""History leaves the hot state but stays queryable; restarts load a checkpoint, not the log.

Real engine on real SQLite files (and the memory store), in-test catalogue, fake clock.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.instruments import TRADED_AAPL as AAPL
from tests.trading.quotes import QuoteBook, grid_quote

from tickgate.clock import FakeClock
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import OrderStatus
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SCHEMA_VERSION, SchemaVersionError, SqliteEventStore
from tickgate.trading import sessions
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import encode
from tickgate.trading.store import EventStore, MemoryEventStore

D = Decimal
ACCT = "DU1"
DAY_S = 86_400


CATALOGUE = Catalogue([AAPL])


def _engine(store: EventStore, clock: FakeClock, quotes: QuoteBook | None = None) -> TradingEngine:
    engine = TradingEngine(
        CATALOGUE, quotes or QuoteBook(), store, clock, accounts=[AccountConfig(ACCT)]
    )
    engine.desk.suppress(["o163", "o354", "o10151"])
    return engine


def _quote(engine: TradingEngine, bid: float, ask: float, last: float, conid: int = AAPL.conid,
           size: int = 1000) -> None:  # fmt: skip
    quote = grid_quote(conid, bid, ask, last, size)
    assert isinstance(engine.quotes, QuoteBook)
    engine.quotes.show(quote)
    engine.on_quote(conid, quote)


def _order(side: str, order_type: str, qty: int, **kw: Any) -> dict[str, Any]:
    return {"conid": AAPL.conid, "side": side, "orderType": order_type, "quantity": qty, **kw}


def _place(engine: TradingEngine, **order: Any) -> int:
    [ack] = commands.place(engine, ACCT, [order])
    return int(ack["order_id"])


def _day_of_trading(engine: TradingEngine) -> tuple[int, int, int]:
    """A filled market buy, a cancelled limit and a GTC limit that rests: (filled, cancelled,
    resting) order ids."""
    _quote(engine, 99.99, 100.01, 100.0)
    filled = _place(engine, **_order("BUY", "MKT", 10))
    cancelled = _place(engine, **_order("BUY", "LMT", 5, price=90, tif="DAY"))
    engine.desk.cancel(ACCT, cancelled)
    resting = _place(engine, **_order("SELL", "LMT", 4, price=105, tif="GTC", cOID="keep"))
    return filled, cancelled, resting


def test_session_close_sets_the_finished_day_aside_but_keeps_it_queryable(tmp_path: Path) -> None:
    clock = FakeClock()
    engine = _engine(SqliteEventStore(tmp_path / "t.db"), clock)
    filled, cancelled, resting = _day_of_trading(engine)
    clock.advance(seconds=3600)
    engine.close_session()
    clock.advance(seconds=3600)

    assert set(engine.state.orders) == {resting}  # the hot state: what still works
    assert engine.state.fills == []
    assert [int(r["orderId"]) for r in engine.views.orders()["orders"]] == [resting]
    assert engine.views.order_status(filled)["order_status"] == "Filled"  # from the store
    assert engine.views.order_status(cancelled)["order_status"] == "Cancelled"
    assert engine.views.trades(days=1)[0]["order_ref"] == str(
        filled
    )  # within the last 24 h: from the store
    assert [t["order_ref"] for t in engine.views.trades(days=2)] == [str(filled)]
    assert engine.views.positions(ACCT)[0]["position"] == 10.0
    # The resting order still trades; its next fill continues its own execution numbering.
    _quote(engine, 104.99, 105.00, 105.0, size=2)
    assert engine.views.order_status(resting)["cum_fill"] == "2"
    _quote(engine, 104.99, 105.00, 105.0, size=5)
    executions = sorted(f.execution_id for f in engine.views.fills_since(0))
    assert [e.split(".")[1] for e in executions[-2:]] == ["00000001", "00000002"]


def test_restart_restores_the_checkpoint_and_replays_only_what_came_after(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SqliteEventStore(tmp_path / "t.db")
    engine = _engine(store, clock)
    _day_of_trading(engine)
    clock.advance(seconds=3600)
    engine.close_session()
    clock.advance(seconds=60)
    late = _place(engine, **_order("BUY", "LMT", 1, price=50, tif="GTC"))
    store.close()

    reopened_store = SqliteEventStore(tmp_path / "t.db")
    checkpoint, after = reopened_store.restore()
    assert checkpoint is not None
    assert [e.order.order_id for e in after] == [late]  # type: ignore[union-attr]
    reopened = _engine(reopened_store, clock)
    assert reopened.state.orders == engine.state.orders
    assert reopened.state.tallies == engine.state.tallies
    assert reopened.state.next_order_id == engine.state.next_order_id
    assert reopened.views.positions(ACCT) == engine.views.positions(ACCT)
    assert reopened.views.summary(ACCT) == engine.views.summary(ACCT)
    assert reopened.journal.portfolio_of(ACCT).cash == engine.journal.portfolio_of(ACCT).cash
    with pytest.raises(Exception, match="already registered"):  # today's client ids survive
        commands.place(reopened, ACCT, [_order("BUY", "LMT", 1, price=50, cOID="keep")])


def test_checkpoint_follows_a_changed_starting_cash() -> None:
    clock, store = FakeClock(), MemoryEventStore()
    engine = _engine(store, clock)
    _day_of_trading(engine)
    engine.close_session()
    richer = TradingEngine(CATALOGUE, QuoteBook(), store, clock,
                           accounts=[AccountConfig(ACCT, starting_cash=D(2_000_000))])  # fmt: skip
    before = engine.journal.portfolio_of(ACCT).cash
    assert richer.journal.portfolio_of(ACCT).cash == before + D(1_000_000)
    daily = engine.journal.portfolio_of(ACCT).daily_pnl
    assert richer.journal.portfolio_of(ACCT).daily_pnl == daily


def _version_1_file(path: Path, engine: TradingEngine, store: MemoryEventStore) -> None:
    """The file an earlier tickgate wrote: one events table, no columns, no user_version."""
    db = sqlite3.connect(str(path))
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
               " payload TEXT NOT NULL)")  # fmt: skip
    rows = [(k, json.dumps(p)) for k, p in map(encode, store.replay())]
    db.executemany("INSERT INTO events (kind, payload) VALUES (?, ?)", rows)
    db.commit()
    db.close()


def test_a_version_1_data_file_is_migrated_and_answers_the_same(tmp_path: Path) -> None:
    clock, memory = FakeClock(), MemoryEventStore()
    engine = _engine(memory, clock)
    filled, cancelled, resting = _day_of_trading(engine)
    clock.advance(seconds=3600)
    engine.close_session()
    _version_1_file(tmp_path / "old.db", engine, memory)

    migrated = SqliteEventStore(tmp_path / "old.db")
    assert migrated._db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert list(migrated.replay()) == list(memory.replay())
    assert migrated.order(cancelled) == memory.order(cancelled)
    assert migrated.fills_since(0) == memory.fills_since(0) != []
    reopened = _engine(migrated, clock)
    assert reopened.state.orders == engine.state.orders
    assert reopened.views.order_status(filled) == engine.views.order_status(filled)
    assert reopened.views.positions(ACCT) == engine.views.positions(ACCT)
    migrated.close()
    assert SqliteEventStore(tmp_path / "old.db").order(resting) is not None  # opens again


def test_a_file_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(str(tmp_path / "new.db"))
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(SchemaVersionError, match="version 99 is newer"):
        SqliteEventStore(tmp_path / "new.db")


def test_a_long_replay_leaves_a_checkpoint_for_the_next_start() -> None:
    clock, store = FakeClock(), MemoryEventStore()
    engine = _engine(store, clock)
    _quote(engine, 99.99, 100.01, 100.0)
    for _ in range(3):
        for _ in range(200):
            engine.desk.cancel(ACCT, _place(engine, **_order("BUY", "LMT", 1, price=90, tif="GTC")))
        clock.advance(seconds=DAY_S)
        engine.close_session()
        store._checkpoint = None  # as an old data dir: history without a checkpoint
    reopened = _engine(store, clock)  # replays 1,200+ events, keeps ~0 in the hot state
    checkpoint, after = store.restore()
    assert checkpoint is not None and list(after) == []
    assert reopened.state.orders == {} == engine.state.orders
    assert reopened.state.next_order_id == engine.state.next_order_id


def test_bracket_child_of_a_parent_filled_on_an_earlier_day_still_works() -> None:
    clock = FakeClock()
    engine = _engine(MemoryEventStore(), clock)
    _quote(engine, 99.99, 100.01, 100.0)
    [parent, child] = commands.place(engine, ACCT, [
        _order("BUY", "LMT", 10, price=100.01, tif="GTC", cOID="p"),
        _order("SELL", "LMT", 10, price=110, tif="GTC", parentId="p"),
    ])  # fmt: skip
    assert parent["order_status"] == "Filled"
    clock.advance(seconds=DAY_S)
    engine.close_session()
    _quote(engine, 109.99, 110.0, 110.0)
    assert engine.views.order_status(int(child["order_id"]))["order_status"] == "Filled"
    assert engine.state.orders[int(child["order_id"])].status is OrderStatus.FILLED


def test_a_set_aside_orders_coid_stays_taken_for_24_hours_also_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    engine = _engine(SqliteEventStore(tmp_path / "t.db"), clock)
    _quote(engine, 99.99, 100.01, 100.0)
    _place(engine, **_order("BUY", "MKT", 1, cOID="once"))  # fills: not working
    clock.advance(seconds=3600)
    engine.close_session()
    engine.store.close()
    reopened = _engine(SqliteEventStore(tmp_path / "t.db"), clock, engine.quotes)  # type: ignore[arg-type]
    assert reopened.state.orders == {}
    with pytest.raises(Exception, match="already registered"):
        commands.place(reopened, ACCT, [_order("BUY", "LMT", 1, price=90, cOID="once")])
    clock.advance(seconds=DAY_S)
    [ack] = commands.place(reopened, ACCT, [_order("BUY", "LMT", 1, price=90, cOID="once")])
    assert ack["order_status"] == "Submitted"


def test_a_close_missed_while_down_is_caught_up_when_the_orders_were_set_aside() -> None:
    clock, store = FakeClock(), MemoryEventStore()
    engine = _engine(store, clock)
    _quote(engine, 99.99, 100.01, 100.0)
    _place(engine, **_order("BUY", "MKT", 1))
    engine.close_session(clock.now_ns() + 1)  # the filled order leaves the hot state
    clock.advance(seconds=7 * DAY_S)  # down over later closes, with nothing in memory
    restarted = _engine(store, clock)
    assert restarted.state.orders == {}
    assert restarted.state.has_orders_before(clock.now_ns())
    assert sessions.catch_up(restarted, clock.now_ns()) is True
