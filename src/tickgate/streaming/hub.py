"""The streaming hub: subscriptions, shared channels, tempo deadlines and fan-out to outboxes.

Guarantees:
- Subscriptions with the same `(conid, fields, tempo_ms, dialect)` share one channel; a change
  is filtered and encoded once per channel, and the same bytes go to every subscriber.
- The hub is the one owner of market-data subscriptions: an outbox has at most one
  `MarketSubscription` per `(conid, dialect)` (subscribing again replaces it), and the dialects,
  the line limits and the expiry deadlines all ask the hub rather than keep copies.
- Market-data lines are distinct conids streamed to anyone (`lines_in_use`).
- Whoever needs to know which conids anyone wants (a relay holding upstream lines) listens
  with `add_interest_listener` instead of keeping a second record: it hears the union of a
  conid's streamed fields whenever a channel of that conid opens or closes.
- `on_market` only touches the channels of the changed conid; channels disappear with their
  last subscriber.
- tempo 0: each change is pushed at once (only the subscribed fields that changed; nothing if
  none did). tempo > 0: changes merge into the channel's pending map, pushed once at the first
  deadline `start + k·tempo` (monotonic ns) after the change, only if something changed, with
  the timestamp of the latest merged change.

The hub is owned by the event loop's thread and never blocks; the shell drives tempo flushes
with `next_due_ns()` and `flush_due(now_ns)`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from typing import Protocol

from tickgate.clock import Clock
from tickgate.protocol.frames import text_frame
from tickgate.streaming.channel import Channel, ChannelKey, MarketEncoder
from tickgate.streaming.outbox import Outbox

__all__ = [
    "HubStats",
    "InterestListener",
    "MarketEncoder",
    "MarketSubscription",
    "SnapshotStore",
    "StreamingHub",
]

#: Told `(conid, fields)`: the sorted union of the fields anyone streams of `conid`, `()` once
#: nobody does.
InterestListener = Callable[[int, tuple[int, ...]], None]

# Stale deadline entries (of closed channels) are purged once they outnumber this and the live.
_STALE_PURGE_MIN = 64


class SnapshotStore(Protocol):
    """What the hub needs from the market engine."""

    def snapshot(self, conid: int, fields: tuple[int, ...], /) -> Mapping[int, str]:
        """The current values of those `fields` of `conid` that have one."""
        ...

    def updated_ns(self, conid: int, /) -> int | None:
        """When a value of `conid` last changed (its tick's own time), None if none did."""
        ...


@dataclass(frozen=True, slots=True)
class HubStats:
    """Current channels and subscriptions; frames encoded and pushed to outboxes since start;
    `deadlines` is the size of the tempo deadline queue (including not yet purged stale ones)."""

    channels: int
    subscriptions: int
    frames_encoded: int
    frames_delivered: int
    deadlines: int = 0


@dataclass(eq=False, slots=True)
class MarketSubscription:
    """One outbox's stream of one conid in one dialect: the only record of it."""

    conid: int
    dialect: str
    channel: Channel
    #: Monotonic ns at which the stream ends unless renewed; None: it never expires.
    expires_ns: int | None = None

    @property
    def fields(self) -> tuple[int, ...]:
        """The streamed field ids (sorted, unique)."""
        return self.channel.fields

    @property
    def tempo_ms(self) -> int:
        """The stream's tempo: 0 pushes each change at once, else merged changes every N ms."""
        return self.channel.key[2]


class StreamingHub:
    """Market-data fan-out for every connection of one server."""

    def __init__(self, store: SnapshotStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._channels: dict[ChannelKey, Channel] = {}
        self._by_conid: dict[int, tuple[Channel, ...]] = {}
        self._subs: dict[Outbox, dict[tuple[int, str], MarketSubscription]] = {}
        self._sub_count = 0
        self._deadlines: list[tuple[int, int, Channel]] = []
        self._order = itertools.count()
        self._stale = 0
        self._encoded = 0
        self._delivered = 0
        self._interest_listeners: list[InterestListener] = []
        self._lines_elsewhere: Callable[[], Set[int]] = frozenset

    def add_interest_listener(self, listener: InterestListener) -> None:
        """Call `listener` whenever a channel of a conid opens or closes, with the union of
        the fields streamed of that conid (`()` when it is no longer streamed). Called
        synchronously, inside the subscribe/unsubscribe that caused it; it must not raise."""
        self._interest_listeners.append(listener)

    def interest(self, conid: int) -> tuple[int, ...]:
        """The sorted union of the fields anyone streams of `conid` (`()` when nobody)."""
        return tuple(sorted({f for c in self._by_conid.get(conid, ()) for f in c.fields}))

    def wanted_conids(self) -> list[int]:
        """Every conid streamed to anyone."""
        return list(self._by_conid)

    def subscribe_market(
        self,
        outbox: Outbox,
        conid: int,
        fields: tuple[int, ...],
        *,
        tempo_ms: int,
        snapshot: bool,
        dialect: str,
        encoder: MarketEncoder,
        expires_ns: int | None = None,
    ) -> MarketSubscription:
        """Stream `fields` of `conid` to `outbox`, replacing its `(conid, dialect)` stream;
        returns the subscription's record (`expires_ns` set as given).

        With `snapshot`, ONE frame with every currently known value of those fields is pushed
        at once, even with no value yet (the frame confirms the subscription). Raises
        ValueError for empty `fields`, a negative
        tempo, or an `encoder` other than the one of the channel it would join (a dialect has
        one encoder); exceptions of the store (e.g. NotFoundError) propagate. Nothing changes
        when it raises.
        """
        key = self._key(conid, fields, tempo_ms, dialect)
        channel = self._channels.get(key)
        if channel is not None and channel.encoder != encoder:
            raise ValueError(f"dialect {dialect!r} already streams with another encoder")
        known = self._store.snapshot(conid, key[1]) if snapshot else None
        if channel is None:
            channel = self._open(key, encoder)
        mine = self._subs.setdefault(outbox, {})
        subscription = mine.get((conid, dialect))
        if subscription is None:
            self._sub_count += 1
            subscription = mine[(conid, dialect)] = MarketSubscription(conid, dialect, channel)
            channel.add(outbox)
        elif subscription.channel is not channel:
            self._leave(subscription.channel, outbox)
            subscription.channel = channel
            channel.add(outbox)
        subscription.expires_ns = expires_ns
        if known is not None:
            self._push_snapshot(channel, outbox, known)
        return subscription

    def unsubscribe_market(self, outbox: Outbox, conid: int, dialect: str) -> bool:
        """Stop the `(conid, dialect)` stream of `outbox`; False if there was none."""
        mine = self._subs.get(outbox)
        subscription = mine.pop((conid, dialect), None) if mine is not None else None
        if subscription is None:
            return False
        self._sub_count -= 1
        self._leave(subscription.channel, outbox)
        if not mine:
            del self._subs[outbox]
        return True

    def subscriptions(self, outbox: Outbox, dialect: str | None = None) -> int:
        """How many streams `outbox` has (in `dialect`, or in all), for market-data line limits."""
        mine = self._subs.get(outbox, {})
        if dialect is None:
            return len(mine)
        return sum(1 for _, d in mine if d == dialect)

    def subscription(self, outbox: Outbox, conid: int, dialect: str) -> MarketSubscription | None:
        """The `(conid, dialect)` stream of `outbox`, or None."""
        mine = self._subs.get(outbox)
        return None if mine is None else mine.get((conid, dialect))

    def subscriptions_of(self, outbox: Outbox, dialect: str) -> list[MarketSubscription]:
        """Every stream of `outbox` in `dialect`, in subscription order."""
        mine = self._subs.get(outbox, {})
        return [s for s in mine.values() if s.dialect == dialect]

    def streams_of(self, outbox: Outbox) -> list[MarketSubscription]:
        """Every stream of `outbox`, of any dialect, in subscription order."""
        return list(self._subs.get(outbox, {}).values())

    def lines_in_use(self) -> int:
        """Market-data lines in use: distinct conids streamed to any outbox."""
        return len(self._by_conid)

    def would_exceed_lines(self, conid: int, limit: int) -> bool:
        """True when streaming `conid` would take a new line beyond `limit` (a conid already
        streamed to anyone costs nothing more, here or, in a cluster, on another member)."""
        if conid in self._by_conid:
            return False
        elsewhere = self._lines_elsewhere()
        if not elsewhere:
            return len(self._by_conid) >= limit
        return conid not in elsewhere and len(elsewhere | self._by_conid.keys()) >= limit

    def count_lines_elsewhere(self, conids: Callable[[], Set[int]]) -> None:
        """Count the conids `conids()` names (streamed by other members of a cluster, whose
        session shares the lines) in `would_exceed_lines` too."""
        self._lines_elsewhere = conids

    def next_expiry_ns(self, outbox: Outbox, dialect: str) -> int | None:
        """The earliest `expires_ns` of the `dialect` streams of `outbox`, or None."""
        due = [s.expires_ns for s in self.subscriptions_of(outbox, dialect) if s.expires_ns]
        return min(due) if due else None

    def expire(self, outbox: Outbox, dialect: str, now_ns: int) -> list[int]:
        """End the `dialect` streams of `outbox` whose `expires_ns` <= `now_ns`; their conids."""
        ended = [
            s.conid
            for s in self.subscriptions_of(outbox, dialect)
            if s.expires_ns is not None and s.expires_ns <= now_ns
        ]
        for conid in ended:
            self.unsubscribe_market(outbox, conid, dialect)
        return ended

    def expire_all(self, dialect: str, now_ns: int) -> int:
        """Make every `dialect` stream of every outbox due to expire at `now_ns` (an injected
        fault); each connection then ends them as its own expiry would. How many were marked."""
        marked = 0
        for mine in self._subs.values():
            for subscription in mine.values():
                if subscription.dialect == dialect:
                    subscription.expires_ns = now_ns
                    marked += 1
        return marked

    def drop(self, outbox: Outbox) -> None:
        """Forget every subscription of `outbox` (its connection is gone). Idempotent."""
        for subscription in self._subs.pop(outbox, {}).values():
            self._sub_count -= 1
            self._leave(subscription.channel, outbox)

    def on_market(self, conid: int, changed: dict[int, str], ts_ns: int) -> None:
        """The market engine's listener: fan `changed` out to the channels of `conid`.

        `changed` is read, never modified. Hot path: no allocation beyond one filtered dict
        per interested channel.
        """
        channels = self._by_conid.get(conid)
        if channels is None:
            return
        for channel in channels:
            values = channel.select(changed)
            if not values:
                continue
            if not channel.tempo_ns:
                self._encoded += 1
                self._delivered += channel.publish(values, ts_ns)
            elif channel.merge(values, ts_ns):
                due = channel.next_deadline(self._clock.monotonic_ns())
                channel.due_ns = due
                heapq.heappush(self._deadlines, (due, next(self._order), channel))

    def flush_due(self, now_ns: int) -> int:
        """Push the pending map of every tempo channel whose deadline is <= `now_ns`
        (monotonic ns). Returns the number of frames encoded."""
        frames = 0
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now_ns:
            _, _, channel = heapq.heappop(deadlines)
            if channel.closed:  # it lost its last subscriber after the deadline was set
                self._stale -= 1
                continue
            values, ts_ns = channel.take_pending()
            self._delivered += channel.publish(values, ts_ns)
            frames += 1
        self._encoded += frames
        return frames

    def next_due_ns(self) -> int | None:
        """The earliest pending tempo deadline (monotonic ns), or None if nothing is pending."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].closed:
            heapq.heappop(deadlines)
            self._stale -= 1
        return deadlines[0][0] if deadlines else None

    def stats(self) -> HubStats:
        """Counters for monitoring and tests."""
        return HubStats(
            len(self._channels),
            self._sub_count,
            self._encoded,
            self._delivered,
            len(self._deadlines),
        )

    @staticmethod
    def _key(conid: int, fields: tuple[int, ...], tempo_ms: int, dialect: str) -> ChannelKey:
        if not fields:
            raise ValueError("a market-data subscription needs at least one field")
        if tempo_ms < 0:
            raise ValueError(f"tempo_ms must be >= 0, got {tempo_ms}")
        # Field order means nothing in a JSON object: sorting lets more subscriptions share.
        return (conid, tuple(sorted(set(fields))), tempo_ms, dialect)

    def _open(self, key: ChannelKey, encoder: MarketEncoder) -> Channel:
        channel = Channel(key, encoder, self._clock.monotonic_ns())
        self._channels[key] = channel
        self._by_conid[channel.conid] = (*self._by_conid.get(channel.conid, ()), channel)
        self._tell_interest(channel.conid)
        return channel

    def _tell_interest(self, conid: int) -> None:
        if self._interest_listeners:
            fields = self.interest(conid)
            for listener in self._interest_listeners:
                listener(conid, fields)

    def _leave(self, channel: Channel, outbox: Outbox) -> None:
        channel.remove(outbox)
        if channel.subscribers:
            return
        channel.closed = True
        del self._channels[channel.key]
        rest = tuple(c for c in self._by_conid[channel.conid] if c is not channel)
        if rest:
            self._by_conid[channel.conid] = rest
        else:
            del self._by_conid[channel.conid]
        self._tell_interest(channel.conid)
        if channel.due_ns is not None:
            self._stale += 1
            self._purge_stale()

    def _purge_stale(self) -> None:
        # Deadlines of closed channels are left in the heap (removal is O(n)); rebuild it when
        # they dominate, so subscribe/unsubscribe churn cannot grow it without bound.
        if self._stale > _STALE_PURGE_MIN and self._stale * 2 > len(self._deadlines):
            self._deadlines = [e for e in self._deadlines if not e[2].closed]
            heapq.heapify(self._deadlines)
            self._stale = 0

    def _push_snapshot(self, channel: Channel, outbox: Outbox, known: Mapping[int, str]) -> None:
        # Sent even when no requested field has a value yet: the frame confirms the
        # subscription (ibind waits for one, reference rule 10).
        values = {fid: known[fid] for fid in channel.fields if fid in known}
        # Stamped as the updates are, with the time of the last change (ticks carry their own
        # time): stamped now, the next update's older tick time went backwards.
        ts_ns = self._store.updated_ns(channel.conid) or self._clock.now_ns()
        frame = text_frame(channel.encoder(channel.conid, values, ts_ns))
        outbox.push_market(channel.topic_key, frame, values, channel.reencode)
        self._encoded += 1
        self._delivered += 1
