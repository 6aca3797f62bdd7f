"""Clocks. Engines never read time themselves; they are handed a `Clock`.

`SystemClock` is the real one; `FakeClock` is advanced by tests, so time-dependent behaviour
(tempo flushes, expiries, session closes) is deterministic. Nothing here waits: sleeping on a
clock needs an event loop, which the core never runs (`tickgate.sources.replay.clock` has
the replay clock and `sleep_until`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

#: Nanoseconds per unit: the one definition every module converts times with.
NS_PER_MS = 1_000_000
NS_PER_S = 1_000 * NS_PER_MS
NS_PER_MINUTE = 60 * NS_PER_S
NS_PER_HOUR = 60 * NS_PER_MINUTE
NS_PER_DAY = 24 * NS_PER_HOUR


class Clock(Protocol):
    """A source of time in integer nanoseconds."""

    def now_ns(self) -> int:
        """Wall-clock time, nanoseconds since the Unix epoch."""
        ...

    def monotonic_ns(self) -> int:
        """A clock that never goes backwards, for intervals and deadlines."""
        ...

    def host_ns(self) -> int:
        """The machine's own wall time, nanoseconds since the Unix epoch: what a client
        compares with its own clock (heartbeats). It is `now_ns` except where the gateway's
        time is simulated: shifted for tests, or a replayed market's."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def host_ns(self) -> int:
        return time.time_ns()


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

    def host_ns(self) -> int:
        return time.time_ns()


class FakeClock:
    """A clock that only moves when told to; wall and monotonic time move together."""

    def __init__(self, start_ns: int | datetime = 1_767_225_600_000_000_000) -> None:
        """Start at `start_ns`: integer nanoseconds since the Unix epoch, or an aware datetime
        (its instant, whatever its zone). Raises TypeError for anything else, among them a
        naive datetime: taking it as the machine's local time would make a test's result
        depend on where it runs."""
        # Default start: 2026-01-01T00:00:00Z, a fixed point so tests are reproducible.
        self._now = _start_ns(start_ns)

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    def host_ns(self) -> int:
        return self._now

    def advance(self, *, seconds: float = 0.0, ms: int = 0, ns: int = 0) -> int:
        """Move time forward and return the new time in ns."""
        step = int(seconds * NS_PER_S) + ms * NS_PER_MS + ns
        if step < 0:
            raise ValueError("a FakeClock cannot go backwards")
        self._now += step
        return self._now

    def set(self, now_ns: int) -> None:
        """Jump to an absolute time that is not earlier than the current one."""
        if now_ns < self._now:
            raise ValueError("a FakeClock cannot go backwards")
        self._now = now_ns


def _start_ns(start: object) -> int:
    """A FakeClock's start in epoch ns (see `FakeClock.__init__`)."""
    if isinstance(start, datetime):
        if start.utcoffset() is None:
            raise TypeError(
                f"FakeClock needs an aware datetime, not the naive {start.isoformat()!r}: "
                "give it a zone, e.g. datetime(2026, 1, 5, 14, 30, tzinfo=timezone.utc)"
            )
        # Exact to the microsecond, where .timestamp() would round through a float.
        return (start - _EPOCH) // _MICROSECOND * 1_000
    if isinstance(start, bool) or not isinstance(start, int):
        raise TypeError(
            "FakeClock starts at integer nanoseconds since the Unix epoch or an aware "
            f"datetime, not {type(start).__name__} {start!r}"
        )
    return start


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
