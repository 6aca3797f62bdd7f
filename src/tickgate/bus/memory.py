"""In-process bus: publishing calls each subscriber directly, in subscription order."""

from __future__ import annotations

from collections.abc import Callable

from tickgate.bus.base import add_handler
from tickgate.model.ticks import Tick, TickSink


class MemoryBus:
    """The single-process `Bus`. Synchronous, so ordering is exactly publish order and a tick
    is delivered before `publish` returns; a handler's exception reaches the publisher."""

    def __init__(self) -> None:
        self._handlers: list[TickSink] = []
        self.published = 0

    def publish(self, tick: Tick) -> None:
        self.published += 1
        for handler in self._handlers:
            handler(tick)

    def subscribe(self, handler: TickSink) -> Callable[[], None]:
        return add_handler(self._handlers, handler)

    async def flush(self) -> None:
        """Nothing to wait for: every tick was delivered inside `publish`."""

    async def close(self) -> None:
        """Subscribers are dropped; later publishes reach no one."""
        self._handlers.clear()
