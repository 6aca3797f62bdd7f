"""The `EventStore` port's one conformance suite, run against every adapter (and, at the end,
the `DocumentStore` port the same adapters keep).

Each adapter (the in-memory store, the SQLite store, and both behind the server's `ProbedStore`
wrapper) must keep the contract of `tickgate.trading.store`: batches stored whole or not at all,
events back in append order, one checkpoint covering what came before it, the latest snapshot
of an order, executions since a time, the daily net-liquidation series, refusal after `close`;
durable adapters keep all of it across a reopen of the same file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from tickgate.model.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tickgate.server.store_probe import ProbedStore
from tickgate.server.traffic import Buckets
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.documents import DocumentStore
from tickgate.trading.events import (
    OrderAccepted,
    OrderFilled,
    OrderUpdated,
    SessionClosed,
    StoredEvent,
)
from tickgate.trading.store import EventStore, MemoryEventStore, StoreClosedError


@dataclass(frozen=True)
class Adapter:
    """How to open an adapter on a path; `durable` ones open the same data again there."""

    name: str
    open: Callable[[Path], EventStore]
    durable: bool


def _probed(store: EventStore) -> EventStore:
    return ProbedStore(store, Buckets((0.001, 0.01)))


ADAPTERS = [
    Adapter("memory", lambda _path: MemoryEventStore(), durable=False),
    Adapter("sqlite", SqliteEventStore, durable=True),
    Adapter("probed-memory", lambda _path: _probed(MemoryEventStore()), durable=False),
    Adapter("probed-sqlite", lambda path: _probed(SqliteEventStore(path)), durable=True),
]
DURABLE = [adapter for adapter in ADAPTERS if adapter.durable]


def _ids(adapter: Adapter) -> str:
    return adapter.name


@pytest.fixture(params=ADAPTERS, ids=_ids)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    assert isinstance(request.param, Adapter)
    return request.param


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "trading.sqlite3"


@pytest.fixture
def store(adapter: Adapter, path: Path) -> Iterator[EventStore]:
    opened = adapter.open(path)
    yield opened
    opened.close()  # a second close (after a test's own) releases nothing more


def order(order_id: int, *, status: OrderStatus = OrderStatus.SUBMITTED, at: int = 10) -> Order:
    return Order(
        order_id, "DU1", 265598, Side.BUY, OrderType.LMT, D("10"), TimeInForce.GTC, status,
        created_ns=1, updated_ns=at, price=D("100.25"),
    )  # fmt: skip


def filled(order_id: int, execution: str, *, at: int, quantity: str = "4") -> OrderFilled:
    snapshot = dataclasses.replace(
        order(order_id, at=at), filled_quantity=D(quantity), avg_price=D("100.25")
    )
    fill = Fill(execution, order_id, "DU1", 265598, Side.BUY, D(quantity), D("100.25"),
                D("0.35"), at)  # fmt: skip
    return OrderFilled(snapshot, fill)


def day_of_events() -> list[list[StoredEvent]]:
    """Three batches: two orders accepted, fills out of time order, an update and a close."""
    return [
        [OrderAccepted(order(1)), OrderAccepted(order(2))],
        [filled(1, "e1", at=300), filled(2, "e2", at=100)],
        [
            OrderUpdated(order(2, status=OrderStatus.CANCELLED, at=400)),
            SessionClosed(500, {265598: D("100.2500")}),
        ],
    ]


def append_all(store: EventStore, batches: list[list[StoredEvent]]) -> list[StoredEvent]:
    for batch in batches:
        store.append(batch)
    return [event for batch in batches for event in batch]


def test_a_new_store_is_empty(store: EventStore) -> None:
    assert list(store.replay()) == []
    checkpoint, after = store.restore()
    assert checkpoint is None and list(after) == []
    assert store.order(1) is None and store.fills_since(0) == []


def test_events_come_back_in_append_order_and_exactly(store: EventStore) -> None:
    appended = append_all(store, day_of_events())
    replayed = list(store.replay())
    assert replayed == appended
    # Decimals keep their exact digits through the adapter's encoding.
    closed = replayed[-1]
    assert isinstance(closed, SessionClosed) and str(closed.closes[265598]) == "100.2500"


def test_an_order_is_answered_with_its_latest_snapshot(store: EventStore) -> None:
    append_all(store, day_of_events())
    latest = store.order(2)
    assert (
        latest is not None and latest.status is OrderStatus.CANCELLED and latest.updated_ns == 400
    )
    first = store.order(1)
    assert first is not None and first.filled_quantity == D(4)
    assert store.order(3) is None


def test_fills_since_a_time_include_it_and_keep_append_order(store: EventStore) -> None:
    append_all(store, day_of_events())
    assert [f.execution_id for f in store.fills_since(0)] == ["e1", "e2"]  # not time order
    assert [f.execution_id for f in store.fills_since(300)] == ["e1"]  # inclusive bound
    assert store.fills_since(301) == []


def test_a_checkpoint_covers_what_came_before_it(store: EventStore) -> None:
    first, second, third = day_of_events()
    store.save_checkpoint({"version": 0, "note": "empty"})
    checkpoint, after = store.restore()
    assert checkpoint == {"version": 0, "note": "empty"} and list(after) == []
    store.append(first)
    store.append(second)
    store.save_checkpoint({"version": 1, "orders": [1, 2]})
    store.append(third)
    checkpoint, after = store.restore()
    assert checkpoint == {"version": 1, "orders": [1, 2]}
    assert list(after) == third
    # The checkpoint shortens the restart only: the log still holds everything.
    assert list(store.replay()) == first + second + third


def test_a_batch_that_cannot_be_stored_leaves_nothing_of_it(store: EventStore) -> None:
    store.append([OrderAccepted(order(1))])
    # The second event's time does not fit the 64-bit integers of the stored encoding.
    broken = [OrderAccepted(order(2)), SessionClosed(2**70, {})]
    with pytest.raises(TypeError):
        store.append(broken)
    assert list(store.replay()) == [OrderAccepted(order(1))]
    assert store.order(2) is None
    store.append([OrderAccepted(order(3))])
    assert [e.order.order_id for e in store.replay() if not isinstance(e, SessionClosed)] == [1, 3]


def test_every_call_after_close_is_refused(store: EventStore) -> None:
    store.append([OrderAccepted(order(1))])
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.append([OrderAccepted(order(2))]),
        lambda: list(store.replay()),
        store.restore,
        lambda: store.save_checkpoint({}),
        lambda: store.order(1),
        lambda: store.fills_since(0),
        lambda: store.save_daily_values([]),
        lambda: store.daily_values("DU1"),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError):
            call()


MONDAY, TUESDAY, WEDNESDAY = date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)


def test_daily_values_come_back_by_account_oldest_first(store: EventStore) -> None:
    assert store.daily_values("DU1") == []
    tuesday = DailyValue("DU1", TUESDAY, D("100.5"), D("101.25"), 2)
    monday = DailyValue("DU1", MONDAY, D(100), D("100.5"), 1)
    other = DailyValue("DU2", MONDAY, D(7), D(8), 1)
    store.save_daily_values([tuesday, other])
    store.save_daily_values([monday])
    assert store.daily_values("DU1") == [monday, tuesday]
    assert store.daily_values("DU1", since=TUESDAY) == [tuesday]
    assert store.daily_values("DU2") == [other] and store.daily_values("DU3") == []


def test_a_day_saved_again_keeps_its_start(store: EventStore) -> None:
    store.save_daily_values([DailyValue("DU1", TUESDAY, D(100), D(110), 1)])
    store.save_daily_values([DailyValue("DU1", TUESDAY, D(110), D("99.5"), 5)])
    assert store.daily_values("DU1") == [DailyValue("DU1", TUESDAY, D(100), D("99.5"), 5)]


def test_a_batch_of_days_that_cannot_be_stored_leaves_nothing_of_it(store: EventStore) -> None:
    kept = DailyValue("DU1", MONDAY, D(1), D(2), 1)
    store.save_daily_values([kept])
    # The second day's time does not fit the stores' 64-bit integers.
    broken = [
        DailyValue("DU1", TUESDAY, D(2), D(3), 2),
        DailyValue("DU1", WEDNESDAY, D(3), D(4), 2**70),
    ]
    with pytest.raises((OverflowError, TypeError)):
        store.save_daily_values(broken)
    assert store.daily_values("DU1") == [kept]


@pytest.mark.parametrize("durable", DURABLE, ids=_ids)
def test_a_durable_store_reopens_with_everything(durable: Adapter, path: Path) -> None:
    first = durable.open(path)
    batches = day_of_events()
    appended = append_all(first, batches[:2])
    first.save_checkpoint({"version": 1, "through": "fills"})
    appended += append_all(first, batches[2:])
    days = [DailyValue("DU1", MONDAY, D(100), D("100.5"), 1)]
    first.save_daily_values(days)
    first.close()
    reopened = durable.open(path)
    try:
        assert list(reopened.replay()) == appended
        checkpoint, after = reopened.restore()
        assert checkpoint == {"version": 1, "through": "fills"} and list(after) == batches[2]
        latest = reopened.order(2)
        assert latest is not None and latest.status is OrderStatus.CANCELLED
        assert [f.execution_id for f in reopened.fills_since(0)] == ["e1", "e2"]
        assert reopened.daily_values("DU1") == days
        reopened.append([OrderAccepted(order(9))])  # and it takes more
    finally:
        reopened.close()
    again = durable.open(path)
    try:
        assert list(again.replay())[-1] == OrderAccepted(order(9))
    finally:
        again.close()


# --- the DocumentStore port (alerts, FYI), kept by the same adapters -----------------------------

DOCUMENT_ADAPTERS = [a for a in ADAPTERS if not a.name.startswith("probed")]


@pytest.fixture(params=DOCUMENT_ADAPTERS, ids=_ids)
def documents(request: pytest.FixtureRequest, path: Path) -> Iterator[DocumentStore]:
    adapter = request.param
    assert isinstance(adapter, Adapter)
    opened = adapter.open(path)
    assert isinstance(opened, SqliteEventStore | MemoryEventStore)
    yield opened
    opened.close()


def test_documents_come_back_per_kind_in_first_put_order(documents: DocumentStore) -> None:
    assert documents.documents("alert") == []
    documents.put_documents("alert", {"2": {"n": 2}, "1": {"n": 1, "x": [1, "a", None]}})
    documents.put_documents("note", {"1": {"other": True}})
    documents.put_documents("alert", {"2": {"n": 22}, "3": {"n": 3}})  # 2 keeps its place
    assert documents.documents("alert") == [
        ("2", {"n": 22}), ("1", {"n": 1, "x": [1, "a", None]}), ("3", {"n": 3}),
    ]  # fmt: skip
    documents.delete_documents("alert", ["1", "9"])  # an absent key is no error
    assert [key for key, _ in documents.documents("alert")] == ["2", "3"]
    assert documents.documents("note") == [("1", {"other": True})]


def test_a_document_batch_that_cannot_be_stored_keeps_nothing(documents: DocumentStore) -> None:
    documents.put_documents("alert", {"1": {"n": 1}})
    with pytest.raises(TypeError):
        documents.put_documents("alert", {"2": {"n": 2}, "3": {"n": object()}})
    assert documents.documents("alert") == [("1", {"n": 1})]


def test_documents_are_refused_after_close(documents: DocumentStore) -> None:
    assert isinstance(documents, SqliteEventStore | MemoryEventStore)
    documents.close()
    for call in (
        lambda: documents.documents("alert"),
        lambda: documents.put_documents("alert", {"1": {}}),
        lambda: documents.delete_documents("alert", ["1"]),
    ):
        with pytest.raises(StoreClosedError):
            call()


def test_a_durable_store_reopens_with_its_documents_beside_its_events(path: Path) -> None:
    first = SqliteEventStore(path)
    first.append([OrderAccepted(order(1))])
    first.put_documents("alert", {"7": {"name": "AAPL up", "threshold": "100.25"}})
    first.put_documents("fyi", {"a": {"read": False}, "b": {"read": True}})
    first.delete_documents("fyi", ["a"])
    first.close()
    again = SqliteEventStore(path)
    try:
        assert again.documents("alert") == [("7", {"name": "AAPL up", "threshold": "100.25"})]
        assert again.documents("fyi") == [("b", {"read": True})]
        assert list(again.replay()) == [OrderAccepted(order(1))]
    finally:
        again.close()


# --- records stored in their events' own transaction (a close's day, a fill's notification) ---


def test_an_append_keeps_its_days_and_documents_with_its_events(documents: DocumentStore) -> None:
    store = documents
    assert isinstance(store, SqliteEventStore | MemoryEventStore)
    day = DailyValue("DU1", MONDAY, D(100), D(101), 500)
    store.append([SessionClosed(500, {})], daily_values=[day],
                 documents={"fyi-notification": {"n1": {"body": "closed"}}})  # fmt: skip
    assert list(store.replay()) == [SessionClosed(500, {})]
    assert store.daily_values("DU1") == [day]
    assert store.documents("fyi-notification") == [("n1", {"body": "closed"})]
    later = DailyValue("DU1", MONDAY, D(7), D(99), 600)  # the same day again keeps its start
    store.append([SessionClosed(600, {})], daily_values=[later])
    assert store.daily_values("DU1") == [DailyValue("DU1", MONDAY, D(100), D(99), 600)]


def test_an_append_whose_companion_cannot_be_stored_keeps_none_of_it(
    documents: DocumentStore,
) -> None:
    store = documents
    assert isinstance(store, SqliteEventStore | MemoryEventStore)
    store.append([OrderAccepted(order(1))])
    with pytest.raises(TypeError):
        store.append([filled(1, "e1", at=5)], documents={"fyi": {"n": {"x": object()}}})
    with pytest.raises((OverflowError, TypeError)):
        store.append([SessionClosed(9, {})],
                     daily_values=[DailyValue("DU1", MONDAY, D(1), D(2), 2**70)])  # fmt: skip
    assert list(store.replay()) == [OrderAccepted(order(1))]
    assert store.documents("fyi") == [] and store.daily_values("DU1") == []
    assert store.fills_since(0) == []


def test_the_probe_passes_what_belongs_to_a_batch_through(path: Path) -> None:
    inner = SqliteEventStore(path)
    probed = _probed(inner)
    day = DailyValue("DU1", MONDAY, D(1), D(2), 3)
    probed.append([SessionClosed(3, {})], daily_values=[day], documents={"k": {"a": {"b": 1}}})
    assert inner.daily_values("DU1") == [day] and inner.documents("k") == [("a", {"b": 1})]
    inner.close()
