"""Market data across processes: a publisher that numbers ticks and serves images, and a
follower that subscribes per conid and stitches image and live ticks together.

Subjects (under the bus prefix): `tick.<conid>` carries a conid's ticks, each with its
per-conid sequence number (see `stitching`); `image.<conid>` is a request whose reply is one
tick frame holding every known field of the conid and the number of the last tick in it.

Guarantees, per followed conid: the follower's sink gets the current image, then every later
tick in order, none twice. When a tick is missing (lost in an outage, dropped by a full
queue, or a restarted publisher) it fetches a fresh image and carries on from there, so the
sink may see a newer image in place of the ticks it missed, never a stale value after a newer
one. After a bus reconnect every followed conid's image is fetched again (ticks of the
outage may be gone, and a quiet conid would show no gap). A slow consumer puts a
`ConflatingQueue` between the follower and itself; neither the publisher nor other followers
wait for anyone: NATS does not apply back-pressure across connections, and the follower's own
callback only decodes and stitches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.base import FollowingStatus, TickEncodingError
from tickgate.bus.codec import decode_ticks, encode_tick
from tickgate.bus.nats import NatsBus
from tickgate.bus.stitching import Sequencer, Stitcher
from tickgate.clock import Clock
from tickgate.errors import NotFoundError
from tickgate.model.ticks import Tick, TickSink

log = logging.getLogger("tickgate.bus.market_data")

#: The current fields of a conid, reflecting every tick published so far (empty if none).
ImageSource = Callable[[int], Mapping[int, str]]


class MarketDataPublisher:
    """The publishing side (one per cluster): numbers each conid's ticks and answers image
    requests from `image`, which must reflect every tick published through `publish` before
    it returned (e.g. a `MarketEngine` subscribed to `bus`: the bus delivers a member's own
    ticks inside `publish`). Create with `await MarketDataPublisher.start(...)`."""

    def __init__(self, bus: NatsBus, image: ImageSource, clock: Clock) -> None:
        self.bus = bus
        self._image = image
        self._clock = clock
        # Above any number an earlier run of this publisher handed out (see `stitching`): the
        # machine's time, not the gateway's, which a replay or a test may set back.
        self.sequencer = Sequencer(base=clock.host_ns())
        self.images_served = 0
        self._subscription: Subscription | None = None

    @classmethod
    async def start(cls, bus: NatsBus, image: ImageSource, clock: Clock) -> MarketDataPublisher:
        publisher = cls(bus, image, clock)
        await publisher.serve_images()
        return publisher

    async def serve_images(self) -> None:
        """Answer image requests from now on (`start` does it; a publisher built before its
        event loop runs calls it once the loop does)."""
        if self._subscription is None:
            self._subscription = await self.bus.client.subscribe(
                f"{self.bus.prefix}.image.*", cb=self._on_image_request
            )
            await self.bus.round_trip()

    def publish(self, tick: Tick) -> None:
        """Number `tick` and publish it (a `TickSink`); never blocks."""
        self.bus.publish(tick, self.sequencer.next(tick.conid))

    async def _on_image_request(self, msg: Msg) -> None:
        try:
            conid = int(msg.subject.rpartition(".")[2])
        except ValueError:
            log.warning("image request for a bad subject %s", msg.subject)
            return
        if not msg.reply:
            return
        # Image and number are read together, in one step of the event loop, so the image
        # holds exactly the ticks up to that number.
        try:
            fields = dict(self._image(conid))
        except NotFoundError:
            fields = {}  # a conid nobody publishes: an empty image, and no ticks will come
        frame = encode_tick(Tick(conid, fields, self._clock.now_ns()), self.sequencer.last(conid))
        self.images_served += 1
        await self.bus.client.publish(msg.reply, frame)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None


#: Ticks of a conid in a row that are all older than what was delivered, after which the
#: follower starts over from a fresh image (the ticks an image already covered are far fewer).
DUPLICATE_RUN = 64


@dataclass(slots=True)
class FollowerStats:
    delivered: int = 0
    image_requests: int = 0
    image_failures: int = 0
    gaps: int = 0
    bad_messages: int = 0
    #: Bus reconnects after which every followed conid's image was fetched again.
    resyncs: int = 0


class _Followed:
    """One followed conid: its subscription, its stitcher, its image fetch (if running)."""

    def __init__(self, stitcher: Stitcher) -> None:
        self.stitcher = stitcher
        #: Ticks in a row dropped as already delivered (see `DUPLICATE_RUN`).
        self.duplicate_run = 0
        self.subscription: Subscription | None = None
        self.fetch: asyncio.Task[None] | None = None


class MarketDataFollower:
    """The following side (an edge): `follow(conid)` subscribes to the conid's ticks, fetches
    its image and hands `sink` the stitched stream (see the module's guarantees).

    `bus` should be connected with `subscribe_all=False`, or it receives every conid twice.
    Owns one NATS subscription and at most one image fetch per followed conid; `close` ends
    them. An image that cannot be fetched (no publisher, timeout) is retried every `retry_s`
    while the conid is followed."""

    def __init__(
        self,
        bus: NatsBus,
        sink: TickSink,
        *,
        image_timeout_s: float = 2.0,
        retry_s: float = 1.0,
        pending_msgs_limit: int = 65_536,
    ) -> None:
        self.bus = bus
        self._sink = sink
        # A follower this far behind on a conid loses messages (NATS drops them for it, never
        # slowing the publisher), sees the gap and takes a fresh image: a slow follower is
        # conflated instead of buffering without bound.
        self._pending_msgs_limit = pending_msgs_limit
        self._image_timeout_s = image_timeout_s
        self._retry_s = retry_s
        self._followed: dict[int, _Followed] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self.stats = FollowerStats()
        bus.add_reconnect_listener(self._resync_all)

    @property
    def conids(self) -> list[int]:
        return list(self._followed)

    def duplicates(self) -> int:
        """Ticks dropped because they were already delivered (or in an image), over the
        conids followed now."""
        return sum(f.stitcher.stats.duplicates for f in self._followed.values())

    def status(self) -> FollowingStatus:
        """The counts `/metrics` shows (followed, awaiting an image, fetches, gaps)."""
        stats = self.stats
        return FollowingStatus(
            followed=len(self._followed),
            awaiting_image=sum(not f.stitcher.live for f in self._followed.values()),
            image_requests=stats.image_requests,
            image_failures=stats.image_failures,
            gaps=stats.gaps,
            resyncs=stats.resyncs,
        )

    def live(self, conid: int) -> bool:
        """True once `conid`'s image arrived and no gap is being repaired."""
        followed = self._followed.get(conid)
        return followed is not None and followed.stitcher.live

    async def wait_live(self, conid: int, deadline: float) -> bool:
        """Wait until `conid` is live (see `live`) or the loop's time reaches `deadline`;
        returns whether it is live."""
        loop = asyncio.get_running_loop()
        while not self.live(conid):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                return self.live(conid)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return True

    def _progress(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def follow(self, conid: int) -> None:
        """Start following `conid` (no-op if followed). Returns once the server routes its
        ticks here; the image is fetched in the background."""
        if conid in self._followed:
            return
        followed = _Followed(Stitcher())
        self._followed[conid] = followed

        async def on_message(msg: Msg) -> None:
            self._on_message(conid, followed, msg)

        followed.subscription = await self.bus.client.subscribe(
            self.bus.subject(conid), cb=on_message, pending_msgs_limit=self._pending_msgs_limit
        )
        await self.bus.round_trip()  # subscribed before asking: no tick after the image is missed
        self._fetch(conid, followed)

    async def unfollow(self, conid: int) -> None:
        """Stop following `conid`: nothing more of it reaches the sink after this returns."""
        followed = self._followed.pop(conid, None)
        if followed is None:
            return
        if followed.fetch is not None:
            followed.fetch.cancel()
            # gather: a cancellation of the caller itself must not be swallowed here.
            await asyncio.gather(followed.fetch, return_exceptions=True)
        if followed.subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await followed.subscription.unsubscribe()

    async def close(self) -> None:
        for conid in list(self._followed):
            await self.unfollow(conid)

    def _resync_all(self) -> None:
        # Ticks sent during the outage may never arrive, and a quiet conid would show no gap
        # to tell: take a fresh image of every followed conid now.
        self.stats.resyncs += 1
        for conid, followed in self._followed.items():
            followed.stitcher.reset()
            self._fetch(conid, followed)

    def _on_message(self, conid: int, followed: _Followed, msg: Msg) -> None:
        if self._followed.get(conid) is not followed:
            return  # unfollowed while this message was queued
        try:
            ticks = decode_ticks(conid, msg.data)
        except TickEncodingError as exc:
            self.stats.bad_messages += 1
            if self.stats.bad_messages == 1:
                log.warning("ignoring a message on %s: %s", msg.subject, exc)
            return
        stitcher = followed.stitcher
        for seq, tick in ticks:
            before = stitcher.stats.duplicates
            out, fetch = stitcher.on_tick(seq, tick)
            followed.duplicate_run = (
                followed.duplicate_run + 1 if stitcher.stats.duplicates > before else 0
            )
            if followed.duplicate_run >= DUPLICATE_RUN:
                # Numbers that stay below the ones delivered: a publisher restarted with an
                # earlier base (its machine's clock was set back). Start over from its image.
                log.warning("conid %d: ticks numbered below the delivered ones; resyncing", conid)
                followed.duplicate_run = 0
                stitcher.reset()
                fetch = True
            self._deliver(out)
            if fetch:
                self.stats.gaps += 1
                log.info("conid %d: gap before tick %d; fetching its image again", conid, seq)
                self._fetch(conid, followed)

    def _deliver(self, ticks: list[Tick]) -> None:
        for tick in ticks:
            self.stats.delivered += 1
            self._sink(tick)

    def _fetch(self, conid: int, followed: _Followed) -> None:
        if followed.fetch is None or followed.fetch.done():
            followed.fetch = asyncio.create_task(self._fetch_image(conid, followed))

    async def _fetch_image(self, conid: int, followed: _Followed) -> None:
        subject = f"{self.bus.prefix}.image.{conid}"
        while True:
            self.stats.image_requests += 1
            try:
                reply = await self.bus.client.request(subject, b"", timeout=self._image_timeout_s)
                ((seq, image),) = decode_ticks(conid, reply.data)
            except (nats.errors.Error, TickEncodingError, ValueError) as exc:
                self.stats.image_failures += 1
                if self.stats.image_failures == 1:
                    log.warning(
                        "conid %d: no image (%r); retrying every %g s", conid, exc, self._retry_s
                    )
                await asyncio.sleep(self._retry_s)
                continue
            if self._followed.get(conid) is not followed:
                return
            out, again = followed.stitcher.on_image(seq, image)
            self._deliver(out)
            if not again:
                self._progress()
                return
            self.stats.gaps += 1
