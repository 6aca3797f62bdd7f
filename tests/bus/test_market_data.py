"""Market data over a real nats-server: numbered ticks, images stitched to live updates, gaps
repaired, slow consumers conflated."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from tests.bus.ticks import SEQ_FIELD, Collector, eventually, numbered_ticks
from tests.instruments import stock

from tickgate.bus.conflation import ConflatingQueue
from tickgate.bus.market_data import DUPLICATE_RUN, MarketDataFollower, MarketDataPublisher
from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.clock import NS_PER_S, FakeClock
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.engine import MarketEngine
from tickgate.model.ticks import Tick

CONIDS = [265598, 8314, 756733, 272093, 107113386]


@dataclass
class Core:
    bus: NatsBus
    engine: MarketEngine
    publisher: MarketDataPublisher


def new_engine() -> MarketEngine:
    return MarketEngine(Catalogue([stock(c, f"S{c}") for c in CONIDS]))


async def start_core(
    server: NatsServerProcess, *, clock: FakeClock | None = None, outgoing_limit: int = 100_000
) -> Core:
    """The publishing side as a core would run it: its engine takes every tick inside
    `publish` (the bus delivers a member's own ticks), images come from that engine."""
    bus = await NatsBus.connect(
        NatsOptions(server.url), subscribe_all=False, outgoing_limit=outgoing_limit
    )
    engine = new_engine()
    bus.subscribe(engine.apply)
    publisher = await MarketDataPublisher.start(bus, engine.snapshot, clock or FakeClock())
    return Core(bus, engine, publisher)


@pytest.fixture
async def core(nats_server: NatsServerProcess) -> AsyncIterator[Core]:
    core = await start_core(nats_server)
    yield core
    await core.publisher.close()
    await core.bus.close()


@pytest.fixture
async def edge(nats_server: NatsServerProcess) -> AsyncIterator[NatsBus]:
    bus = await NatsBus.connect(
        NatsOptions(nats_server.url, reconnect_wait_s=0.05), subscribe_all=False
    )
    yield bus
    await bus.close()


def merged(ticks: list[Tick], conid: int) -> dict[int, str]:
    out: dict[int, str] = {}
    for tick in ticks:
        if tick.conid == conid:
            out.update(tick.fields)
    return out


async def test_a_late_follower_gets_the_image_then_every_later_tick_once(
    core: Core, edge: NatsBus
) -> None:
    conid = CONIDS[0]
    for tick in numbered_ticks([conid], 300):
        core.publisher.publish(tick)
    await core.bus.flush()
    got = Collector()
    follower = MarketDataFollower(edge, got)
    await follower.follow(conid)
    # Live ticks race the image: some arrive before it, some are already in it.
    later = numbered_ticks([conid], 300, first=301)
    for start in range(0, len(later), 10):
        for tick in later[start : start + 10]:
            core.publisher.publish(tick)
        await asyncio.sleep(0)
    await got.wait_seq(conid, 600)
    await follower.close()

    image = got.ticks[0]
    first = int(image.fields[SEQ_FIELD])
    assert first >= 300
    assert image.fields[55] == f"S{conid}"  # the image has every field, static ones too
    assert got.seqs[conid] == list(range(first, 601))  # image, then no gap and no duplicate
    assert merged(got.ticks, conid) == core.engine.snapshot(conid)
    assert follower.stats.gaps == 0 and follower.stats.image_requests == 1


async def test_lost_ticks_are_detected_and_repaired_with_a_fresh_image(
    nats_server: NatsServerProcess, edge: NatsBus
) -> None:
    core = await start_core(nats_server, outgoing_limit=50)
    conid = CONIDS[1]
    got = Collector()
    follower = MarketDataFollower(edge, got)
    try:
        await follower.follow(conid)
        await eventually(lambda: follower.live(conid), "the first image")
        # One synchronous burst: the core's outgoing queue takes 50, drops the other 150
        # (its engine, fed inside publish, still has them all).
        for tick in numbered_ticks([conid], 200):
            core.publisher.publish(tick)
        assert core.bus.stats.dropped == 150
        await core.bus.flush()
        core.publisher.publish(numbered_ticks([conid], 1, first=201)[0])
        await got.wait_seq(conid, 201)
    finally:
        await follower.close()
        await core.publisher.close()
        await core.bus.close()
    seqs = got.seqs[conid]
    assert seqs == sorted(set(seqs))  # never a stale value after a newer one, never twice
    assert seqs[-1] == 201 and 51 not in seqs
    assert follower.stats.gaps == 1 and follower.stats.image_requests == 2
    assert merged(got.ticks, conid) == core.engine.snapshot(conid)


async def test_a_slow_consumer_is_conflated_and_the_publisher_never_waits(
    core: Core, edge: NatsBus
) -> None:
    queue = ConflatingQueue()
    follower = MarketDataFollower(edge, queue.put)
    for conid in CONIDS:
        await follower.follow(conid)
    await eventually(lambda: all(follower.live(c) for c in CONIDS), "every image")
    ticks = numbered_ticks(CONIDS, 2_000)
    # The consumer takes nothing while 10,000 ticks go out in bursts of 64.
    for start in range(0, len(ticks), 64):
        for tick in ticks[start : start + 64]:
            core.publisher.publish(tick)
        await asyncio.sleep(0)
    await core.bus.flush()
    await eventually(
        lambda: follower.stats.delivered == len(CONIDS) + len(ticks), "every tick at the edge"
    )
    await follower.close()
    assert core.bus.stats.dropped == 0
    assert len(queue) == len(CONIDS)  # one pending tick per conid, however far behind
    latest = queue.take_nowait()
    # Image and 2,000 ticks folded into one tick per conid: exactly the core's values.
    assert {t.conid: t.fields for t in latest} == {c: core.engine.snapshot(c) for c in CONIDS}
    assert {t.conid: t.fields[SEQ_FIELD] for t in latest} == dict.fromkeys(CONIDS, "2000")
    assert queue.stats.merged == len(ticks)


async def test_an_unfollowed_conid_is_no_longer_routed_to_the_edge(
    core: Core, edge: NatsBus
) -> None:
    kept, dropped = CONIDS[0], CONIDS[1]
    got = Collector()
    follower = MarketDataFollower(edge, got)
    await follower.follow(kept)
    await follower.follow(dropped)
    await eventually(lambda: follower.live(kept) and follower.live(dropped), "both images")
    await follower.unfollow(dropped)
    await edge.round_trip()  # the server has the unsubscription
    received = edge.client.stats["in_msgs"]
    count = len(got.ticks)
    for tick in numbered_ticks([dropped], 20) + numbered_ticks([kept], 1):
        core.publisher.publish(tick)
    await got.wait_count(count + 1)
    await follower.close()
    assert [t.conid for t in got.ticks[count:]] == [kept]
    assert edge.client.stats["in_msgs"] - received == 1  # the 20 never left the server
    assert follower.conids == []


async def test_a_follower_waits_for_a_publisher_that_is_not_there_yet(
    nats_server: NatsServerProcess, edge: NatsBus
) -> None:
    conid = CONIDS[2]
    got = Collector()
    follower = MarketDataFollower(edge, got, image_timeout_s=0.5, retry_s=0.05)
    await follower.follow(conid)
    await eventually(lambda: follower.stats.image_failures >= 1, "a failed image request")
    waiting = follower.status()
    assert (waiting.followed, waiting.awaiting_image) == (1, 1)
    assert waiting.image_requests >= waiting.image_failures >= 1
    core = await start_core(nats_server)
    try:
        core.publisher.publish(numbered_ticks([conid], 1)[0])
        await eventually(lambda: follower.live(conid), "the image")
        assert (follower.status().followed, follower.status().awaiting_image) == (1, 0)
        core.publisher.publish(numbered_ticks([conid], 1, first=2)[0])
        await got.wait_seq(conid, 2)
    finally:
        await follower.close()
        await core.publisher.close()
        await core.bus.close()
    assert got.seqs[conid][-1] == 2 and got.ticks[0].fields[55] == f"S{conid}"


async def test_a_restarted_publisher_is_seen_as_a_gap_and_resynced(
    nats_server: NatsServerProcess, edge: NatsBus
) -> None:
    conid = CONIDS[3]
    clock = FakeClock()
    first = await start_core(nats_server, clock=clock)
    got = Collector()
    follower = MarketDataFollower(edge, got)
    await follower.follow(conid)
    for tick in numbered_ticks([conid], 5):
        first.publisher.publish(tick)
    await got.wait_seq(conid, 5)
    await first.publisher.close()
    await first.bus.close()

    clock.advance(seconds=10)  # the restart happens later: its numbers start higher
    second = await start_core(nats_server, clock=clock)
    try:
        for tick in numbered_ticks([conid], 3, first=100):
            second.publisher.publish(tick)
        await got.wait_seq(conid, 102)
    finally:
        await follower.close()
        await second.publisher.close()
        await second.bus.close()
    assert follower.stats.gaps == 1 and follower.stats.image_requests == 2
    assert got.seqs[conid][-1] == 102
    assert merged(got.ticks, conid) == second.engine.snapshot(conid)


async def test_a_publisher_restarted_below_the_old_numbers_is_followed_again(
    nats_server: NatsServerProcess, edge: NatsBus
) -> None:
    conid = CONIDS[3]
    clock = FakeClock()
    first = await start_core(nats_server, clock=clock)
    got = Collector()
    follower = MarketDataFollower(edge, got)
    await follower.follow(conid)
    for tick in numbered_ticks([conid], 5):
        first.publisher.publish(tick)
    await got.wait_seq(conid, 5)
    await first.publisher.close()
    await first.bus.close()

    # The machine's clock was set back 10 s: the new publisher's numbers start lower.
    second = await start_core(nats_server, clock=FakeClock(clock.now_ns() - 10 * NS_PER_S))
    try:
        for tick in numbered_ticks([conid], DUPLICATE_RUN + 5, first=100):
            second.publisher.publish(tick)
        await got.wait_seq(conid, 100 + DUPLICATE_RUN + 4)
    finally:
        await follower.close()
        await second.publisher.close()
        await second.bus.close()
    assert follower.stats.image_requests == 2
    assert merged(got.ticks, conid) == second.engine.snapshot(conid)


async def test_after_a_bus_outage_the_follower_resyncs_from_a_fresh_image(
    nats_server: NatsServerProcess, edge: NatsBus
) -> None:
    """Ticks published while nats-server was down may never reach the edge, and no later tick
    shows the hole: the reconnect itself makes the follower fetch every image again."""
    conid = CONIDS[4]
    core = await start_core(nats_server)
    got = Collector()
    # The edge may be back before the core answers images again: then it retries.
    follower = MarketDataFollower(edge, got, retry_s=0.05)
    try:
        await follower.follow(conid)
        for tick in numbered_ticks([conid], 10):
            core.publisher.publish(tick)
        await got.wait_seq(conid, 10)
        await nats_server.kill()
        for tick in numbered_ticks([conid], 90, first=11):
            core.publisher.publish(tick)  # the core's engine has them; the edge may never
        await nats_server.restart()
        await core.bus.wait_connected()
        await edge.wait_connected()
        await got.wait_seq(conid, 100)
        await eventually(lambda: follower.live(conid), "live again")
    finally:
        await follower.close()
        await core.publisher.close()
        await core.bus.close()
    seqs = got.seqs[conid]
    assert seqs == sorted(set(seqs)) and seqs[-1] == 100
    assert follower.stats.resyncs == 1 and follower.stats.gaps == 0
    assert merged(got.ticks, conid) == core.engine.snapshot(conid)


async def test_a_stalled_edge_slows_neither_the_core_nor_a_healthy_edge(
    core: Core, edge: NatsBus, nats_server: NatsServerProcess
) -> None:
    """A subscriber that stops reading (its socket buffer full) is nats-server's problem to
    buffer or cut off: the core's publishing and another edge's stream go on at full pace."""
    assert nats_server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", nats_server.port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await reader.readline()  # the server's INFO; nothing is read after this
    writer.write(b'CONNECT {"verbose":false}\r\nSUB tickgate.tick.* 1\r\nPING\r\n')
    await writer.drain()
    assert await reader.readline() == b"PONG\r\n"
    conid = CONIDS[0]
    got = Collector()
    follower = MarketDataFollower(edge, got)
    try:
        await follower.follow(conid)
        await eventually(lambda: follower.live(conid), "the image")
        ticks = numbered_ticks([conid], 20_000)
        for start in range(0, len(ticks), 64):
            for tick in ticks[start : start + 64]:
                core.publisher.publish(tick)
            await asyncio.sleep(0)
        await core.bus.flush()
        await got.wait_seq(conid, 20_000, timeout=30)
    finally:
        await follower.close()
        writer.close()
        await writer.wait_closed()
    assert core.bus.stats.dropped == 0
    assert got.seqs[conid] == list(range(1, 20_001))  # every tick, once, in order
