"""The pure-Python twin of the compiled `_fanout` module: an outbox's hot state and fast paths.

`streaming.fanout` picks one of the two; both behave the same, call by call (the tests run
both and compare them). This one runs wherever the extension was not built (no compiler at
install time) or `TICKGATE_PURE_PYTHON=1` is set. Every slow path (conflating, over the limit,
held frames) is a method of `streaming.outbox.Outbox`, which subclasses the chosen core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: One write in this many (a power of two) is reported to the outbox's write sample.
WRITE_SAMPLE_EVERY = 16


class OutboxCore:
    """An outbox's per-connection hot state, with the calls made per frame and per write."""

    # One per connection: slots keep 10,000 of them small.
    __slots__ = (
        "_awaiting_drain",
        "_bytes_written",
        "_closed",
        "_conflating",
        "_frames_written",
        "_held",
        "_on_write_sample",
        "_pending_bytes",
        "_reliable_bytes",
        "_schedule",
        "_scheduled",
        "_turn",
        "_writes",
        "high_water",
        "limit_bytes",
        "transport",
    )

    _turn: list[Any]
    _held: dict[object, Any]
    _schedule: Callable[[Callable[[], None]], object]
    transport: Any
    _on_write_sample: Callable[[int], None] | None
    _pending_bytes: int
    _reliable_bytes: int
    limit_bytes: int
    high_water: int
    _frames_written: int
    _writes: int
    _bytes_written: int
    _scheduled: bool
    _awaiting_drain: bool
    _conflating: bool
    _closed: bool

    def push_market_item(self, item: tuple[Any, bytes, Any, Any]) -> None:
        """Queue one shared market item `(key, frame, values, reencode)` for this turn."""
        if self._closed:
            return
        if self._conflating:
            self._hold_market(*item)
        else:
            self._turn.append(item)
            self._pending_bytes += len(item[1])
            # A single turn may not hold more than the limit either: conflate the rest of it.
            if self._pending_bytes > self.limit_bytes:
                self._hold_turn()
        if not self._scheduled and not self._awaiting_drain:
            self._scheduled = True
            self._schedule(self.flush)

    def flush(self) -> None:
        """Write everything pending as one transport write, unless congested or closing."""
        self._scheduled = False
        self._awaiting_drain = False
        if self._closed:
            return
        if self.transport.is_closing():
            self._close()
            return
        if self.transport.get_write_buffer_size() > self.high_water:
            self._congest()
            return
        if self._held or self._turn:
            self._write()

    # The slow paths, implemented by the outbox (which subclasses this core).
    def _hold_market(self, key: Any, frame: bytes, values: Any, reencode: Any) -> None:
        raise NotImplementedError

    def _hold_turn(self) -> None:
        raise NotImplementedError

    def _congest(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _write(self) -> None:
        raise NotImplementedError


def publish(outboxes: Iterable[OutboxCore], item: tuple[Any, bytes, Any, Any]) -> None:
    """`outbox.push_market_item(item)` for each outbox, in order."""
    for outbox in outboxes:
        outbox.push_market_item(item)
