"""The `Bus` port.

Sources publish ticks to a bus; the market engine of every gateway process subscribes to it. In
one process the bus is a direct call (`MemoryBus`); scaling out across cores and machines swaps
in an adapter over a real message bus without touching sources, engines or the hub.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tickgate.model.ticks import Tick

TickHandler = Callable[[Tick], object]


class Bus(Protocol):
    """Carries ticks from publishers to subscribers, in publish order per conid."""

    def publish(self, tick: Tick) -> None:
        """Hand `tick` to every subscriber. Must not reorder ticks of one conid."""
        ...

    def subscribe(self, handler: TickHandler) -> Callable[[], None]:
        """Call `handler(tick)` for every published tick; returns a function that unsubscribes."""
        ...
