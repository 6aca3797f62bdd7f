"""Benchmark market-data feeds: tick generators that stamp each tick with its creation time.

Every tick carries the benchmark fields: three prices (31, 84, 86), the creation time in epoch
nanoseconds under field `TS_FIELD` and a per-conid sequence number under `SEQ_FIELD`. The seed's
dialect accepts ids 22 and 23 in `fields` but no source ever fills them, so they cannot collide
with real market values; the load generator reads them back to measure latency ("tick created"
to "frame read by the client") and to detect lost or reordered updates per conid.

The feeds implement tickgate's `DataSource` port (`name`, `async run(sink)`), so the real
gateway is benchmarked unchanged: `build_app(config, source=lambda gateway: feed)`. A feed may
wait for a `gate` event before its first tick, so that clients connect to an idle server and the
measured window sees the steady state only.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

from tickgate.model.ticks import Tick, TickSink

TS_FIELD = 22
SEQ_FIELD = 23
PRICE_FIELDS = (31, 84, 86)
#: The five fields every benchmark subscription asks for.
BENCH_FIELDS: tuple[int, ...] = (*PRICE_FIELDS, TS_FIELD, SEQ_FIELD)
#: AAPL in the built-in catalogue: the firehose conid.
FIREHOSE_CONID = 265598


class TickMaker:
    """Makes stamped ticks: a seeded random walk of prices per conid, a sequence per conid.

    Guarantees: for each conid, sequence numbers start at 1 and increase by exactly one per tick;
    `TS_FIELD` is `time.time_ns()` read when the tick is made; every tick changes every price
    field relative to the previous tick of its conid (so a changed-fields diff keeps all five).
    """

    def __init__(self, *, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self._cents: dict[int, int] = {}
        self._seq: dict[int, int] = {}

    def make(self, conid: int) -> Tick:
        """The next tick of `conid`."""
        seq = self._seq.get(conid, 0) + 1
        self._seq[conid] = seq
        cents = self._cents.get(conid, 10_000)
        # Step by ±1..3 cents and never stand still: every price field changes on every tick.
        cents = max(100, cents + self._rng.choice((-3, -2, -1, 1, 2, 3)))
        self._cents[conid] = cents
        now = time.time_ns()
        fields = {
            31: _price(cents),
            84: _price(cents - 1),
            86: _price(cents + 1),
            TS_FIELD: str(now),
            SEQ_FIELD: str(seq),
        }
        return Tick(conid, fields, now)


def _price(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class FirehoseFeed:
    """One conid as fast as the event loop allows: `batch` ticks, then one loop turn.

    A batch per turn is how a fast upstream arrives (a socket read yields many updates); the
    gateway's outboxes then carry up to `batch` frames per client write.
    """

    name = "bench-firehose"

    def __init__(
        self,
        conid: int = FIREHOSE_CONID,
        *,
        batch: int = 64,
        seed: int = 1,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.conid = conid
        self.batch = batch
        self.maker = TickMaker(seed=seed)
        self.gate = gate
        #: ticks handed to the sink so far, and the monotonic ns when that count was reached
        self.made = 0
        self.made_at_ns = 0

    async def run(self, sink: TickSink) -> None:
        """Once `gate` is set (at once without one), feed `sink` forever (until cancelled)."""
        if self.gate is not None:
            await self.gate.wait()
        make, conid, batch = self.maker.make, self.conid, self.batch
        while True:
            for _ in range(batch):
                sink(make(conid))
            self.made += batch
            self.made_at_ns = time.monotonic_ns()
            await asyncio.sleep(0)


class PacedFeed:
    """`rate` ticks per second in total, each for a conid drawn (seeded) from `conids`.

    Ticks are created when they are due (checked every `step` seconds), so a late event loop
    shows up as latency rather than being hidden by back-dated timestamps.
    """

    name = "bench-paced"

    def __init__(
        self,
        conids: Sequence[int],
        *,
        rate: float,
        seed: int = 1,
        step: float = 0.001,
        gate: asyncio.Event | None = None,
    ) -> None:
        if not conids or rate <= 0:
            raise ValueError("a paced feed needs at least one conid and a positive rate")
        self.conids = list(conids)
        self.rate = rate
        self.step = step
        self.maker = TickMaker(seed=seed)
        self._pick = random.Random(seed + 1).choice
        self.gate = gate
        #: ticks handed to the sink so far, and the monotonic ns when that count was reached (a
        #: late loop catches up: the count follows the rate, in bursts when the loop is late)
        self.made = 0
        self.made_at_ns = 0

    async def run(self, sink: TickSink) -> None:
        """Once `gate` is set (at once without one), feed `sink` forever (until cancelled) at
        `rate` ticks per second on average."""
        if self.gate is not None:
            await self.gate.wait()
        start = time.monotonic_ns()
        make, pick, conids = self.maker.make, self._pick, self.conids
        while True:
            now = time.monotonic_ns()
            due = int((now - start) * self.rate / 1e9)
            for _ in range(due - self.made):
                sink(make(pick(conids)))
            self.made, self.made_at_ns = max(self.made, due), now
            await asyncio.sleep(self.step)
