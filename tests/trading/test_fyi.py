"""The FYI center on a store and a fake clock: what posts, lists, marks and survives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tickgate.clock import FakeClock
from tickgate.errors import NotFoundError, RequestError
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.trading import fyi as F
from tickgate.trading.documents import DocumentStore
from tickgate.trading.events import SessionClosed
from tickgate.trading.fyi import Device, FyiCenter, Notification
from tickgate.trading.store import MemoryEventStore

#: Wednesday 2026-01-14 15:00 UTC.
START_NS = 1_768_402_800_000_000_000


def center(
    store: DocumentStore, *, defer: Callable[[Callable[[], None]], None] | None = None
) -> FyiCenter:
    return FyiCenter(store, clock=FakeClock(START_NS), describe_fill=lambda e: "fill", defer=defer)


def test_posts_list_newest_first_with_ibkr_like_ids() -> None:
    fyi = center(MemoryEventStore())
    posted: list[Notification] = []
    fyi.add_listener(posted.append)
    first = fyi.post(F.FILLS, "Order filled", "Bought 1 AAPL")
    second = fyi.post(F.ALERTS, "AAPL up", "above 100", alert_id=7)
    assert first is not None and second is not None and posted == [first, second]
    assert first.notification_id == "2026011400000001"
    assert second.notification_id == "2026011400000002" and second.alert_id == 7
    assert fyi.notifications(limit=10) == [second, first]
    assert fyi.unread() == 2


def test_include_exclude_and_paging() -> None:
    fyi = center(MemoryEventStore())
    ids = []
    for code in ("PF", "UA", "SM", "PF", "UA"):
        posted = fyi.post(code, code, "")
        assert posted is not None
        ids.append(posted.notification_id)
    assert [n.code for n in fyi.notifications(limit=10, include=["UA", "sm"])] == ["UA", "SM", "UA"]
    assert [n.code for n in fyi.notifications(limit=10, exclude=["PF"])] == ["UA", "SM", "UA"]
    assert [n.notification_id for n in fyi.notifications(limit=2)] == ids[:2:-1]
    older = fyi.notifications(limit=2, before=ids[3])
    assert [n.notification_id for n in older] == [ids[2], ids[1]]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda f: f.notifications(limit=11), RequestError, "Invalid max: 11"),
        (lambda f: f.notifications(limit=0), RequestError, "Invalid max: 0"),
        (lambda f: f.notifications(limit=5, include=["XX"]), RequestError, "unknown typecode XX"),
        (lambda f: f.notifications(limit=5, before="1"), NotFoundError, "notification 1"),
        (lambda f: f.mark("nope"), NotFoundError, "notification nope not found"),
        (lambda f: f.set_enabled("ZZ", True), RequestError, "Invalid typecode 'ZZ'"),
        (lambda f: f.delete_device("d"), NotFoundError, "device d not found"),
    ],
)
def test_bad_requests_are_refused(
    call: Callable[[FyiCenter], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call(center(MemoryEventStore()))


def test_a_disabled_typecode_posts_nothing() -> None:
    fyi = center(MemoryEventStore())
    fyi.set_enabled(F.SYSTEM, False)
    fyi.on_trading_event(SessionClosed(START_NS, {}))
    assert fyi.notifications(limit=10) == []
    assert ("SM", "System Messages") in [(c, t) for c, t, _, on, _ in fyi.settings() if not on]
    fyi.set_enabled(F.SYSTEM, True)
    fyi.on_trading_event(SessionClosed(START_NS, {}))
    assert [n.code for n in fyi.notifications(limit=10)] == ["SM"]


def test_posts_of_one_turn_are_stored_together() -> None:
    store = MemoryEventStore()
    deferred: list[Callable[[], None]] = []
    fyi = center(store, defer=deferred.append)
    for _ in range(3):
        fyi.post(F.FILLS, "Order filled", "x")
    assert len(deferred) == 1 and store.documents(F.NOTIFICATIONS) == []
    assert fyi.unread() == 3  # reads see them before they are stored
    deferred[0]()
    assert len(store.documents(F.NOTIFICATIONS)) == 3


def test_only_the_newest_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "MAX_KEPT", 3)
    store = MemoryEventStore()
    fyi = center(store)
    for n in range(5):
        fyi.post(F.FILLS, str(n), "")
    assert [n.title for n in fyi.notifications(limit=10)] == ["4", "3", "2"]
    assert [doc["title"] for _, doc in store.documents(F.NOTIFICATIONS)] == ["2", "3", "4"]


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "trading.sqlite3"
    store = SqliteEventStore(path)
    fyi = center(store)
    kept = fyi.post(F.ALERTS, "AAPL up", "above 100", alert_id=3)
    fyi.post(F.FILLS, "Order filled", "Bought 1 AAPL")
    assert kept is not None
    fyi.mark(kept.notification_id)
    fyi.set_enabled("BA", False)
    fyi.read_disclaimer("UA")
    fyi.set_email(False)
    fyi.set_device(Device("apn://x", "iPhone", "apn://x", True))
    store.close()
    again = center(SqliteEventStore(path))
    assert again.notifications(limit=10) == fyi.notifications(limit=10)
    assert again.unread() == 1
    assert again.settings() == fyi.settings()
    assert not again.email and again.devices() == [Device("apn://x", "iPhone", "apn://x", True)]
    nxt = again.post(F.FILLS, "Order filled", "Sold 1 AAPL")
    assert nxt is not None and nxt.notification_id == "2026011400000003"
