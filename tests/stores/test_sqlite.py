"""SqliteEventStore: real files, reopen, and a SIGKILL mid-burst losing no acknowledged order."""

from __future__ import annotations

import json
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from tests.instruments import TRADED_AAPL as AAPL
from tests.trading.children import start_child
from tests.trading.quotes import QuoteBook, grid_quote

from tickgate.clock import FakeClock
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import OrderStatus
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SchemaVersionError,
    SqliteEventStore,
    StoreMigrationError,
    _columns,
)
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import (
    OrderFilled,
    OrderUpdated,
    SessionClosed,
    StoredEvent,
    encode,
)
from tickgate.trading.store import MemoryEventStore

D = Decimal


CATALOGUE = Catalogue([AAPL])


def _engine(store: SqliteEventStore | MemoryEventStore, quotes: QuoteBook) -> TradingEngine:
    engine = TradingEngine(CATALOGUE, quotes, store, FakeClock(), accounts=[AccountConfig("DU1")])
    engine.desk.suppress(["o10151", "o163"])
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
    quotes = QuoteBook(grid_quote(AAPL.conid, 99.99, 100.01, 100.0, 7))
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
    assert reopened.journal.portfolio_of("DU1").cash == engine.journal.portfolio_of("DU1").cash
    assert reopened.views.positions("DU1") == engine.views.positions("DU1")
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
    from tests.stores.test_sqlite import AAPL, CATALOGUE, QuoteBook

    quotes = QuoteBook(Quote(AAPL.conid, D("99.99"), D("100.01"), D(5), D(5), D("100.00"), 0))
    engine = TradingEngine(CATALOGUE, quotes, SqliteEventStore(sys.argv[1]), FakeClock(),
                           accounts=[AccountConfig("DU1")])
    engine.desk.suppress(["o10151", "o163"])
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
    engine = _engine(SqliteEventStore(db), QuoteBook())
    for order_id, status in acked.items():
        assert order_id in engine.state.orders
        recovered = engine.state.orders[order_id]
        # Every acknowledged status was stored before it was printed; later fills only advance it.
        assert status != "Filled" or recovered.status is OrderStatus.FILLED
    _assert_books_balance(engine)


def _assert_books_balance(engine: TradingEngine) -> None:
    portfolio = engine.journal.portfolio_of("DU1")
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


# -- schema versions and migrations ---------------------------------------------------------

#: The DDL the first tickgate ran (schema 1; it set no user_version).
V1_SCHEMA = ["CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
             " payload TEXT NOT NULL)"]  # fmt: skip
#: The DDL tickgate ran for a new file at schema 2, before migrations were functions.
V2_SCHEMA = [
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " payload TEXT NOT NULL, order_id INTEGER, ts_ns INTEGER)",
    "CREATE INDEX events_by_order ON events (order_id, seq)",
    "CREATE INDEX fills_by_time ON events (ts_ns) WHERE kind = 'OrderFilled'",
    "CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,"
    " payload TEXT NOT NULL)",
    "PRAGMA user_version = 2",
]


def _events() -> list[StoredEvent]:
    """A real day's events, made by the engine on a memory store."""
    quotes = QuoteBook(grid_quote(AAPL.conid, 99.99, 100.01, 100.0, 7))
    memory = MemoryEventStore()
    engine = _engine(memory, quotes)
    commands.place(
        engine, "DU1", [{"conid": AAPL.conid, "side": "BUY", "orderType": "MKT", "quantity": 10}]
    )
    sell = {"conid": AAPL.conid, "side": "SELL", "orderType": "LMT", "quantity": 3, "price": 101,
            "tif": "GTC"}  # fmt: skip
    [resting] = commands.place(engine, "DU1", [sell])
    engine.desk.cancel("DU1", int(resting["order_id"]))
    return list(memory.replay())


