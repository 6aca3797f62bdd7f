"""Fan-out of account events (orders, fills, P&L) to account-topic subscribers.

Guarantees:
- Account events are reliable: they go to outboxes with `push`, never conflated or dropped; a
  reader too slow for them is disconnected by its outbox's overflow policy.
- Each event is rendered once per topic (not once per subscriber) and the same bytes go to every
  subscriber of that topic.
- A subscriber given a snapshot (`subscribe(..., snapshot=frames)`) receives those frames first
  and then every event of the topic published after it subscribed, in order, however long the
  snapshot takes to deliver (see `streaming.backlog`).
- P&L events are rate-limited per topic: at most one frame per `pnl_interval_ns`, carrying the
  latest figures, and only when they changed (the engine publishes only changes).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from tickgate.clock import NS_PER_S
from tickgate.streaming.backlog import Backlog
from tickgate.streaming.outbox import Outbox
from tickgate.trading.events import PnlChanged, TradingEvent

#: Renders one event for one topic; None when the event does not concern the topic.
Renderer = Callable[[TradingEvent], bytes | None]


@dataclass(eq=False, slots=True)
class _Topic:
    renderer: Renderer
    outboxes: set[Outbox] = field(default_factory=set)
    #: Subscribers still owed a snapshot: their live frames queue behind it.
    backlogs: dict[Outbox, Backlog] = field(default_factory=dict)
    pending_pnl: list[PnlChanged] = field(default_factory=list)
    last_pnl_ns: int | None = None
    #: The last P&L frame sent per account: figures that moved and came back are not resent.
    last_pnl: dict[str, bytes] = field(default_factory=dict)


class AccountStreams:
    """Account topics keyed by the caller (e.g. `("portal", "DU1234567")` or `("sor", None)`)."""

    def __init__(self, *, pnl_interval_ns: int = NS_PER_S) -> None:
        self.pnl_interval_ns = pnl_interval_ns
        self._topics: dict[Hashable, _Topic] = {}

    def subscribe(
        self,
        key: Hashable,
        outbox: Outbox,
        renderer: Renderer,
        *,
        snapshot: Iterable[bytes] | None = None,
    ) -> Backlog | None:
        """Add `outbox` to topic `key` (idempotent). The first subscriber's renderer is kept.

        `snapshot` frames (taken now, rendered lazily) are delivered before any later event of
        the topic. What fits the outbox is pushed at once; the rest is returned as a `Backlog`
        that the caller must `pump()` each time the outbox has drained until it is done. None
        when nothing is left to pump (or a pump already running for this outbox will do it).
        """
        topic = self._topics.get(key)
        if topic is None:
            topic = self._topics[key] = _Topic(renderer)
        topic.outboxes.add(outbox)
        if snapshot is None:
            return None
        backlog = topic.backlogs.get(outbox)
        if backlog is not None and not backlog.done:
            backlog.add_snapshot(snapshot)  # its pump is running: it delivers this one too
            return None
        backlog = Backlog(outbox)
        backlog.add_snapshot(snapshot)
        if backlog.pump():
            topic.backlogs.pop(outbox, None)
            return None
        topic.backlogs[outbox] = backlog
        return backlog

    def unsubscribe(self, key: Hashable, outbox: Outbox) -> bool:
        """Remove `outbox` from topic `key`; False when it was not subscribed."""
        topic = self._topics.get(key)
        if topic is None or outbox not in topic.outboxes:
            return False
        topic.outboxes.discard(outbox)
        backlog = topic.backlogs.pop(outbox, None)
        if backlog is not None:
            backlog.drop()
        if not topic.outboxes:
            del self._topics[key]
        return True

    def topics_of(self, outbox: Outbox) -> list[Hashable]:
        """The keys of every topic `outbox` is subscribed to (a scan of the topics: for
        inspection, not for hot paths)."""
        return [key for key, topic in self._topics.items() if outbox in topic.outboxes]

    def drop(self, outbox: Outbox) -> None:
        """The connection is gone: remove it from every topic."""
        for key in self.topics_of(outbox):
            self.unsubscribe(key, outbox)

    def on_event(self, event: TradingEvent, now_ns: int) -> None:
        """The trading engine's listener: render and push `event` to every interested topic."""
        for topic in list(self._topics.values()):
            if isinstance(event, PnlChanged):
                topic.pending_pnl.append(event)
                self._flush_pnl(topic, now_ns)
            else:
                self._push(topic, topic.renderer(event))

    def publish(self, key: Hashable, payload: bytes) -> None:
        """Push a frame rendered elsewhere (a notification that is no trading event) to every
        subscriber of topic `key`, with the same guarantees as a rendered event; nothing when
        the topic has no subscriber."""
        topic = self._topics.get(key)
        if topic is not None:
            self._push(topic, payload)

    def flush_due(self, now_ns: int) -> None:
        """Send P&L held back by the rate limit once its interval has passed."""
        for topic in list(self._topics.values()):
            if topic.pending_pnl:
                self._flush_pnl(topic, now_ns)

    def _flush_pnl(self, topic: _Topic, now_ns: int) -> None:
        if topic.last_pnl_ns is not None and now_ns - topic.last_pnl_ns < self.pnl_interval_ns:
            return
        latest: dict[str, PnlChanged] = {}
        for event in topic.pending_pnl:
            latest[event.account] = event
        topic.pending_pnl.clear()
        sent = False
        for account, event in latest.items():
            payload = topic.renderer(event)
            if payload is None or topic.last_pnl.get(account) == payload:
                continue
            topic.last_pnl[account] = payload
            sent = True
            self._push(topic, payload)
        if sent:
            topic.last_pnl_ns = now_ns

    @staticmethod
    def _push(topic: _Topic, payload: bytes | None) -> None:
        if payload is None:
            return
        backlogs = topic.backlogs
        for outbox in list(topic.outboxes):
            backlog = backlogs.get(outbox) if backlogs else None
            if backlog is None:
                outbox.push(payload)
            elif backlog.done:
                del backlogs[outbox]
                outbox.push(payload)
            else:
                backlog.hold(payload)
