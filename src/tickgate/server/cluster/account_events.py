"""The core's account events for edges: published after they are stored, numbered, and the
day's state on request, so an edge can rebuild what it missed.

Subjects (under the bus prefix): `account.event` carries every event the trading journal
publishes, in the journal's order (stored events after their commit, P&L after the commit
that changed it), each with the next number of one per-cluster sequence; `account.day` is a
request whose reply is the `DaySnapshot` as of the last number handed out, in chunks when it
is bigger than a message may be (see `account_wire`).

Every `mark_interval_s` in which no event left, a mark carries the last number, so an edge
that missed the last events (a core killed before they left, then restarted with nothing to
say) sees the gap within that interval.

P&L moves with every quote of a held position; the journal publishes each move, and the edges'
account streams send at most one P&L frame a second per topic anyway. So a mark-driven
`PnlChanged` waits up to `pnl_interval_s`, and a newer one of the same account replaces it;
any other event first sends the P&L waiting before it, so the journal's order is kept.

Guarantees: numbers grow by one per event, starting above any number an earlier run of a core
handed out (they start at the host clock's ns, like the market data's), so an edge sees a gap
or a restarted core as a jump. Events leave in number order from one writer task; nothing is
dropped here while the writer keeps up (the queue is unbounded: account events are rare next
to ticks, and every one counts). Across a bus outage nats-py keeps what it can; an edge
re-syncs after its own reconnect anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.clock import NS_PER_DAY, Clock
from tickgate.server.cluster.account_wire import (
    AccountWireError,
    DaySnapshot,
    decode_chunk_request,
    encode_chunk,
    encode_event,
    encode_mark,
    encode_snapshot,
)
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import PnlChanged, TradingEvent

log = logging.getLogger("tickgate.cluster.accounts")

#: Day snapshots in chunks the core holds for followers still fetching them (newest kept).
HELD_SNAPSHOTS = 4
#: How far back a day snapshot's fills reach: the most a `str` subscription asks for.
FILL_DAYS = 7


def event_subject(prefix: str) -> str:
    return f"{prefix}.account.event"


def day_subject(prefix: str) -> str:
    return f"{prefix}.account.day"


class AccountEventPublisher:
    """Publishes one core's account events and answers day-snapshot requests. Create with
    `await AccountEventPublisher.start(bus, trading, clock)`; `close` ends both."""

    def __init__(
        self,
        bus: NatsBus,
        trading: TradingEngine,
        clock: Clock,
        *,
        mark_interval_s: float = 1.0,
        pnl_interval_s: float = 0.1,
        chunk_bytes: int = 512 << 10,
    ) -> None:
        self.bus, self.trading, self.clock = bus, trading, clock
        self.mark_interval_s = mark_interval_s
        self.pnl_interval_s = pnl_interval_s
        self._pending_pnl: dict[str, PnlChanged] = {}
        #: At most this much of a day snapshot per message (below the server's max_payload).
        self.chunk_bytes = chunk_bytes
        self._snapshots: dict[str, list[bytes]] = {}
        self._pnl_timer: asyncio.TimerHandle | None = None
        self.seq = clock.host_ns()
        self.published = 0
        self.snapshots_served = 0
        self.chunks_served = 0
        #: Events nats-py could not take during an outage (logged once per outage).
        self.unsent = 0
        self._dropping = False
        self._subject = event_subject(bus.prefix)
        self._outgoing: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sent_since_mark = False
        self._writer = asyncio.create_task(self._write_loop(), name="account-events-writer")
        self._marker = asyncio.create_task(self._mark_loop(), name="account-events-marks")
        self._forget = trading.journal.add_listener(self._on_event)
        self._subscription: Subscription | None = None

    @classmethod
    async def start(
        cls,
        bus: NatsBus,
        trading: TradingEngine,
        clock: Clock,
        *,
        mark_interval_s: float = 1.0,
        chunk_bytes: int = 512 << 10,
    ) -> AccountEventPublisher:
        """Start publishing; the first mark leaves at once (followers of an earlier run of
        the core see the jump in numbers)."""
        publisher = cls(
            bus, trading, clock, mark_interval_s=mark_interval_s, chunk_bytes=chunk_bytes
        )
        publisher._subscription = await bus.client.subscribe(
            day_subject(bus.prefix), cb=publisher._on_day_request
        )
        await bus.round_trip()
        return publisher

    def _on_event(self, event: TradingEvent) -> None:
        # A journal listener: runs right after the event is stored and applied.
        if isinstance(event, PnlChanged):
            self._pending_pnl[event.account] = event
            if self._pnl_timer is None:
                loop = asyncio.get_running_loop()
                self._pnl_timer = loop.call_later(self.pnl_interval_s, self._send_pnl)
            return
        self._send_pnl()
        self._send(event)

    def _send(self, event: TradingEvent) -> None:
        self.seq += 1
        self._queue(encode_event(self.seq, event))

    def _send_pnl(self) -> None:
        if self._pnl_timer is not None:
            self._pnl_timer.cancel()
            self._pnl_timer = None
        pending, self._pending_pnl = self._pending_pnl, {}
        for event in pending.values():
            self._send(event)

    def _queue(self, message: bytes) -> None:
        self._outgoing.append(message)
        self._sent_since_mark = True
        self._idle.clear()
        self._wake.set()

    async def _mark_loop(self) -> None:
        while True:
            if not self._sent_since_mark or not self.published:
                self._queue(encode_mark(self.seq))
            self._sent_since_mark = False
            await asyncio.sleep(self.mark_interval_s)

    async def _write_loop(self) -> None:
        client, outgoing = self.bus.client, self._outgoing
        while True:
            await self._wake.wait()
            self._wake.clear()
            while outgoing:
                try:
                    await client.publish(self._subject, outgoing[0])
                except nats.errors.OutboundBufferLimitError:
                    # Disconnected and nats-py's buffer is full: edges re-sync when they are
                    # back; this one cannot be sent and is not retried.
                    self.unsent += 1
                    if self.unsent == 1 or not self._dropping:
                        log.warning("account events not sent during a bus outage (re-synced)")
                    self._dropping = True
                except nats.errors.ConnectionClosedError:
                    return
                else:
                    self.published += 1
                    self._dropping = False
                outgoing.popleft()
            self._idle.set()

    def snapshot(self) -> DaySnapshot:
        """The day's state and the number of the last event it reflects (read in one step)."""
        views = self.trading.views
        orders = views.todays_orders()  # settles first: what it publishes gets numbers now
        self._send_pnl()  # the figures below are these or newer
        since = self.clock.now_ns() - FILL_DAYS * NS_PER_DAY
        return DaySnapshot(
            seq=self.seq,
            session_start_ns=self.trading.state.session_start_ns,
            accounts=views.accounts(),
            orders=orders,
            fills=views.fills_since(since),
            pnl=[views.pnl_event(account) for account in views.accounts()],
        )

    async def _on_day_request(self, msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            asked = decode_chunk_request(msg.data)
        except AccountWireError as exc:
            log.warning("ignoring a day-snapshot request: %s", exc)
            return
        if asked is None:
            answer = self._new_snapshot()
        else:
            snapshot_id, index = asked
            held = self._snapshots.get(snapshot_id)
            if held is None or not 0 <= index < len(held):
                answer = encode_chunk(snapshot_id, index, 0, b"")  # gone: ask for a new one
            else:
                answer = encode_chunk(snapshot_id, index, len(held), held[index])
        self.chunks_served += 1
        with contextlib.suppress(nats.errors.Error):
            await self.bus.client.publish(msg.reply, answer)

    def _new_snapshot(self) -> bytes:
        self.snapshots_served += 1
        data = encode_snapshot(self.snapshot())
        size = max(1024, min(self.chunk_bytes, self.bus.client.max_payload - 1024))
        chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        snapshot_id = f"{self.seq}-{self.snapshots_served}"
        if len(chunks) > 1:
            # Held for the follower's next requests; only the newest few, a busy day's
            # snapshot is megabytes.
            self._snapshots[snapshot_id] = chunks
            while len(self._snapshots) > HELD_SNAPSHOTS:
                del self._snapshots[next(iter(self._snapshots))]
        return encode_chunk(snapshot_id, 0, len(chunks), chunks[0])

    async def flush(self) -> None:
        """Return once every event published so far (P&L held back too) was handed to
        nats-py and the server."""
        self._send_pnl()
        await self._idle.wait()
        await self.bus.round_trip()

    async def close(self) -> None:
        self._forget()
        if self._pnl_timer is not None:
            self._pnl_timer.cancel()
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None
        for task in (self._marker, self._writer):
            task.cancel()
        await asyncio.gather(self._marker, self._writer, return_exceptions=True)
