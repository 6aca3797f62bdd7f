"""The EventStore port, and an in-memory adapter.

Contract every adapter keeps: `append` stores a batch atomically (all or nothing) and returns
only once the batch is durable to the adapter's standard; `replay` yields every appended event
in append order. The engine appends before it acknowledges or publishes anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Protocol

from tickgate.trading.events import StoredEvent, decode, encode


class EventStore(Protocol):
    """Where trading events are kept."""

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Store `events` atomically and durably, in order."""
        ...

    def replay(self) -> Iterator[StoredEvent]:
        """Every stored event, oldest first."""
        ...

    def close(self) -> None:
        """Release the store's resources; further use is an error."""
        ...


class MemoryEventStore:
    """A non-durable store for tests and throw-away simulations.

    Events go through the same JSON codec as the durable stores, so a test with this store
    also proves that every event survives serialization.
    """

    def __init__(self) -> None:
        self._rows: list[tuple[str, str]] = []

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Keep `events` (encoded) in memory."""
        for event in events:
            kind, payload = encode(event)
            self._rows.append((kind, json.dumps(payload)))

    def replay(self) -> Iterator[StoredEvent]:
        """Decode the kept events, oldest first."""
        for kind, payload in list(self._rows):
            yield decode(kind, json.loads(payload))

    def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._rows)
