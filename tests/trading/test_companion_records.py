"""Records that belong to an event are stored in the event's own transaction: a close's daily
value, a fill's (and a close's) FYI notification. A store that fails the append keeps neither,
and a SIGKILL right after the event's commit finds both on disk."""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.trading.children import start_child
from tests.trading.quotes import grid_quote

from tickgate.clock import FakeClock
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.ticks import Quote
from tickgate.server import rest_commands as commands
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading import fyi as F
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import OrderFilled, SessionClosed, StoredEvent
from tickgate.trading.fyi import FyiCenter
from tickgate.trading.store import Documents, MemoryEventStore

D = Decimal
ACCT = "DU1"
STK = Instrument(9101, "STK", "A STOCK", SecType.STK, "NASDAQ", "USD", D("0.01"), D(100), 0.2)
#: Wednesday 2026-01-14 21:00 UTC, after the New York close.
CLOSE_NS = 1_768_424_400_000_000_000


class Catalogue:
    def find(self, conid: int) -> Instrument | None:
        return STK if conid == STK.conid else None


class Quotes:
    def __init__(self) -> None:
        self.book: dict[int, Quote] = {}

    def quote(self, conid: int) -> Quote | None:
        return self.book.get(conid)


class Watched(MemoryEventStore):
    """A memory store that records each append and may refuse the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[tuple[list[StoredEvent], list[DailyValue], Documents]] = []
        self.separate_days = 0
        self.fail_next = False

    def append(self, events: Sequence[StoredEvent], *, daily_values: Sequence[DailyValue] = (),
               documents: Documents | None = None) -> None:  # fmt: skip
        if self.fail_next:
            self.fail_next = False
            raise OSError("disk full")
        super().append(events, daily_values=daily_values, documents=documents)
        self.appends.append((list(events), list(daily_values), documents or {}))

    def save_daily_values(self, values: Sequence[DailyValue]) -> None:
        self.separate_days += 1
        super().save_daily_values(values)


def build(
    store: Any, *, defer: Callable[[Callable[[], None]], None]
) -> tuple[TradingEngine, FyiCenter]:
    clock = FakeClock(CLOSE_NS - 3_600_000_000_000)
    engine = TradingEngine(Catalogue(), Quotes(), store, clock, accounts=[AccountConfig(ACCT)])
    engine.desk.suppress(["o10151", "o163"])
    fyi = FyiCenter(store, clock=clock, describe_fill=lambda e: "filled", defer=defer)
    engine.journal.add_listener(fyi.on_trading_event)
    engine.journal.add_companion(fyi.documents_for)
    quote = grid_quote(STK.conid, "99.99", "100.01", "100.00", 1000)
    assert isinstance(engine.quotes, Quotes)
    engine.quotes.book[STK.conid] = quote
    engine.on_quote(STK.conid, quote)
    return engine, fyi


def buy(engine: TradingEngine) -> None:
    order = {"conid": STK.conid, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"}
    commands.place(engine, ACCT, [order])


def never(_: Callable[[], None]) -> None:
    """A `defer` whose callbacks never run: only what the commit itself stored is stored."""


def test_a_close_stores_its_daily_value_in_its_own_append() -> None:
    store = Watched()
    engine, _ = build(store, defer=never)
    buy(engine)
    engine.close_session(CLOSE_NS)
    [(events, days, documents)] = [a for a in store.appends if a[1]]
    assert [type(e) for e in events] == [SessionClosed] and store.separate_days == 0
    nav = engine.journal.portfolio_of(ACCT).net_liquidation
    assert days == [DailyValue(ACCT, days[0].day, D(1_000_000), nav, CLOSE_NS)]
    [closing] = documents[F.NOTIFICATIONS].values()  # the close's own notification, too
    assert closing["code"] == F.SYSTEM
    assert store.daily_values(ACCT) == days


def test_a_fill_stores_its_notification_in_its_own_append() -> None:
    store = Watched()
    engine, fyi = build(store, defer=never)
    buy(engine)
    [(_, _, documents)] = [a for a in store.appends if any(
        isinstance(e, OrderFilled) for e in a[0])]  # fmt: skip
    [(key, stored)] = documents[F.NOTIFICATIONS].items()
    assert stored["code"] == F.FILLS and stored["body"] == "filled"
    assert [k for k, _ in store.documents(F.NOTIFICATIONS)] == [key]  # no flush ran
    [shown] = fyi.notifications(limit=10)
    assert shown.notification_id == key and fyi.unread() == 1


def test_a_refused_append_keeps_neither_the_event_nor_its_records() -> None:
    store = Watched()
    engine, fyi = build(store, defer=never)
    kept = len(store)
    store.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        buy(engine)  # the acceptance is refused: nothing fills
    store.fail_next = True
    with pytest.raises(OSError, match="disk full"):
        engine.close_session(CLOSE_NS)
    assert len(store) == kept and store.daily_values(ACCT) == []
    assert store.documents(F.NOTIFICATIONS) == [] and fyi.notifications(limit=10) == []
    buy(engine)  # the next fill's notification is stored, and only it
    assert [n.code for n in fyi.notifications(limit=10)] == [F.FILLS]
    assert len(store.documents(F.NOTIFICATIONS)) == 1


CHILD = """
import sys
import threading
sys.path.insert(0, sys.argv[2] + "/../..")
from tests.trading.test_companion_records import CLOSE_NS, build, buy, never
from tickgate.stores.sqlite import SqliteEventStore

engine, fyi = build(SqliteEventStore(sys.argv[1]), defer=never)
buy(engine)
engine.close_session(CLOSE_NS)
print("closed", flush=True)
threading.Event().wait()  # killed here, before anything deferred could run
"""


def test_sigkill_after_a_close_finds_the_fill_the_close_and_their_records(tmp_path: Path) -> None:
    db = tmp_path / "records.db"
    child = start_child(CHILD, db)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "closed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    store = SqliteEventStore(db)
    try:
        events = list(store.replay())
        assert any(isinstance(e, OrderFilled) for e in events)
        assert isinstance(events[-1], SessionClosed)
        codes = sorted(doc["code"] for _, doc in store.documents(F.NOTIFICATIONS))
        assert codes == sorted([F.FILLS, F.SYSTEM])
        assert [v.ts_ns for v in store.daily_values(ACCT)] == [CLOSE_NS]
    finally:
        store.close()
