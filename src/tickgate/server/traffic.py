"""Counters of one gateway that nothing else keeps: what `/metrics` reports beside the live
state it reads from the hub, the outboxes, the bus and `Health` at scrape time.

Everything here is plain integers and fixed bucket arrays, updated from the event loop's thread
only (not thread-safe) and cheap enough for the paths that call it: a histogram observation is
one bisection and three additions, and the hot paths (writes, ticks) only observe samples.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tickgate.streaming.outbox import OutboxStats

#: Bytes of one outbox write (the frames of one connection in one event-loop turn).
WRITE_BYTES_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
#: Seconds from a tick entering the gateway to the end of the turn that wrote its frames.
TICK_TO_WRITE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25)
#: Seconds one durable commit of trading events takes.
COMMIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class Buckets:
    """A fixed-bucket histogram: `counts[i]` observations fell at or under `bounds[i]` and above
    the bound before it; the last count is those above every bound (Prometheus' `+Inf`)."""

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("bucket bounds must be increasing")
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """`(upper bound, observations at or under it)` pairs ending with `+Inf`, the shape
        Prometheus histograms are exposed in."""
        pairs: list[tuple[str, int]] = []
        running = 0
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs


@dataclass(eq=False)
class Traffic:
    """Totals of one gateway since start that outlive the objects they are about.

    `retired_*` hold the outbox counters of connections already closed (live ones are read from
    their outboxes), so totals never go down when a client leaves.
    """

    retired_frames: int = 0
    retired_writes: int = 0
    retired_bytes: int = 0
    retired_conflated: int = 0
    slow_reader_closes: int = 0
    #: (method, route pattern, status) -> requests answered.
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    #: event type name -> trading events published.
    trading_events: Counter[str] = field(default_factory=Counter)
    write_bytes: Buckets = field(default_factory=lambda: Buckets(WRITE_BYTES_BUCKETS))
    tick_to_write: Buckets = field(default_factory=lambda: Buckets(TICK_TO_WRITE_BUCKETS))
    store_commit: Buckets = field(default_factory=lambda: Buckets(COMMIT_BUCKETS))

    def retire(self, stats: OutboxStats) -> None:
        """Add the final counters of a closed connection's outbox."""
        self.retired_frames += stats.frames_written
        self.retired_writes += stats.writes
        self.retired_bytes += stats.bytes_written
        self.retired_conflated += stats.conflated

    def count_event(self, event: object) -> None:
        """A trading engine listener: count `event` under its type's name."""
        self.trading_events[type(event).__name__] += 1
