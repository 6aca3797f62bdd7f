"""The metric building blocks: fixed-bucket histograms and the sampled tick latency."""

from __future__ import annotations

import asyncio
import time

import pytest

from tickgate.model.ticks import Tick
from tickgate.server.tick_latency import tick_latency_sampler
from tickgate.server.traffic import Buckets

TICK = Tick(265598, {31: "1"}, 0)


def test_buckets_are_cumulative_and_end_with_inf() -> None:
    buckets = Buckets((1, 10))
    for value in (0.5, 1, 3, 10, 11, 500):
        buckets.observe(value)
    assert buckets.cumulative() == [("1", 2), ("10", 4), ("+Inf", 6)]
    assert buckets.count == 6 and buckets.total == 525.5
    with pytest.raises(ValueError, match="increasing"):
        Buckets((5, 1))


async def test_sampler_times_the_first_tick_then_one_in_every() -> None:
    buckets = Buckets((1.0,))
    sample = tick_latency_sampler(buckets, every=4)
    for _ in range(9):  # ticks 1, 5 and 9 are sampled
        sample(TICK)
    async with asyncio.timeout(5):
        while buckets.count < 3:
            await asyncio.sleep(0)
    assert buckets.count == 3


async def test_a_sample_ends_after_the_turns_flush() -> None:
    buckets = Buckets((0.01, 1.0))
    sample = tick_latency_sampler(buckets, every=1)
    loop = asyncio.get_running_loop()
    sample(TICK)

    def slow_flush() -> None:  # scheduled after the tick, as the first push of a turn does
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            pass

    loop.call_soon(slow_flush)
    async with asyncio.timeout(5):
        while not buckets.count:
            await asyncio.sleep(0)
    assert buckets.total >= 0.02


def test_outside_a_loop_ticks_are_not_sampled() -> None:
    buckets = Buckets((1.0,))
    tick_latency_sampler(buckets)(TICK)
    assert buckets.count == 0
    with pytest.raises(ValueError, match="every"):
        tick_latency_sampler(buckets, every=0)
