"""An edge's view of the core's accounts: a replica fed by the core's numbered account
events, feeding the edge's own account streams, re-synced whenever an event may be missing.

Guarantees, for the edge's account topics (both dialects):
- every event the core published reaches them once, in the core's order, while the edge
  follows without a gap;
- an edge that may have missed events (it just started, its bus reconnected, a number was
  skipped, or the core restarted and numbers jumped) holds back what arrives, fetches the
  day's state from the core, pushes what changed against its replica (each fill it had not
  seen as a fill, each order whose state changed as an update, each account's figures when
  they moved), then the held-back events after the snapshot's number, and only then follows
  live again. A gap is always detected and repaired, never skipped: no fill is lost, though
  an order's intermediate states during the gap reach clients as its latest one;
- a subscribe on the edge answers from the replica (`AccountReplica`, an `AccountReads`),
  the same shapes the core's engine gives.
A snapshot that cannot be fetched (no core) is retried every `retry_s` while held-back events
wait; the edge's trading calls answer 503 meanwhile (`trading_forward`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.errors import NotFoundError, TickgateError
from tickgate.model.orders import Fill, Order
from tickgate.server.cluster.account_events import day_subject, event_subject
from tickgate.server.cluster.account_wire import (
    AccountWireError,
    DaySnapshot,
    decode_chunk,
    decode_event,
    decode_snapshot,
    encode_chunk_request,
)
from tickgate.trading.events import (
    OrderAccepted,
    OrderFilled,
    OrderUpdated,
    PnlChanged,
    SessionClosed,
    TradingEvent,
)

log = logging.getLogger("tickgate.cluster.accounts")

#: Where replicated events go: the edge's `AccountStreams.on_event` with its clock's time.
EventSink = Callable[[TradingEvent], None]


class AccountsNotReady(TickgateError):
    """The edge has not yet received the core's accounts (no core answered so far)."""


class AccountReplica:
    """The core's accounts as an edge knows them: the day's orders, recent fills, figures.

    Changed only by `apply` and `replace`; reads match `AccountViews`' shapes."""

    def __init__(self) -> None:
        self.ready = False
        self.session_start_ns = 0
        self._accounts: list[str] = []
        self._orders: dict[int, Order] = {}
        self._fills: list[Fill] = []
        self._executions: set[str] = set()
        self._pnl: dict[str, PnlChanged] = {}

    # --- AccountReads ---------------------------------------------------------------------

    def accounts(self) -> list[str]:
        self._check()
        return list(self._accounts)

    def todays_orders(self, account: str | None = None) -> list[Order]:
        self._check()
        start = self.session_start_ns
        return [
            o
            for _, o in sorted(self._orders.items())
            if (account is None or o.account == account) and (o.is_working or o.updated_ns >= start)
        ]

    def fills_since(self, since_ns: int, account: str | None = None) -> list[Fill]:
        self._check()
        return [
            f
            for f in self._fills
            if f.ts_ns >= since_ns and (account is None or f.account == account)
        ]

    def pnl_event(self, account: str) -> PnlChanged:
        self._check()
        try:
            return self._pnl[account]
        except KeyError:
            raise NotFoundError(f"Account {account} does not exist") from None

    def _check(self) -> None:
        if not self.ready:
            raise AccountsNotReady("this edge has not yet heard from the cluster's core")

    # --- changes --------------------------------------------------------------------------

    def apply(self, event: TradingEvent) -> None:
        """Take one live event into the replica."""
        if isinstance(event, PnlChanged):
            self._pnl[event.account] = event
        elif isinstance(event, SessionClosed):
            self.session_start_ns = event.ts_ns
        else:
            self._orders[event.order.order_id] = event.order
            if isinstance(event, OrderFilled) and event.fill.execution_id not in self._executions:
                self._executions.add(event.fill.execution_id)
                self._fills.append(event.fill)

    def replace(self, snapshot: DaySnapshot) -> list[TradingEvent]:
        """Become `snapshot`; returns what changed against the replica as events to push:
        each unseen fill (with its order as it is now), each other order whose state changed,
        each account's figures that moved."""
        changes: list[TradingEvent] = []
        orders = {o.order_id: o for o in snapshot.orders}
        filled: set[int] = set()
        for fill in snapshot.fills:
            if fill.execution_id not in self._executions and fill.order_id in orders:
                changes.append(OrderFilled(orders[fill.order_id], fill))
                filled.add(fill.order_id)
        for order_id, order in orders.items():
            if order_id in filled:
                continue
            before = self._orders.get(order_id)
            if before is None:
                changes.append(OrderAccepted(order))
            elif before != order:
                changes.append(OrderUpdated(order))
        for event in snapshot.pnl:
            if self._pnl.get(event.account) != event:
                changes.append(event)
        self.ready = True
        self.session_start_ns = snapshot.session_start_ns
        self._accounts = list(snapshot.accounts)
        self._orders = orders
        self._fills = list(snapshot.fills)
        self._executions = {f.execution_id for f in snapshot.fills}
        self._pnl = {p.account: p for p in snapshot.pnl}
        return changes


@dataclass(slots=True)
class FollowStats:
    delivered: int = 0
    duplicates: int = 0
    gaps: int = 0
    resyncs: int = 0
    snapshot_failures: int = 0
    bad_messages: int = 0


