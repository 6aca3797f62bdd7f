"""Clocks. Engines never read time themselves; they are handed a `Clock`.

`SystemClock` is the real one; `FakeClock` is advanced by tests, so time-dependent behaviour
(tempo flushes, expiries, session closes) is deterministic.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """A source of time in integer nanoseconds."""

    def now_ns(self) -> int:
        """Wall-clock time, nanoseconds since the Unix epoch."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never goes backwards, for intervals and deadlines."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class ShiftedClock:
    """The machine's clocks, with wall time starting at `start_ns` when built: it runs at the
    real pace from a chosen instant. Tests use it so that a real server (whose simulator needs
    time to pass) sees the same time of day and weekday whenever the suite runs."""

    def __init__(self, start_ns: int) -> None:
        self._offset = start_ns - time.time_ns()

    def now_ns(self) -> int:
        return time.time_ns() + self._offset

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class FakeClock:
    """A clock that only moves when told to; wall and monotonic time move together."""

    def __init__(self, start_ns: int = 1_767_225_600_000_000_000) -> None:
        # Default start: 2026-01-01T00:00:00Z, a fixed point so tests are reproducible.
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def advance(self, *, seconds: float = 0.0, ms: int = 0, ns: int = 0) -> int:
        """Move time forward and return the new time in ns."""
        step = int(seconds * 1_000_000_000) + ms * 1_000_000 + ns
        if step < 0:
            raise ValueError("a FakeClock cannot go backwards")
        self._now += step
        return self._now

    def set(self, now_ns: int) -> None:
        """Jump to an absolute time that is not earlier than the current one."""
        if now_ns < self._now:
            raise ValueError("a FakeClock cannot go backwards")
        self._now = now_ns


class ReplayClock:
    """Wall time that a replay source moves (`advance_to`); monotonic time stays the machine's.

    `now_ns` is the replayed market's time, which trading, history and the session close read;
    intervals (tempo, heartbeats, rate limits, expiries) keep running in real time, so a paused
    replay does not freeze the sockets. It never goes backwards. `sleep_until` waits for replay
    time rather than real time, and `next_deadline` lets the source stop exactly at it.
    """

    def __init__(self, start_ns: int, *, monotonic: Callable[[], int] = time.monotonic_ns) -> None:
        self._now = start_ns
        self._monotonic = monotonic
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._monotonic()

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


NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
