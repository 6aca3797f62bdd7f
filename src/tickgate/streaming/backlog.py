"""Large reliable snapshots, delivered in pieces the subscriber's outbox can take.

A snapshot (the day's orders when an account topic is subscribed, the day's executions) can be
far larger than an outbox may hold: pushed whole it would declare even a prompt reader too slow.
A `Backlog` holds, for one subscriber of one topic, the frames still owed to it in order:
snapshot frames, rendered lazily from an iterator, and the topic's live frames that arrived
meanwhile. `pump()` moves as many as the outbox has room for (`Outbox.room`); the connection
shell calls it again whenever the outbox has drained.

Guarantees:
- The subscriber receives the snapshot frames, then every live frame published after the
  snapshot was taken, each exactly once and in publication order: a live frame never overtakes
  a snapshot frame and nothing is dropped while the backlog waits for the reader.
- Only the live frames are held as bytes (the snapshot is rendered when it is its turn). If they
  exceed the outbox's limit, the reader has not kept up: the outbox overflows (the connection is
  closed as a slow consumer) and the backlog is dropped.
- A reader that does not read holds nothing but the remaining snapshot iterator until live
  frames pile up past the limit: it is closed for what it fails to take, never for the size of
  the snapshot itself.

Like the outbox, this module does no I/O and needs no event loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from tickgate.streaming.outbox import Outbox

T = TypeVar("T")

#: Rows per snapshot frame at most; frames also stay within `frame_budget` bytes.
MAX_ROWS_PER_FRAME = 500


def frame_budget(outbox: Outbox) -> int:
    """The most bytes one snapshot frame for `outbox` should have: a quarter of its limit, so
    a frame always fits the room a drained outbox offers (`Outbox.room`, half the limit)."""
    return outbox.limit_bytes // 4


def chunked_frames(
    rows: Sequence[T],
    render: Callable[[Sequence[T]], bytes],
    *,
    max_bytes: int,
    max_rows: int = MAX_ROWS_PER_FRAME,
) -> Iterator[bytes]:
    """`render` consecutive slices of `rows`, in order, each frame at most `max_bytes` (a row
    that alone renders larger still gets its own frame) and `max_rows` rows. Lazy: a slice is
    rendered only when the frame is asked for. No rows: no frames."""
    size = max(1, max_rows)
    start = 0
    while start < len(rows):
        batch = rows[start : start + size]
        frame = render(batch)
        while len(frame) > max_bytes and len(batch) > 1:
            size = max(1, len(batch) // 2)
            batch = rows[start : start + size]
            frame = render(batch)
        yield frame
        start += len(batch)


class Backlog:
    """Frames owed to one outbox for one topic, delivered in order as room appears."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        # In delivery order: a live frame (bytes) or a snapshot's remaining frames (iterator).
        self._owed: deque[bytes | Iterator[bytes]] = deque()
        self._next: bytes | None = None  # a snapshot frame taken from an iterator, not yet sent
        self._live_bytes = 0

    @property
    def done(self) -> bool:
        """True when nothing is owed: live frames may go straight to the outbox."""
        return self._next is None and not self._owed

    def add_snapshot(self, frames: Iterable[bytes]) -> None:
        """Owe `frames` after everything owed so far."""
        self._owed.append(iter(frames))

    def hold(self, frame: bytes) -> None:
        """A live frame of the topic: pushed at once when nothing is owed, else owed after the
        rest. Overflows the outbox when the live frames held exceed its limit."""
        if self.done:
            self.outbox.push(frame)
            return
        self._owed.append(frame)
        self._live_bytes += len(frame)
        if self._live_bytes > self.outbox.limit_bytes:
            self.outbox.overflow(self._live_bytes)
            self.drop()

    def pump(self) -> bool:
        """Push owed frames while the outbox has room for them; True once nothing is owed (also
        when the outbox closed: nothing more can be delivered)."""
        outbox = self.outbox
        while not outbox.closed:
            frame = self._peek()
            if frame is None:
                return True
            room = outbox.room()
            # A drained outbox (nothing pending, full room) takes even an oversized frame.
            drained = room == outbox.limit_bytes // 2
            if len(frame) > room and not drained:
                return False
            self._take()
            outbox.push(frame)
        self.drop()
        return True

    def drop(self) -> None:
        """Forget everything owed (the subscriber left or was closed)."""
        self._owed.clear()
        self._next = None
        self._live_bytes = 0

    def _peek(self) -> bytes | None:
        while self._next is None and self._owed:
            head = self._owed[0]
            if isinstance(head, bytes):
                return head
            self._next = next(head, None)
            if self._next is None:
                self._owed.popleft()  # that snapshot is fully out
        return self._next

    def _take(self) -> None:
        if self._next is not None:
            self._next = None
            return
        frame = self._owed.popleft()
        assert isinstance(frame, bytes)
        self._live_bytes -= len(frame)
