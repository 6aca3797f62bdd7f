"""A queue of ticks that merges per conid instead of growing: a slow consumer gets fewer,
fuller ticks with the latest values, and memory stays one pending tick per conid."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tickgate.model.ticks import Tick


@dataclass(slots=True)
class ConflationStats:
    put: int = 0
    #: Ticks folded into a pending tick of the same conid (the consumer was behind).
    merged: int = 0
    taken: int = 0


class ConflatingQueue:
    """`put` never blocks and never drops a value: a tick for a conid that already has one
    pending is merged into it (later values win, the later `ts_ns` is kept). `take` returns
    every pending tick, one per conid, in the order their conids first became pending.
    For one consumer task."""

    def __init__(self) -> None:
        self._pending: dict[int, Tick] = {}
        # Conids whose pending tick owns its fields dict (made by a merge), so merging again
        # may update it in place instead of copying.
        self._owned: set[int] = set()
        self._ready = asyncio.Event()
        self.stats = ConflationStats()

    def __len__(self) -> int:
        return len(self._pending)

    def put(self, tick: Tick) -> None:
        self.stats.put += 1
        conid = tick.conid
        pending = self._pending.get(conid)
        if pending is None:
            self._pending[conid] = tick
            self._ready.set()
            return
        self.stats.merged += 1
        if conid in self._owned:
            pending.fields.update(tick.fields)
            self._pending[conid] = Tick(conid, pending.fields, tick.ts_ns)
        else:
            self._pending[conid] = Tick(conid, pending.fields | tick.fields, tick.ts_ns)
            self._owned.add(conid)

    def take_nowait(self) -> list[Tick]:
        ticks = list(self._pending.values())
        self._pending.clear()
        self._owned.clear()
        self._ready.clear()
        self.stats.taken += len(ticks)
        return ticks

    async def take(self) -> list[Tick]:
        """Wait until something is pending, then take it all."""
        while not self._pending:
            await self._ready.wait()
        return self.take_nowait()
