"""The `DataSource` port: anything that produces ticks for the market engine."""

from __future__ import annotations

from typing import Protocol

from tickgate.model.ticks import TickSink


class DataSource(Protocol):
    """A producer of ticks, run as one long-lived task owned by the application.

    `run` calls `sink` for every tick, in the order the source produced them, from the event
    loop thread, and returns only when cancelled (it re-raises CancelledError) or when the
    source fails; an exception raised by `sink` ends `run` with that exception.
    """

    name: str

    async def run(self, sink: TickSink) -> None:
        """Produce ticks into `sink` until cancelled."""
        ...
