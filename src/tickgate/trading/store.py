"""The EventStore port, and an in-memory adapter.

Contract every adapter keeps (`tests/trading/test_store_conformance.py` checks it against each
one): `append` stores a batch atomically (all or nothing: a batch that cannot be stored leaves
the store as it was), with the records that belong to its events (a close's daily values, a
fill's notification) in the same transaction, and returns only once the batch is durable to
the adapter's standard;
`replay` yields every appended event in append order; after `close` every call raises
`StoreClosedError`. The engine appends before it acknowledges or publishes anything.

Beyond the log, a store keeps one *checkpoint* (a JSON-able document of the engine's hot state,
covering every event appended before it was saved) so a restart replays only what came after
it, and answers for what the hot state set aside: the latest snapshot of any order, and the
executions since a time. Beside the log it keeps the accounts' daily net-liquidation series
(`DailyValue`, one row per account and day; a day saved again keeps its first start).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import orjson

from tickgate.model.orders import Fill, Order
from tickgate.trading.daily_values import DailyValue, merged
from tickgate.trading.documents import Document, MemoryDocuments, StoreClosedError
from tickgate.trading.events import OrderFilled, SessionClosed, StoredEvent, decode, encode

Checkpoint = dict[str, Any]
#: Documents by kind, then by key (what `DocumentStore.put_documents` takes, for many kinds).
Documents = Mapping[str, Mapping[str, Document]]

__all__ = ["Checkpoint", "Documents", "EventStore", "MemoryEventStore", "StoreClosedError"]


class EventStore(Protocol):
    """Where trading events are kept."""

    def append(
        self,
        events: Sequence[StoredEvent],
        *,
        daily_values: Sequence[DailyValue] = (),
        documents: Documents | None = None,
    ) -> None:
        """Store `events` atomically and durably, in order, and in the same transaction
        `daily_values` (as `save_daily_values`) and `documents` (as `put_documents`, created
        or replaced)."""
        ...

    def replay(self) -> Iterator[StoredEvent]:
        """Every stored event, oldest first."""
        ...

    def restore(self) -> tuple[Checkpoint | None, Iterator[StoredEvent]]:
        """The latest checkpoint (None when there is none) and the events stored after it."""
        ...

    def save_checkpoint(self, document: Checkpoint) -> None:
        """Durably keep `document` as the checkpoint covering every event appended so far."""
        ...

    def order(self, order_id: int) -> Order | None:
        """The latest stored snapshot of `order_id`, or None when no event names it."""
        ...

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """Stored executions at or after `ts_ns`, in append order."""
        ...

    def save_daily_values(self, values: Sequence[DailyValue]) -> None:
        """Durably keep `values` in one batch (all or none); a day already kept for an account
        keeps its `start` and takes the new `end` and `ts_ns`."""
        ...

    def daily_values(self, account: str, *, since: date | None = None) -> list[DailyValue]:
        """The kept days of `account` (from `since` on, when given), oldest first."""
        ...

    def close(self) -> None:
        """Release the store's resources; any later call raises StoreClosedError."""
        ...