class AccountEventFollower:
    """Follows the core's account events on one edge; see the module's guarantees. `start`
    subscribes (its `replica` exists before, for whoever will read it); `close` ends the
    subscription and any re-sync in flight."""

    def __init__(
        self, bus: NatsBus, sink: EventSink, *, timeout_s: float = 2.0, retry_s: float = 0.5
    ) -> None:
        self.bus, self._sink = bus, sink
        self.replica = AccountReplica()
        self.stats = FollowStats()
        self._timeout_s, self._retry_s = timeout_s, retry_s
        self._last: int | None = None
        self._held: list[tuple[int, TradingEvent | None]] = []
        self._syncing = False
        self._resync_task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self.synced = asyncio.Event()

    async def start(self) -> None:
        """Subscribe, then fetch the day's state in the background (`synced` is set once it
        arrived; reads raise `AccountsNotReady` until then)."""
        self._subscription = await self.bus.client.subscribe(
            event_subject(self.bus.prefix), cb=self._on_message
        )
        await (
            self.bus.round_trip()
        )  # subscribed before asking: nothing after the snapshot is missed
        self.bus.add_reconnect_listener(lambda: self.resync("the bus reconnected"))
        self.resync("the edge started")

    @property
    def live(self) -> bool:
        """True while following without a re-sync in progress."""
        return not self._syncing

    def resync(self, reason: str) -> None:
        """Hold back live events and rebuild the replica from the core's day snapshot."""
        self.stats.resyncs += 1
        self.synced.clear()
        if not self._syncing:
            log.info("account events: re-syncing the day from the core (%s)", reason)
        self._syncing = True
        if self._resync_task is None or self._resync_task.done():
            self._resync_task = asyncio.create_task(self._fetch(), name="account-resync")

    async def _on_message(self, msg: Msg) -> None:
        try:
            seq, event = decode_event(msg.data)
        except AccountWireError as exc:
            self.stats.bad_messages += 1
            if self.stats.bad_messages == 1:
                log.warning("ignoring a message on %s: %s", msg.subject, exc)
            return
        if self._syncing:
            self._held.append((seq, event))
            return
        self._take(seq, event)

    def _take(self, seq: int, event: TradingEvent | None) -> None:
        assert self._last is not None  # set by the first snapshot, before anything is taken
        if event is None:  # a mark: the core's last number
            if seq != self._last:
                self.stats.gaps += 1
                log.warning("account events: the core is at %d, this edge at %d", seq, self._last)
                self.resync(f"the core's mark {seq}")
            return
        if seq <= self._last:
            self.stats.duplicates += 1
            return
        if seq != self._last + 1:
            self.stats.gaps += 1
            log.warning("account events: %d missing before event %d", seq - self._last - 1, seq)
            # Not kept: the snapshot asked for now is taken after it, so it reflects it.
            self.resync(f"a gap before event {seq}")
            return
        self._last = seq
        self._push(event)
        if isinstance(event, SessionClosed):
            # The core sets its finished day aside by rules a replica should not copy.
            self.resync("the session closed")

    def _push(self, event: TradingEvent) -> None:
        self.replica.apply(event)
        self.stats.delivered += 1
        self._sink(event)

    async def _fetch(self) -> None:
        subject = day_subject(self.bus.prefix)
        while True:
            try:
                snapshot = await self._fetch_snapshot(subject)
            except (nats.errors.Error, AccountWireError) as exc:
                self.stats.snapshot_failures += 1
                if self.stats.snapshot_failures == 1 or not self.bus.connected:
                    log.info("account events: no day snapshot (%r); retrying", exc)
                await asyncio.sleep(self._retry_s)
                continue
            self._install(snapshot)
            if not self._syncing:
                return

    async def _fetch_snapshot(self, subject: str) -> DaySnapshot:
        """The core's day snapshot, chunk by chunk. Raises AccountWireError (the core dropped
        it meanwhile, or sent nonsense) or what nats-py raises."""
        request = self.bus.client.request
        reply = await request(subject, b"", timeout=self._timeout_s)
        snapshot_id, _, count, body = decode_chunk(reply.data)
        parts = [body]
        for index in range(1, count):
            ask = encode_chunk_request(snapshot_id, index)
            reply = await request(subject, ask, timeout=self._timeout_s)
            got_id, got, held, body = decode_chunk(reply.data)
            if (got_id, got) != (snapshot_id, index) or held != count:
                raise AccountWireError(f"day snapshot {snapshot_id} is gone; taking a new one")
            parts.append(body)
        return decode_snapshot(b"".join(parts))

    def _install(self, snapshot: DaySnapshot) -> None:
        for change in self.replica.replace(snapshot):
            self.stats.delivered += 1
            self._sink(change)
        self._last = snapshot.seq
        held, self._held = sorted(self._held, key=lambda item: item[0]), []
        self._syncing = False
        for index, (seq, held_event) in enumerate(held):
            self._take(seq, held_event)
            if self._syncing:  # another gap: keep the rest for after the next snapshot
                self._held.extend(held[index + 1 :])
                return
        self.synced.set()

    async def close(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
            await asyncio.gather(self._resync_task, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None
