"""One outbox per WebSocket connection: batching, back-pressure and the slow-consumer policy.

Guarantees:
- Every frame pushed during one event-loop turn leaves in ONE `transport.write`, as concatenated
  pre-encoded text frames, at the end of the turn (the first push of a turn schedules `flush`).
  A frame pushed from inside that write (a transport or callback that pushes) goes in the next.
- Order: no frame is ever written before a frame pushed earlier. When market data is conflated,
  the merged frame takes the place of the LATEST push for its key, so a newer market value never
  overtakes a reliable frame (an order event, an error, a reply) pushed before it; the stale
  values it replaces are simply not sent on their own.
- Reliable frames (`push`) are never dropped or reordered. If more than `limit_bytes` of them are
  waiting, the connection cannot keep up: `on_overflow(reason)` is called once, and the outbox
  drops what it holds and accepts nothing more (the shell closes the socket with that reason).
- Market frames (`push_market`) are conflatable. While the transport's own buffer is above
  `high_water`, the outbox writes nothing, calls `on_congested()` (the shell awaits the socket's
  drain and calls `flush()` again) and keeps at most one pending frame per key, merging values
  (latest wins, field order stable). Memory stays within `limit_bytes` of reliable frames plus
  one market frame per key.
- Observability costs the write path one test: `on_write_sample(bytes)`, when given, is called
  for the first write and then one write in `WRITE_SAMPLE_EVERY`.

The outbox does no I/O scheduling itself: the shell passes `schedule` (`loop.call_soon`), so
this module needs no event loop and tests drive it by hand.

The calls made per frame and per write (`push_market_item`, `flush`, a channel's `publish`)
belong to the outbox's core, `streaming.fanout.OutboxCore`: compiled C when it was built, else
its pure-Python twin, with the same behaviour. Everything else, and every slow path the core
hands back (conflation, overflow, held frames), is Python here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Protocol, cast

from tickgate.protocol.frames import text_frame, text_header
from tickgate.streaming.fanout import IMPLEMENTATIONS, WRITE_SAMPLE_EVERY, OutboxCore

Reencode = Callable[[Mapping[int, str]], bytes]
#: (key, frame, values, reencode) of one market frame, shared by every subscriber.
MarketItem = tuple[Hashable, bytes, Mapping[int, str], Reencode]
# One write in WRITE_SAMPLE_EVERY (a power of two, the core's) is reported to `on_write_sample`.
_SAMPLE_MASK = WRITE_SAMPLE_EVERY - 1
# A reliable frame waits in the turn as `(_RELIABLE, frame, None, None)`, the shape of a market
# item, so that a write joins the turn's frames in C (`map(_FRAME, turn)`) instead of testing
# each item's type in a Python loop.
_RELIABLE: Hashable = object()
_FRAME = itemgetter(1)


class Transport(Protocol):
    """The part of an asyncio transport the outbox uses."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counters since creation; `pending_bytes` is payload bytes waiting right now."""

    frames_written: int
    writes: int
    bytes_written: int
    conflated: int
    pending_bytes: int


class _Held:
    """A market frame waiting out congestion; at most one per key."""

    __slots__ = ("frame", "own", "reencode", "values")

    def __init__(self, frame: bytes, values: Mapping[int, str], reencode: Reencode) -> None:
        self.frame = frame
        self.values = values
        self.reencode = reencode
        # Our own merged copy of the values once two frames were merged; `frame` is then
        # stale and the frame is re-encoded when written. None while `frame` is exact.
        self.own: dict[int, str] | None = None


if TYPE_CHECKING:
    _Core = OutboxCore
else:
    _Core = object  # the core is the outbox's second base: it is chosen at import