def _old_file(path: Path, schema: list[str], events: list[StoredEvent]) -> None:
    """A file as an older tickgate left it: its DDL, and its rows as it wrote them."""
    db = sqlite3.connect(str(path))
    for statement in schema:
        db.execute(statement)
    for event in events:
        kind, payload = encode(event)
        if schema is V1_SCHEMA:  # json.dumps, as the first tickgate wrote payloads
            db.execute("INSERT INTO events (kind, payload) VALUES (?, ?)",
                       (kind, json.dumps(payload)))  # fmt: skip
        else:
            order_id, ts_ns = _columns(event)
            db.execute("INSERT INTO events (kind, payload, order_id, ts_ns) VALUES (?, ?, ?, ?)",
                       (kind, json.dumps(payload), order_id, ts_ns))  # fmt: skip
    db.commit()
    db.close()


def _schema(path: Path) -> tuple[int, list[tuple[str, str]]]:
    db = sqlite3.connect(str(path))
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        objects = db.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
        columns = [row[1] for row in db.execute("PRAGMA table_info(events)")]
    finally:
        db.close()
    return version, [*objects, *(("column", c) for c in columns)]


@pytest.mark.parametrize("schema", [V1_SCHEMA, V2_SCHEMA], ids=["v1", "v2"])
def test_a_file_of_an_older_tickgate_is_brought_to_the_current_schema(
    tmp_path: Path, schema: list[str]
) -> None:
    events = _events()
    fresh = tmp_path / "fresh.db"
    SqliteEventStore(fresh).close()
    old = tmp_path / "old.db"
    _old_file(old, schema, events)
    store = SqliteEventStore(old)
    try:
        assert list(store.replay()) == events
        cancelled = events[-1]
        assert isinstance(cancelled, OrderUpdated)
        assert store.order(cancelled.order.order_id) == cancelled.order
        assert (
            [f.execution_id for f in store.fills_since(0)]
            == [e.fill.execution_id for e in events if isinstance(e, OrderFilled)]
            != []
        )
        store.save_checkpoint({"version": 1})  # the upgraded file takes a checkpoint
    finally:
        store.close()
    # Every path ends at the schema a new file gets, whatever version the file started at.
    assert _schema(old) == _schema(fresh) and _schema(old)[0] == SCHEMA_VERSION
    assert SCHEMA_VERSION == len(MIGRATIONS) == 4


def test_a_failed_upgrade_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    _old_file(old, V1_SCHEMA, _events())
    db = sqlite3.connect(str(old))
    db.execute("INSERT INTO events (kind, payload) VALUES ('OrderAccepted', '{not json')")
    db.commit()
    db.close()
    before = _schema(old)
    with pytest.raises(
        StoreMigrationError,
        match=rf"from schema version 1 to {SCHEMA_VERSION} \(step to 2: .*file is unchanged",
    ):
        SqliteEventStore(old)
    assert _schema(old) == before == (0, [("table", "events"), ("column", "seq"),
                                          ("column", "kind"), ("column", "payload")])  # fmt: skip


def test_a_file_of_a_newer_tickgate_is_refused_untouched(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    db = sqlite3.connect(str(newer))
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, what_v3_keeps BLOB)")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    newer.chmod(0o600)
    before = newer.read_bytes()
    with pytest.raises(SchemaVersionError) as refused:
        SqliteEventStore(newer)
    newer_version = SCHEMA_VERSION + 1
    assert str(refused.value).startswith(
        f"{newer}: trading store schema version {newer_version} is newer"
    )
    assert f"this tickgate's ({SCHEMA_VERSION})" in str(refused.value)
    assert newer.read_bytes() == before  # not even switched to WAL mode
    assert not newer.with_name("newer.db-wal").exists()


def test_serve_refuses_a_data_dir_of_a_newer_tickgate_by_name(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = sqlite3.connect(str(data / "trading.sqlite3"))
    db.execute("PRAGMA user_version = 7")
    db.close()
    proc = subprocess.run(
        [sys.executable, "-m", "tickgate", "--port", "0", "--no-tls", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "trading store schema version 7 is newer than this tickgate's" in proc.stderr
    assert "Traceback" not in proc.stderr
