"""`SimulatorSource`: runs a `MarketSimulator` in real time as a `DataSource`.

Ticks due are computed from the clock, never counted per sleep: after `k` seconds of monotonic
time exactly ``int(k * ticks_per_second)`` events have been requested (up to the backlog cap),
so a slow sink or a late wake-up makes the next batch bigger instead of making the market drift
behind the clock. Simulated time is the epoch start plus monotonic time elapsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tickgate.clock import NS_PER_S, Clock
from tickgate.model.ticks import TickSink
from tickgate.sources.simulator.market import MarketSimulator

#: Default wall time between steps: small enough for smooth streams, large enough to batch.
STEP_NS = 5_000_000


class SimulatorSource:
    """A `DataSource` that plays `simulator` at `ticks_per_second` events per second.

    `max_backlog_s` bounds one catch-up batch: when the loop was stalled longer than that (a
    suspended laptop, a debugger), the excess events are skipped, not queued, while simulated
    time still jumps to the clock (the random walk scales with elapsed time, so prices are
    still right). `sleep` is injectable so tests can drive `run` with a fake clock.
    Raises ValueError for a non-positive rate or step.
    """

    name = "simulator"

    def __init__(
        self,
        simulator: MarketSimulator,
        clock: Clock,
        *,
        ticks_per_second: float,
        step_ns: int = STEP_NS,
        max_backlog_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if ticks_per_second <= 0 or step_ns <= 0:
            raise ValueError("ticks_per_second and step_ns must be positive")
        self._simulator = simulator
        self._clock = clock
        # Events per 1000 s as an integer, so the due count is exact however long we run.
        self._rate_per_ks = max(1, round(ticks_per_second * 1000))
        self._step_ns = step_ns
        self._max_batch = max(1, int(ticks_per_second * max_backlog_s))
        self._sleep = sleep
        self._origin_mono: int | None = None
        self._origin_sim = simulator.now_ns
        self._requested = 0

    def start(self, sink: TickSink) -> int:
        """Anchor the source at the current monotonic time and hand the simulator's full
        state to `sink`. Returns the number of ticks delivered."""
        self._origin_mono = self._clock.monotonic_ns()
        self._origin_sim = self._simulator.now_ns
        self._requested = 0
        ticks = self._simulator.initial_ticks()
        for tick in ticks:
            sink(tick)
        return len(ticks)

    def step(self, sink: TickSink) -> int:
        """Produce every event due by now and hand the resulting ticks to `sink` in order.
        Returns the number of ticks delivered. Raises RuntimeError before `start`."""
        if self._origin_mono is None:
            raise RuntimeError("SimulatorSource.step() called before start()")
        elapsed = self._clock.monotonic_ns() - self._origin_mono
        due = elapsed * self._rate_per_ks // (1000 * NS_PER_S)
        batch = due - self._requested
        # Past the cap the excess is skipped for good: it is counted as requested.
        self._requested = due
        batch = min(batch, self._max_batch)
        sim_now = max(self._origin_sim + elapsed, self._simulator.now_ns)
        ticks = self._simulator.advance(sim_now, batch)
        for tick in ticks:
            sink(tick)
        return len(ticks)

    async def run(self, sink: TickSink) -> None:
        """`start`, then `step` every `step_ns` of monotonic time until cancelled.

        Sleeps until the next step boundary of the anchored schedule (not a fixed pause
        after each step), so processing time does not stretch the period.
        """
        self.start(sink)
        assert self._origin_mono is not None
        next_step = self._origin_mono
        while True:
            next_step += self._step_ns
            now = self._clock.monotonic_ns()
            if next_step < now:
                # Overran by more than a step: re-anchor the schedule instead of spinning.
                next_step = now
            await self._sleep((next_step - now) / NS_PER_S)
            self.step(sink)
