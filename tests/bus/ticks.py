"""Ticks for bus tests, and a subscriber that can be awaited until it has seen enough."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable

from tickgate.model.ticks import Tick

#: The field that carries a test tick's per-conid sequence number (as the benchmarks do).
SEQ_FIELD = 23
BASE_NS = 1_700_000_000_000_000_000


def numbered_ticks(conids: list[int], per_conid: int, *, first: int = 1) -> list[Tick]:
    """`per_conid` ticks for each conid, interleaved; each carries its per-conid sequence
    number (from `first`) and a price that changes with it."""
    return [
        Tick(conid, {84: f"{100 + seq / 100:.2f}", SEQ_FIELD: str(seq)}, BASE_NS + seq)
        for seq in range(first, first + per_conid)
        for conid in conids
    ]


def by_conid(ticks: list[Tick]) -> dict[int, list[Tick]]:
    """The ticks of each conid in their order: what a bus promises to keep."""
    out: dict[int, list[Tick]] = defaultdict(list)
    for tick in ticks:
        out[tick.conid].append(tick)
    return dict(out)


class Collector:
    """A tick handler that records what it got and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        #: Sequence numbers received, per conid, in arrival order.
        self.seqs: dict[int, list[int]] = defaultdict(list)
        self._changed = asyncio.Event()

    def __call__(self, tick: Tick) -> None:
        self.ticks.append(tick)
        if SEQ_FIELD in tick.fields:
            self.seqs[tick.conid].append(int(tick.fields[SEQ_FIELD]))
        self._changed.set()

    async def wait_count(self, count: int, timeout: float = 10.0) -> None:
        await self.wait_until(lambda: len(self.ticks) >= count, timeout, f"{count} ticks")

    async def wait_seq(self, conid: int, seq: int, timeout: float = 10.0) -> None:
        """Until a tick of `conid` with sequence `seq` or later has arrived."""
        await self.wait_until(
            lambda: bool(self.seqs[conid]) and self.seqs[conid][-1] >= seq,
            timeout,
            f"seq {seq} of {conid}",
        )

    async def wait_until(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        async def _wait() -> None:
            while not done():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"waited {timeout} s for {what}; got {len(self.ticks)} ticks"
            ) from None


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait (bounded) for a condition that no event announces, checking every few ms."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.005)
