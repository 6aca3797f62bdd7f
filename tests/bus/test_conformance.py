"""What every `Bus` adapter guarantees: one suite, parametrized over the adapters.

A *fabric* is one bus as a whole; `member()` is one process's view of it (the in-process bus
has a single member; NATS gives every member its own connection). The outage tests at the end
run only where there is a bus server that can fail: the in-process bus has none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import pytest
from tests.bus.conftest import StartNats
from tests.bus.ticks import Collector, by_conid, numbered_ticks

from tickgate.bus.base import Bus, BusError
from tickgate.bus.memory import MemoryBus
from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.model.ticks import Tick

CONIDS = [265598, 8314, 756733, 12087792, 495512557]


class Fabric(Protocol):
    async def member(self) -> Bus: ...


class MemoryFabric:
    def __init__(self) -> None:
        self.bus = MemoryBus()

    async def member(self) -> Bus:
        return self.bus


class NatsFabric:
    """Members on one real nats-server; reconnect quickly so outage tests stay short."""

    def __init__(self, server: NatsServerProcess) -> None:
        self.server = server
        self.members: list[NatsBus] = []

    async def member(self) -> NatsBus:
        bus = await NatsBus.connect(NatsOptions(self.server.url, reconnect_wait_s=0.05))
        self.members.append(bus)
        return bus

    async def close(self) -> None:
        for bus in self.members:
            await bus.close()


@pytest.fixture(params=["memory", "nats"])
async def fabric(request: pytest.FixtureRequest, start_nats: StartNats) -> AsyncIterator[Fabric]:
    if request.param == "memory":
        yield MemoryFabric()
        return
    nats_fabric = NatsFabric(await start_nats())
    yield nats_fabric
    await nats_fabric.close()


async def test_per_conid_order_and_nothing_lost(fabric: Fabric) -> None:
    publisher, consumer = await fabric.member(), await fabric.member()
    got = Collector()
    consumer.subscribe(got)
    ticks = numbered_ticks(CONIDS, 2_000)
    for tick in ticks:
        publisher.publish(tick)
    await publisher.flush()
    await got.wait_count(len(ticks))
    assert {conid: seqs for conid, seqs in got.seqs.items()} == {
        conid: list(range(1, 2_001)) for conid in CONIDS
    }
    assert by_conid(got.ticks) == by_conid(ticks)  # the ticks themselves, not only numbers


async def test_every_subscriber_of_every_member_gets_every_tick(fabric: Fabric) -> None:
    publisher, first, second = await fabric.member(), await fabric.member(), await fabric.member()
    collectors = [Collector() for _ in range(4)]
    for member, collector in zip([first, first, second, publisher], collectors, strict=True):
        member.subscribe(collector)
    ticks = numbered_ticks(CONIDS, 50)
    for tick in ticks:
        publisher.publish(tick)
    for collector in collectors:
        await collector.wait_count(len(ticks))
        assert by_conid(collector.ticks) == by_conid(ticks)


async def test_unsubscribed_handler_gets_nothing_more_and_others_carry_on(fabric: Fabric) -> None:
    publisher, consumer = await fabric.member(), await fabric.member()
    staying, leaving = Collector(), Collector()
    consumer.subscribe(staying)
    leave = consumer.subscribe(leaving)
    before, after = numbered_ticks([8314], 10), numbered_ticks([8314], 10, first=11)
    for tick in before:
        publisher.publish(tick)
    await leaving.wait_count(10)
    leave()
    leave()  # idempotent
    for tick in after:
        publisher.publish(tick)
    await staying.wait_count(20)
    # Both handlers hang off the same member, so `staying` having seen tick 20 means the
    # member dispatched it: `leaving` would have had it by now.
    assert staying.ticks == before + after
    assert leaving.ticks == before


async def test_tick_values_round_trip_exactly(fabric: Fabric) -> None:
    publisher, consumer = await fabric.member(), await fabric.member()
    got = Collector()
    consumer.subscribe(got)
    ticks = [
        # Prices as the engine formats them: plain, closed (C), halted (H), K/M volumes.
        Tick(265598, {31: "212.34", 84: "212.33", 86: "212.35", 88: "1,200"}, 1),
        Tick(265598, {31: "C212.30", 87: "1.2K", 7762: "14.5M", 7059: "100"}, 2),
        Tick(8314, {31: "H135.0000001", 55: "IBM", 7051: "INTL BUSINESS MACHINES"}, 2**63 - 1),
        Tick(8314, {}, 0),
        Tick(12087792, {31: "1.08245", 70: "", 7283: "€ 0.5 – ½ ✓", 6509: "RpB"}, -(2**63)),
        Tick(12087792, {7293: "x" * 5_000, 0: "0", 65_535: "-1e-7"}, 7),
    ]
    for tick in ticks:
        publisher.publish(tick)
    await got.wait_count(len(ticks))
    assert by_conid(got.ticks) == by_conid(ticks)
    assert all(type(v) is str for tick in got.ticks for v in tick.fields.values())


# --- outages: only fabrics with a server ------------------------------------------------


@pytest.fixture
async def nats_fabric(nats_server: NatsServerProcess) -> AsyncIterator[NatsFabric]:
    fabric = NatsFabric(nats_server)
    yield fabric
    await fabric.close()


async def test_across_a_server_crash_order_holds_and_publishing_resumes(
    nats_fabric: NatsFabric,
) -> None:
    """The guarantee across an outage: per conid, an ordered subsequence with no duplicates;
    everything before the crash, and everything after both members are back, arrives."""
    publisher, consumer = await nats_fabric.member(), await nats_fabric.member()
    got = Collector()
    consumer.subscribe(got)
    before = numbered_ticks(CONIDS, 500)
    during = numbered_ticks(CONIDS, 500, first=501)
    after = numbered_ticks(CONIDS, 500, first=1_001)
    for tick in before:
        publisher.publish(tick)
    await got.wait_count(len(before))

    await nats_fabric.server.kill()
    for tick in during:
        publisher.publish(tick)  # never raises, never blocks while the bus is down
    await nats_fabric.server.restart()
    await publisher.wait_connected()
    await consumer.wait_connected()
    for tick in after:
        publisher.publish(tick)
    await publisher.flush()
    for conid in CONIDS:
        await got.wait_seq(conid, 1_500)

    for conid in CONIDS:
        seqs = got.seqs[conid]
        assert seqs == sorted(set(seqs)), f"{conid}: reordered or duplicated"
        assert seqs[:500] == list(range(1, 501))
        assert seqs[-500:] == list(range(1_001, 1_501))
    assert publisher.stats.reconnects == 1 and consumer.stats.reconnects == 1
    assert publisher.stats.dropped == 0  # the outage's ticks fitted nats-py's buffer


async def test_a_frozen_server_loses_nothing_once_it_runs_again(nats_fabric: NatsFabric) -> None:
    """SIGSTOP shorter than the ping timeout: the TCP connections survive, so the outage is
    only a delay: every tick arrives, in order."""
    publisher, consumer = await nats_fabric.member(), await nats_fabric.member()
    got = Collector()
    consumer.subscribe(got)
    ticks = numbered_ticks(CONIDS, 400)
    for tick in ticks[:1_000]:
        publisher.publish(tick)
    await got.wait_count(1_000)
    nats_fabric.server.pause()
    try:
        for tick in ticks[1_000:]:
            publisher.publish(tick)
        with pytest.raises(BusError, match="flush did not complete"):
            await publisher.flush(timeout=0.3)  # the server really is frozen
    finally:
        nats_fabric.server.resume()
    await publisher.flush()
    await got.wait_count(len(ticks))
    assert by_conid(got.ticks) == by_conid(ticks)
    assert publisher.stats.disconnects == 0 and consumer.stats.disconnects == 0