class MemoryEventStore(MemoryDocuments):
    """A non-durable store for tests and throw-away simulations; it keeps documents too
    (`tickgate.trading.documents`).

    Events go through the same JSON codec as the durable stores, so a test with this store
    also proves that every event survives serialization. `fills_since` walks the kept fills:
    this store is not meant for long histories.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[tuple[str, str]] = []
        self._checkpoint: tuple[int, str] | None = None
        self._latest: dict[int, int] = {}
        self._fills: list[tuple[int, int]] = []  # (fill time, row) of every execution
        self._days: dict[tuple[str, date], bytes] = {}
        self.commits = 0

    def append(
        self,
        events: Sequence[StoredEvent],
        *,
        daily_values: Sequence[DailyValue] = (),
        documents: Documents | None = None,
    ) -> None:
        """Keep `events` (encoded) in memory with their daily values and documents: all of
        them, or none when one cannot be encoded."""
        self._check_open()
        # Encode the whole batch first, so a failure keeps nothing of it (as a transaction).
        rows = [(kind, orjson.dumps(payload).decode()) for kind, payload in map(encode, events)]
        days = self._merged_days(daily_values)
        encoded = {
            kind: {key: orjson.dumps(doc) for key, doc in docs.items()}
            for kind, docs in (documents or {}).items()
        }
        self._days = days
        for kind, docs in encoded.items():
            self._documents.setdefault(kind, {}).update(docs)
        for event, row in zip(events, rows, strict=True):
            if isinstance(event, OrderFilled):
                self._fills.append((event.fill.ts_ns, len(self._rows)))
            if not isinstance(event, SessionClosed):
                self._latest[event.order.order_id] = len(self._rows)
            self._rows.append(row)
        self.commits += 1

    def replay(self) -> Iterator[StoredEvent]:
        """Decode the kept events, oldest first."""
        self._check_open()
        return self._decoded(0)

    def restore(self) -> tuple[Checkpoint | None, Iterator[StoredEvent]]:
        """The kept checkpoint and the events after it."""
        self._check_open()
        if self._checkpoint is None:
            return None, self._decoded(0)
        covered, document = self._checkpoint
        return orjson.loads(document), self._decoded(covered)

    def save_checkpoint(self, document: Checkpoint) -> None:
        """Keep `document` as covering every event so far."""
        self._check_open()
        self._checkpoint = (len(self._rows), orjson.dumps(document).decode())

    def order(self, order_id: int) -> Order | None:
        """The latest kept snapshot of `order_id`."""
        self._check_open()
        row = self._latest.get(order_id)
        if row is None:
            return None
        event = decode(*self._row(row))
        assert not isinstance(event, SessionClosed)
        return event.order

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """Kept executions at or after `ts_ns`."""
        self._check_open()
        fills = [decode(*self._row(row)) for at, row in self._fills if at >= ts_ns]
        return [e.fill for e in fills if isinstance(e, OrderFilled)]

    def save_daily_values(self, values: Sequence[DailyValue]) -> None:
        """Keep `values` (encoded, as the events), extending a day already kept: all of them,
        or none when one cannot be encoded."""
        self._check_open()
        self._days = self._merged_days(values)

    def _merged_days(self, values: Sequence[DailyValue]) -> dict[tuple[str, date], bytes]:
        days = dict(self._days)  # the whole batch or nothing, as a transaction
        for value in values:
            key = (value.account, value.day)
            kept = _decode_day(days[key]) if key in days else None
            days[key] = _encode_day(value if kept is None else merged(kept, value))
        return days

    def daily_values(self, account: str, *, since: date | None = None) -> list[DailyValue]:
        """The kept days of `account`, oldest first."""
        self._check_open()
        chosen = [
            row for (a, day), row in self._days.items()
            if a == account and (since is None or day >= since)
        ]  # fmt: skip
        return sorted(map(_decode_day, chosen), key=lambda v: v.day)

    def close(self) -> None:
        """Forget nothing, but refuse any later call (as the durable stores do)."""
        self._closed = True

    def _row(self, index: int) -> tuple[str, dict[str, Any]]:
        kind, payload = self._rows[index]
        return kind, orjson.loads(payload)

    def _decoded(self, start: int) -> Iterator[StoredEvent]:
        for index in range(start, len(self._rows)):
            yield decode(*self._row(index))

    def __len__(self) -> int:
        return len(self._rows)


def _encode_day(value: DailyValue) -> bytes:
    """A day as the memory store keeps it. Raises TypeError for a time beyond 64 bits."""
    fields = [value.account, value.day.isoformat(), str(value.start), str(value.end), value.ts_ns]
    return orjson.dumps(fields)


def _decode_day(row: bytes) -> DailyValue:
    account, day, start, end, ts_ns = orjson.loads(row)
    return DailyValue(account, date.fromisoformat(day), Decimal(start), Decimal(end), ts_ns)
