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

from tickgate.model.ticks import Tick
from tickgate.server.traffic import Buckets

#: One tick in this many is timed.
SAMPLE_EVERY = 64


class TickLatencySampler:
    """A bus handler observing sampled tick-to-write latencies (seconds) into `buckets`.

    Must run on the event loop's thread; outside a running loop samples are skipped."""

    __slots__ = ("_buckets", "_countdown", "every")

    def __init__(self, buckets: Buckets, *, every: int = SAMPLE_EVERY) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self._buckets = buckets
        self.every = every
        self._countdown = 1  # the first tick is sampled, so a quiet gateway still reports one

    def __call__(self, tick: Tick) -> None:
        self._countdown -= 1
        if self._countdown:
            return
        self._countdown = self.every
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # ticks applied outside the server (benchmarks, tools)
            return
        loop.call_soon(self._hop, loop, time.perf_counter())

    def _hop(self, loop: asyncio.AbstractEventLoop, start: float) -> None:
        loop.call_soon(self._observe, start)

    def _observe(self, start: float) -> None:
        self._buckets.observe(time.perf_counter() - start)