class _OutboxLogic(_Core):
    """Everything of an outbox but its core's fast paths (see `Outbox`)."""

    if not TYPE_CHECKING:
        # No slots of its own (a second layout could not share a class with the C core's);
        # hidden from the type checker, for which `Outbox` then holds the slots below.
        __slots__ = ()
    # Declared for the type checker; the slots are `Outbox`'s own (`_OWN_SLOTS`).
    _conflated: int
    _on_congested: Callable[[], None]
    _on_overflow: Callable[[str], None]
    _seq: int

    def __init__(
        self,
        transport: Transport,
        *,
        schedule: Callable[[Callable[[], None]], object],
        limit_bytes: int = 1_048_576,
        high_water: int = 262_144,
        on_congested: Callable[[], None],
        on_overflow: Callable[[str], None],
        on_write_sample: Callable[[int], None] | None = None,
    ) -> None:
        self.transport = transport
        self.limit_bytes = limit_bytes
        self.high_water = high_water
        self._schedule = schedule
        self._on_congested = on_congested
        self._on_overflow = on_overflow
        self._on_write_sample = on_write_sample
        # Frames of the current turn, in push order: market items, and reliable frames in the
        # same shape (see `_RELIABLE`).
        self._turn: list[MarketItem] = []
        # Frames held while conflating, in order: int keys are reliable frames, `(key,)` tuples
        # are market frames (a tuple never equals an int, so the two kinds cannot collide).
        self._held: dict[object, bytes | _Held] = {}
        self._seq = 0
        self._scheduled = False
        self._awaiting_drain = False
        self._conflating = False
        self._closed = False
        self._reliable_bytes = 0
        self._pending_bytes = 0
        self._frames_written = self._writes = self._bytes_written = self._conflated = 0

    @property
    def stats(self) -> OutboxStats:
        """A snapshot of the counters."""
        return OutboxStats(
            self._frames_written,
            self._writes,
            self._bytes_written,
            self._conflated,
            self._pending_bytes,
        )

    @property
    def closed(self) -> bool:
        """True once the outbox overflowed or found its transport closing; pushes are ignored."""
        return self._closed

    def room(self) -> int:
        """Bytes of reliable frames a producer that can wait (a large snapshot, see
        `streaming.backlog`) may push now: up to half the limit minus what is pending, so the
        rest stays free for frames nobody can hold back; 0 while the transport is congested
        or the outbox closed. Pushing within it never overflows the outbox."""
        if self._closed or self._awaiting_drain:
            return 0
        if self.transport.get_write_buffer_size() > self.high_water:
            return 0
        return max(0, self.limit_bytes // 2 - self._reliable_bytes)

    def overflow(self, wanted: int) -> None:
        """Declare the connection too slow: `wanted` bytes of reliable frames owed to it do not
        fit its limit. Same effect as a `push` beyond the limit; idempotent."""
        if not self._closed:
            self._overflow(wanted)

    def close(self) -> None:
        """The connection is closing: drop what is pending and accept nothing more (a frame
        written after a close frame would break the WebSocket protocol). Idempotent."""
        self._close()

    def push(self, payload: bytes) -> None:
        """Queue a reliable frame: delivered in order, or the connection is declared too slow."""
        if self._closed:
            return
        size = len(payload)
        if self._reliable_bytes + size > self.limit_bytes:
            self._overflow(self._reliable_bytes + size)
            return
        self._reliable_bytes += size
        self._pending_bytes += size
        frame = text_header(size) + payload
        if self._conflating:
            self._held[self._seq] = frame
            self._seq += 1
        else:
            self._turn.append((_RELIABLE, frame, None, None))  # type: ignore[arg-type]
        if not self._scheduled and not self._awaiting_drain:
            self._scheduled = True
            self._schedule(self.flush)

    def push_market(
        self, key: Hashable, frame: bytes, values: Mapping[int, str], reencode: Reencode
    ) -> None:
        """Queue conflatable market data for `key` (the stream's topic).

        `frame` is the complete text frame of `reencode(values)`, built once by the caller and
        shared by every subscriber (see `protocol.frames.text_frame`); `values` is only read,
        never modified, so one mapping may be shared by many outboxes. When conflated, the
        pending frame for `key` is rebuilt from `reencode(merged values)` when written.
        """
        self.push_market_item((key, frame, values, reencode))

    def _congest(self) -> None:
        # The transport's buffer is over `high_water`: hold, and wait for the shell's drain.
        self._hold_turn()
        self._awaiting_drain = True
        self._on_congested()

    def _write(self) -> None:
        turn = self._turn
        if self._held:
            parts: list[bytes] = []
            add = parts.append
            for entry in self._held.values():
                if isinstance(entry, bytes):
                    add(entry)
                elif entry.own is not None:
                    add(text_frame(entry.reencode(entry.own)))
                else:
                    add(entry.frame)
            parts.extend(map(_FRAME, turn))
            data, frames = b"".join(parts), len(parts)
        else:
            data, frames = b"".join(map(_FRAME, turn)), len(turn)
        # Emptied before the write, so a frame pushed from inside it (a transport or sample
        # callback that pushes) is kept for the next flush instead of being discarded with
        # what was written.
        self._discard_pending()
        self.transport.write(data)
        self._frames_written += frames
        self._writes += 1
        self._bytes_written += len(data)
        if self._on_write_sample is not None and self._writes & _SAMPLE_MASK == 1:
            self._on_write_sample(len(data))

    def _hold_turn(self) -> None:
        """Move this turn's frames into the conflating store, merging market data per key."""
        self._conflating = True
        turn, self._turn = self._turn, []
        for item in turn:
            if item[0] is _RELIABLE:
                self._held[self._seq] = item[1]
                self._seq += 1
            else:
                self._pending_bytes -= len(item[1])  # re-counted by _hold_market
                self._hold_market(*item)

    def _hold_market(
        self, key: Hashable, frame: bytes, values: Mapping[int, str], reencode: Reencode
    ) -> None:
        slot = (key,)
        held = self._held.pop(slot, None)
        self._pending_bytes += len(frame)
        if not isinstance(held, _Held):  # nothing pending for this key
            self._held[slot] = _Held(frame, values, reencode)
            return
        self._conflated += 1
        self._pending_bytes -= len(held.frame)
        held.frame = frame
        if held.values.keys() <= values.keys():
            # The new frame covers every pending field: it replaces the old one as it is.
            held.values, held.own = values, None
        else:
            own = held.own if held.own is not None else dict(held.values)
            own.update(values)
            held.values = held.own = own
        held.reencode = reencode
        # Re-inserting moves the frame to the end: it now stands where the latest change was
        # pushed, so it cannot overtake any frame pushed before that change.
        self._held[slot] = held

    def _overflow(self, wanted: int) -> None:
        self._close()
        self._on_overflow(
            f"slow consumer: {wanted} bytes of account events and replies could not be "
            f"delivered within {self.limit_bytes} bytes"
        )

    def _close(self) -> None:
        self._closed = True
        self._discard_pending()

    def _discard_pending(self) -> None:
        self._turn.clear()
        self._held.clear()
        self._conflating = False
        self._reliable_bytes = 0
        self._pending_bytes = 0


# Slots of the outbox itself, beside its core's (one outbox per connection: keep it small).
_OWN_SLOTS = ("_conflated", "_on_congested", "_on_overflow", "_seq")


class Outbox(_OutboxLogic, OutboxCore):
    """Frames for one connection. Not thread-safe: use it from the event loop's thread only.

    `flush()` writes everything pending as ONE transport write, unless the transport is
    congested: if its buffer is above `high_water`, nothing is written, pending market data
    starts conflating and `on_congested()` is called once; the caller is expected to call
    `flush()` again when the socket has drained. If the transport is closing, everything
    pending is dropped and the outbox closes. `push_market_item(item)` is `push_market` with
    its arguments as one tuple, which a channel builds once and hands to every subscriber.
    """

    __slots__ = _OWN_SLOTS


@cache
def outbox_on(implementation: str) -> type[Outbox]:
    """The outbox class on the core named `implementation` (a key of
    `fanout.IMPLEMENTATIONS`), so tests can run both cores in one process; `Outbox` is the
    class on the active one. Raises KeyError for a core that is not available here."""
    core = IMPLEMENTATIONS[implementation].OutboxCore
    if core is OutboxCore:
        return Outbox
    # The same class on another core: an Outbox in all but its base (isinstance excepted).
    return cast(
        "type[Outbox]",
        type("Outbox", (_OutboxLogic, core), {"__slots__": _OWN_SLOTS, "__doc__": Outbox.__doc__}),
    )


class TurnBatcher:
    """Runs every outbox flush requested during one event-loop turn from ONE loop callback.

    An outbox asks for `flush` once per turn; with many connections that is one loop callback
    per connection per turn. A batcher is passed as the outboxes' `schedule` instead: it queues
    the flushes and asks the loop (through `call_soon`) for a single callback that runs them all,
    in request order. Not thread-safe: the event loop's thread only.
    """

    def __init__(self, call_soon: Callable[[Callable[[], None]], object]) -> None:
        self._call_soon = call_soon
        self._pending: list[Callable[[], None]] = []

    def __call__(self, flush: Callable[[], None]) -> None:
        if not self._pending:
            self._call_soon(self._run)
        self._pending.append(flush)

    def _run(self) -> None:
        pending, self._pending = self._pending, []
        for flush in pending:
            flush()
