"""WebSocket latency: a transport that hands each write to the real one after a delay.

It stands in for a socket's transport inside its outbox while a `ws-latency` fault lasts, so
every frame the outbox writes (market data, answers, heartbeats) arrives late, in the order
written: a write never leaves before an earlier one, whatever delays the random source draws.
aiohttp's own control frames (close, pong) are not delayed.
"""

from __future__ import annotations

import asyncio
from collections import deque

from tickgate.server.faults.registry import Delay
from tickgate.streaming.outbox import Transport


class DelayedTransport:
    """Holds each write for `delay`, then writes it to `inner` (dropped if it is closing)."""

    def __init__(self, inner: Transport, delay: Delay) -> None:
        self.inner = inner
        self._delay = delay
        self._loop = asyncio.get_running_loop()
        self._held: deque[tuple[float, bytes]] = deque()
        self._last_due = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def write(self, data: bytes) -> None:
        due = max(self._last_due, self._loop.time() + self._delay.next_seconds())
        self._last_due = due
        self._held.append((due, bytes(data)))
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._release)

    def get_write_buffer_size(self) -> int:
        # Held bytes are not congestion: counting them would make the outbox conflate market
        # data as if the client were slow, which a delay alone does not mean.
        return self.inner.get_write_buffer_size()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def release_all(self) -> None:
        """Write everything held now, in order (the latency ends)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._held:
            self._write(self._held.popleft()[1])

    def _release(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._held and self._held[0][0] <= now:
            self._write(self._held.popleft()[1])
        if self._held:
            self._timer = self._loop.call_at(self._held[0][0], self._release)

    def _write(self, data: bytes) -> None:
        if not self.inner.is_closing():
            self.inner.write(data)
