"""The replay clock, and sleeping on any clock: the waiting half of `tickgate.clock`.

Kept apart from `tickgate.clock` because waiting needs asyncio, which the core (market, trading,
model) never imports; the replay source and the composition root's timers use it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

from tickgate.clock import NS_PER_S, Clock


class ReplayClock:
    """Wall time that a replay source moves (`advance_to`); monotonic time stays the machine's.

    `now_ns` is the replayed market's time, which trading, history and the session close read;
    intervals (tempo, heartbeats, rate limits, expiries) keep running in real time, so a paused
    replay does not freeze the sockets. It never goes backwards. `sleep_until` waits for replay
    time rather than real time, and `next_deadline` lets the source stop exactly at it.
    """

    def __init__(
        self,
        start_ns: int,
        *,
        monotonic: Callable[[], int] = time.monotonic_ns,
        host: Callable[[], int] = time.time_ns,
    ) -> None:
        self._now = start_ns
        self._monotonic = monotonic
        self._host = host
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._monotonic()

    def host_ns(self) -> int:
        return self._host()

    def advance_to(self, now_ns: int) -> None:
        """Move replay time to `now_ns` (ignored when earlier) and wake the sleepers it passed."""
        if now_ns > self._now:
            self._now = now_ns
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)

    def next_deadline(self) -> int | None:
        """The earliest time a `sleep_until` caller waits for, or None."""
        while self._sleepers and self._sleepers[0][2].done():  # cancelled sleepers
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    async def sleep_until(self, deadline_ns: int) -> None:
        """Return once replay time reached `deadline_ns` (at once if it already has)."""
        if deadline_ns <= self._now:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline_ns, next(self._order), waiter))
        await waiter


async def sleep_until(clock: Clock, deadline_ns: int) -> None:
    """Sleep until `clock.now_ns()` reaches `deadline_ns`: on replay time for a `ReplayClock`,
    else for the equivalent real interval."""
    if isinstance(clock, ReplayClock):
        await clock.sleep_until(deadline_ns)
    else:
        await asyncio.sleep(max(0, deadline_ns - clock.now_ns()) / NS_PER_S)
