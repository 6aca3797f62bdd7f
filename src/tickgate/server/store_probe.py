"""An `EventStore` wrapper that times each commit and knows whether the store can still take one.

The trading engine sees an ordinary store; `/metrics` gets the commit times and `/readyz` asks
`problem()`. Wrapping at the composition root keeps timing out of the trading core.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import date

from tickgate.model.orders import Fill, Order
from tickgate.server.traffic import Buckets
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.events import StoredEvent
from tickgate.trading.store import Checkpoint, Documents, EventStore


class ProbedStore:
    """Delegates to `store`; observes each `append`'s duration (seconds) into `commit_times`."""

    def __init__(self, store: EventStore, commit_times: Buckets) -> None:
        self.inner = store
        self._commit_times = commit_times
        self._closed = False
        self._last_error: str | None = None

    def append(
        self,
        events: Sequence[StoredEvent],
        *,
        daily_values: Sequence[DailyValue] = (),
        documents: Documents | None = None,
    ) -> None:
        """Store `events` (and what belongs to them) through the wrapped store; its exceptions
        propagate unchanged and are remembered until a later append succeeds."""
        start = time.perf_counter()
        try:
            self.inner.append(events, daily_values=daily_values, documents=documents)
        except Exception as exc:
            self._last_error = f"{type(exc).__name__}: {exc}"
            raise
        self._last_error = None
        self._commit_times.observe(time.perf_counter() - start)

    def replay(self) -> Iterator[StoredEvent]:
        """Every stored event of the wrapped store, oldest first."""
        return self.inner.replay()

    def restore(self) -> tuple[Checkpoint | None, Iterator[StoredEvent]]:
        """The wrapped store's checkpoint and the events after it."""
        return self.inner.restore()

    def save_checkpoint(self, document: Checkpoint) -> None:
        """Keep `document` as the wrapped store's checkpoint."""
        self.inner.save_checkpoint(document)

    def order(self, order_id: int) -> Order | None:
        """The wrapped store's latest snapshot of `order_id`."""
        return self.inner.order(order_id)

    def fills_since(self, ts_ns: int) -> list[Fill]:
        """The wrapped store's executions at or after `ts_ns`."""
        return self.inner.fills_since(ts_ns)

    def save_daily_values(self, values: Sequence[DailyValue]) -> None:
        """Keep `values` in the wrapped store."""
        self.inner.save_daily_values(values)

    def daily_values(self, account: str, *, since: date | None = None) -> list[DailyValue]:
        """The wrapped store's days of `account`."""
        return self.inner.daily_values(account, since=since)

    def close(self) -> None:
        """Close the wrapped store; the store reads as not ready from now on."""
        self._closed = True
        self.inner.close()

    def problem(self) -> str | None:
        """Why the store cannot take a commit now (closed, or its last commit failed), or None."""
        if self._closed:
            return "the order store is closed"
        if self._last_error is not None:
            return f"the order store's last commit failed: {self._last_error}"
        return None
