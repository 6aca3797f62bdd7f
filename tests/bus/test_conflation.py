"""The conflating queue: merges per conid, never loses the latest value, stays small."""

from __future__ import annotations

import asyncio

from tickgate.bus.conflation import ConflatingQueue
from tickgate.model.ticks import Tick


def test_a_consumer_that_keeps_up_gets_every_tick_as_it_was() -> None:
    queue = ConflatingQueue()
    first = Tick(1, {31: "1"}, 1)
    queue.put(first)
    assert queue.take_nowait() == [first]
    assert queue.take_nowait() == []


def test_a_consumer_behind_gets_one_merged_tick_per_conid_with_the_latest_values() -> None:
    queue = ConflatingQueue()
    original = {31: "1.00", 84: "0.99"}
    queue.put(Tick(8314, original, 1))
    queue.put(Tick(265598, {31: "200"}, 2))
    for n in range(2, 1_002):
        queue.put(Tick(8314, {31: f"{n}.00", 7059: str(n)}, 1 + n))
    assert len(queue) == 2
    assert queue.take_nowait() == [
        Tick(8314, {31: "1001.00", 84: "0.99", 7059: "1001"}, 1_002),
        Tick(265598, {31: "200"}, 2),
    ]
    assert original == {31: "1.00", 84: "0.99"}  # a producer's dict is never changed
    assert (queue.stats.put, queue.stats.merged, queue.stats.taken) == (1_002, 1_000, 2)


async def test_take_waits_for_something_to_take() -> None:
    queue = ConflatingQueue()
    taking = asyncio.create_task(queue.take())
    await asyncio.sleep(0)
    assert not taking.done()
    queue.put(Tick(1, {31: "1"}, 1))
    assert await asyncio.wait_for(taking, 5) == [Tick(1, {31: "1"}, 1)]
