"""A market-data channel: the subscribers sharing one (conid, fields, tempo, dialect).

A channel filters each change to its fields, encodes it ONCE and hands the same bytes to every
subscriber's outbox. With a tempo it first merges changes into a pending map that the hub
flushes on the channel's deadline grid (start + k·tempo).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tickgate.clock import NS_PER_MS
from tickgate.protocol.frames import text_frame
from tickgate.streaming.fanout import publish
from tickgate.streaming.outbox import Outbox

#: `(conid, values, ts_ns) -> JSON payload` of one market-data frame in a dialect's shape.
MarketEncoder = Callable[[int, Mapping[int, str], int], bytes]
#: `(conid, sorted unique fields, tempo_ms, dialect)`: subscriptions with equal keys share.
ChannelKey = tuple[int, tuple[int, ...], int, str]


class Channel:
    """One shared stream. Owned by the hub; subscribers are outboxes, in subscription order."""

    __slots__ = (
        "closed",
        "conid",
        "due_ns",
        "encoder",
        "field_set",
        "fields",
        "key",
        "pending",
        "pending_ts",
        "reencode",
        "start_ns",
        "subscribers",
        "tempo_ns",
        "topic_key",
        "ts_ns",
    )

    def __init__(self, key: ChannelKey, encoder: MarketEncoder, start_ns: int) -> None:
        self.key = key
        self.conid, self.fields, tempo_ms, dialect = key
        self.field_set = frozenset(self.fields)
        self.tempo_ns = tempo_ms * NS_PER_MS
        self.encoder = encoder
        self.start_ns = start_ns
        # The outbox conflation key: one stream per (dialect, conid) per connection.
        self.topic_key = (dialect, self.conid)
        # A tuple, replaced on change, so fan-out may iterate it while callbacks unsubscribe.
        self.subscribers: tuple[Outbox, ...] = ()
        self.pending: dict[int, str] = {}
        self.pending_ts = 0
        self.due_ns: int | None = None
        self.ts_ns = 0
        self.closed = False
        self.reencode = self._reencode

    def add(self, outbox: Outbox) -> None:
        """Add a subscriber (the hub guarantees it is not one already)."""
        self.subscribers = (*self.subscribers, outbox)

    def remove(self, outbox: Outbox) -> None:
        """Remove a subscriber; a no-op if it is not one."""
        self.subscribers = tuple(o for o in self.subscribers if o is not outbox)

    def select(self, changed: Mapping[int, str]) -> dict[int, str]:
        """The part of `changed` this channel streams (a new dict, possibly empty)."""
        wanted = self.field_set
        return {fid: value for fid, value in changed.items() if fid in wanted}

    def merge(self, values: dict[int, str], ts_ns: int) -> bool:
        """Merge `values` (taken over, not copied) into the pending map.

        Returns True if the channel was clean before, i.e. it now needs a deadline.
        """
        self.pending_ts = ts_ns
        if self.pending:
            self.pending.update(values)
            return False
        self.pending = values
        return True

    def take_pending(self) -> tuple[dict[int, str], int]:
        """The pending map and the time of its latest change; the channel is clean after."""
        values, self.pending, self.due_ns = self.pending, {}, None
        return values, self.pending_ts

    def next_deadline(self, now_ns: int) -> int:
        """The first grid point `start + k·tempo` strictly after `now_ns` (k >= 1)."""
        elapsed = max(0, now_ns - self.start_ns)
        return self.start_ns + (elapsed // self.tempo_ns + 1) * self.tempo_ns

    def publish(self, values: Mapping[int, str], ts_ns: int) -> int:
        """Encode `values` once and push the bytes to every subscriber; returns deliveries."""
        self.ts_ns = ts_ns
        # Encoded and framed once: every subscriber gets the very same bytes.
        item = (self.topic_key, text_frame(self.encoder(self.conid, values, ts_ns)), values,
                self.reencode)  # fmt: skip
        subscribers = self.subscribers
        # The fan-out loop itself: in C when the extension is built (streaming.fanout).
        publish(subscribers, item)
        return len(subscribers)

    def _reencode(self, values: Mapping[int, str]) -> bytes:
        # Used by outboxes that merged several frames of this stream while congested.
        return self.encoder(self.conid, values, self.ts_ns)
