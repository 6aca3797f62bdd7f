"""Market data across a cluster: the core publishes numbered ticks and serves images; an edge
follows the conids its clients stream and tells the core what it follows, so the core's source
knows the interest of the whole cluster.

Subjects (under the cluster's prefix): `tick.<conid>` and `image.<conid>` (see
`tickgate.bus.market_data`), `interest` (an edge's whole interest, JSON, sent on every change
and every `INTEREST_HEARTBEAT_S`), `interest.ask` (a core that starts asks edges to send
it). Market-data lines are counted cluster-wide by `line_ledger`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.market_data import MarketDataFollower, MarketDataPublisher
from tickgate.bus.nats import NatsBus
from tickgate.clock import Clock
from tickgate.errors import NotFoundError
from tickgate.market.engine import MarketEngine
from tickgate.model.ticks import Tick, TickSink
from tickgate.streaming.hub import InterestListener, StreamingHub

log = logging.getLogger("tickgate.cluster")

#: An edge repeats its interest this often; the core forgets an edge silent for 3 periods.
INTEREST_HEARTBEAT_S = 2.0


#: How long a conid a snapshot asked for stays followed without a pre-flight holding it.
ASKED_FOLLOW_S = 10.0


class CoreTickBus:
    """The core's `Bus`: ticks reach the core's own engine inside `publish` and leave numbered
    per conid (`MarketDataPublisher`) for the edges. `serve_images` starts answering edges'
    image requests from `market` (needs the running loop)."""

    def __init__(self, nats_bus: NatsBus, clock: Clock) -> None:
        self.nats = nats_bus
        self._clock = clock
        self.publisher: MarketDataPublisher | None = None

    def attach(self, market: MarketEngine) -> MarketDataPublisher:
        self.publisher = MarketDataPublisher(self.nats, market.snapshot, self._clock)
        return self.publisher

    def publish(self, tick: Tick) -> None:
        if self.publisher is None:
            self.nats.publish(tick)  # before attach: nobody follows yet
        else:
            self.publisher.publish(tick)

    def subscribe(self, handler: TickSink) -> Callable[[], None]:
        return self.nats.subscribe(handler)

    async def flush(self) -> None:
        await self.nats.flush()

    async def close(self) -> None:
        if self.publisher is not None:
            await self.publisher.close()
        await self.nats.close()


class ClusterInterest:
    """The core's view of what the whole cluster streams: its own hub's interest united with
    every edge's. Listeners (a relay holding upstream lines) hear `(conid, fields)` whenever
    that union changes, `()` once nobody in the cluster streams the conid.

    An edge that goes silent for three heartbeats (killed, cut off) is forgotten."""

    def __init__(
        self, hub: StreamingHub, bus: NatsBus, *, heartbeat_s: float = INTEREST_HEARTBEAT_S
    ) -> None:
        self._hub = hub
        self._bus = bus
        self._heartbeat_s = heartbeat_s
        self._edges: dict[str, dict[int, tuple[int, ...]]] = {}
        self._heard: dict[str, float] = {}
        self._told: dict[int, tuple[int, ...]] = {}
        self._listeners: list[InterestListener] = []
        self._subscription: Subscription | None = None
        hub.add_interest_listener(lambda conid, _fields: self._update({conid}))

    def edge_conids(self) -> set[int]:
        """The conids some edge streams."""
        return {conid for conids in self._edges.values() for conid in conids}

    def add_interest_listener(self, listener: InterestListener) -> None:
        """As `StreamingHub.add_interest_listener`, over the whole cluster."""
        self._listeners.append(listener)

    def interest(self, conid: int) -> tuple[int, ...]:
        fields = set(self._hub.interest(conid))
        for conids in self._edges.values():
            fields.update(conids.get(conid, ()))
        return tuple(sorted(fields))

    def wanted_conids(self) -> list[int]:
        return sorted(self._told)

    @property
    def edges(self) -> list[str]:
        return sorted(self._edges)

    async def run(self) -> None:
        """Listen to edges (asking them to speak now) and forget silent ones, until cancelled."""
        self._subscription = await self._bus.client.subscribe(
            f"{self._bus.prefix}.interest", cb=self._on_interest
        )
        try:
            await self._bus.round_trip()
            await self._bus.client.publish(f"{self._bus.prefix}.interest.ask", b"")
            while True:
                await asyncio.sleep(self._heartbeat_s)
                self._forget_silent(time.monotonic())
        finally:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()

    def _forget_silent(self, now: float) -> None:
        for member, heard in list(self._heard.items()):
            if now - heard > 3 * self._heartbeat_s:
                silent = now - heard
                log.warning("edge %s silent for %.1f s: its interest is dropped", member, silent)
                self._drop(member)

    def _drop(self, member: str) -> None:
        self._heard.pop(member, None)
        conids = self._edges.pop(member, {})
        self._update(set(conids))

    async def _on_interest(self, msg: Msg) -> None:
        try:
            raw = orjson.loads(msg.data)
            member = str(raw["member"])
            if raw.get("leaving"):
                self._drop(member)
                return
            conids = {int(c): tuple(int(f) for f in fields) for c, fields in raw["conids"].items()}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("ignoring a bad interest message on %s", msg.subject)
            return
        before = self._edges.get(member, {})
        self._edges[member] = conids
        self._heard[member] = time.monotonic()
        changed = {c for c in before.keys() | conids.keys() if before.get(c) != conids.get(c)}
        self._update(changed)

    def _update(self, conids: set[int]) -> None:
        for conid in sorted(conids):
            fields = self.interest(conid)
            if self._told.get(conid, ()) == fields:
                continue
            if fields:
                self._told[conid] = fields
            else:
                self._told.pop(conid, None)
            for listener in self._listeners:
                listener(conid, fields)


class EdgeFeed:
    """An edge's `DataSource`: follows each conid the edge's hub streams (image, then live
    ticks, stitched: see `MarketDataFollower`) and hands the ticks to the edge's engine.

    Follow and unfollow run in one task, in the order interest changed, so a conid is never
    followed twice; the edge's interest goes to the core after each change and every
    heartbeat. Ticks are delivered straight from the follower (the same ticks, in the same
    order, as the core's engine got); a slow edge is conflated by the follower instead (see
    its `pending_msgs_limit`)."""

    name = "cluster"

    def __init__(
        self,
        bus: NatsBus,
        hub: StreamingHub,
        member_id: str,
        *,
        snapshot_conids: Callable[[], Iterable[int]] = tuple,
        heartbeat_s: float = INTEREST_HEARTBEAT_S,
    ) -> None:
        self._bus = bus
        self._hub = hub
        self.member_id = member_id
        # Conids whose REST snapshot is open (pre-flighted): followed too, as a single
        # gateway's engine has their values.
        self._snapshot_conids = snapshot_conids
        self._heartbeat_s = heartbeat_s
        #: Conids a snapshot asked for just now (monotonic s), followed until their
        #: pre-flight is registered.
        self._asked: dict[int, float] = {}
        self._sink: TickSink | None = None
        self.follower = MarketDataFollower(bus, self._deliver)
        self._wanted: dict[int, tuple[int, ...]] = {}
        self._dirty = asyncio.Event()
        self.errors = 0
        #: Why the core's market data is stale here, or None (see `session_sync`).
        self.stale_reason: Callable[[], str | None] = lambda: None
        hub.add_interest_listener(self._on_interest)
        bus.add_reconnect_listener(self._dirty.set)

    def problem(self) -> str | None:
        """Why this source cannot deliver live data although it runs (`/readyz` says it)."""
        return self.stale_reason()

    def _on_interest(self, conid: int, fields: tuple[int, ...]) -> None:
        if fields:
            self._wanted[conid] = fields
        else:
            self._wanted.pop(conid, None)
        self._dirty.set()

    def _deliver(self, tick: Tick) -> None:
        if self._sink is None:
            return
        try:
            self._sink(tick)
        except NotFoundError:
            # A conid the core knows and this edge's catalogue does not: members must share
            # their catalogue settings.
            self.errors += 1
            if self.errors == 1:
                log.warning("edge: tick for conid %d outside this edge's catalogue", tick.conid)

    async def run(self, sink: TickSink) -> None:
        self._sink = sink
        asked: Subscription = await self._bus.client.subscribe(
            f"{self._bus.prefix}.interest.ask", cb=self._on_ask
        )
        self._dirty.set()
        try:
            while True:
                # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation
                # that arrives as the event is set (both happen on shutdown).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._heartbeat_s):
                        await self._dirty.wait()
                self._dirty.clear()
                await self._reconcile()
                await self._announce()
        finally:
            with contextlib.suppress(nats.errors.Error, asyncio.CancelledError):
                await self._announce(leaving=True)
                await asyncio.shield(asked.unsubscribe())
            await self.follower.close()
            self._sink = None

    async def _on_ask(self, _msg: Msg) -> None:
        self._dirty.set()

    async def ensure_live(self, conids: Iterable[int], *, timeout_s: float = 2.0) -> bool:
        """Follow `conids` now (if they are wanted by a snapshot or a stream) and return once
        each has its image, or False after `timeout_s`."""
        loop = asyncio.get_running_loop()
        pending = list(conids)
        for conid in pending:
            self._asked[conid] = loop.time()
        self._dirty.set()
        deadline = loop.time() + timeout_s
        while pending:
            pending = [conid for conid in pending if not self.follower.live(conid)]
            if not pending:
                break
            if not await self.follower.wait_live(pending[0], deadline):
                return False
        return True

    async def _reconcile(self) -> None:
        followed = set(self.follower.conids)
        now = asyncio.get_running_loop().time()
        for conid, asked in list(self._asked.items()):
            if now - asked > ASKED_FOLLOW_S:
                del self._asked[conid]
        wanted = set(self._wanted) | set(self._snapshot_conids()) | set(self._asked)
        for conid in sorted(followed - wanted):
            await self.follower.unfollow(conid)
        for conid in sorted(wanted - followed):
            try:
                await self.follower.follow(conid)
            except nats.errors.Error as exc:
                # Tried again at the next heartbeat (or reconnect).
                log.warning("edge: cannot follow conid %d yet: %r", conid, exc)

    async def _announce(self, *, leaving: bool = False) -> None:
        if not self._bus.connected:
            return
        body: dict[str, Any] = {"member": self.member_id}
        if leaving:
            body["leaving"] = True
        else:
            body["conids"] = {str(c): list(f) for c, f in self._wanted.items()}
        await self._bus.client.publish(f"{self._bus.prefix}.interest", orjson.dumps(body))
