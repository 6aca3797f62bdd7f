"""The `Bus` port.

Sources publish ticks to a bus; the market engine of every gateway process subscribes to it. In
one process the bus is a direct call (`MemoryBus`); scaling out across cores and machines swaps
in an adapter over a real message bus (`tickgate.bus.nats.NatsBus`) without touching sources,
engines or the hub.

Shape: the tick path is synchronous on purpose. `publish` and `subscribe` never block and never
await, so a source calls `publish` inside its tight loop and the in-process bus stays a plain
function call. An adapter that does I/O queues internally and writes from its own task; its
lifecycle (`flush`, `close`) is async because only there may anyone wait for the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tickgate.errors import TickgateError
from tickgate.model.ticks import Tick, TickSink


class BusError(TickgateError):
    """The bus cannot do what was asked (not reachable, misconfigured, closed)."""


class TickEncodingError(BusError):
    """A tick cannot be put on (or read back from) the wire; the message says why."""


def add_handler(handlers: list[TickSink], handler: TickSink) -> Callable[[], None]:
    """Append `handler` to an adapter's list; the returned function removes it (idempotent,
    as every adapter's unsubscribe is)."""
    handlers.append(handler)

    def unsubscribe() -> None:
        if handler in handlers:
            handlers.remove(handler)

    return unsubscribe


@dataclass(frozen=True, slots=True)
class FollowingStatus:
    """What a member that follows conids over a cluster bus holds right now (`/metrics`).

    Here, not beside the follower, so that readers need not import the NATS client."""

    #: Conids followed now.
    followed: int
    #: Followed conids whose image has not arrived yet, or whose gap is being repaired: their
    #: updates are held back until it does.
    awaiting_image: int
    image_requests: int
    image_failures: int
    gaps: int
    resyncs: int


class Bus(Protocol):
    """Carries ticks from publishers to subscribers, in publish order per conid."""

    def publish(self, tick: Tick) -> None:
        """Hand `tick` to every subscriber. Must not reorder ticks of one conid; never blocks."""
        ...

    def subscribe(self, handler: TickSink) -> Callable[[], None]:
        """Call `handler(tick)` for every tick published after this returns (on the event loop
        thread); returns a function that unsubscribes."""
        ...

    async def flush(self) -> None:
        """Return once every tick published before the call has left this member: delivered
        (in-process) or accepted by the bus server (networked)."""
        ...

    async def close(self) -> None:
        """Flush what can be flushed, stop delivering, release connections. Idempotent."""
        ...
