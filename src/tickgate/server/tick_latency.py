"""Sampled tick-to-write latency: how long a tick waits between entering the gateway and the
end of the event-loop turn whose writes carry its frames.

A bus handler placed before the market engine counts ticks down and, for one tick in `every`,
notes the time and asks the loop for a callback. Outboxes flush from a callback the first push
of a turn schedules (see `streaming.outbox.TurnBatcher`), which may come after ours, so ours
schedules a second hop: that one runs after the turn's flushes, and the time it reads is when
the tick's frames were handed to the transports. Every other tick costs one decrement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from tickgate.model.ticks import Tick
from tickgate.server.traffic import Buckets

#: One tick in this many is timed.
SAMPLE_EVERY = 64


def tick_latency_sampler(buckets: Buckets, *, every: int = SAMPLE_EVERY) -> Callable[[Tick], None]:
    """A bus handler observing sampled tick-to-write latencies (seconds) into `buckets`: the
    first tick, then one in `every`. Runs on the event loop's thread; outside a running loop
    (benchmarks, tools) samples are skipped. Raises ValueError for `every` < 1.

    A closure rather than an object with `__call__`: it is called for every tick, and a plain
    function call is measurably cheaper than a slot wrapper.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    countdown = 1

    def observe(start: float) -> None:
        buckets.observe(time.perf_counter() - start)

    def hop(loop: asyncio.AbstractEventLoop, start: float) -> None:
        loop.call_soon(observe, start)

    def sample(_tick: Tick) -> None:
        nonlocal countdown
        countdown -= 1
        if countdown:
            return
        countdown = every
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(hop, loop, time.perf_counter())

    return sample
