"""The in-process bus keeps publish order and supports unsubscribing."""

from __future__ import annotations

from tickgate.bus.memory import MemoryBus
from tickgate.model.ticks import Tick


def test_subscribers_get_every_tick_in_order_until_they_leave() -> None:
    bus = MemoryBus()
    first: list[Tick] = []
    second: list[Tick] = []
    bus.subscribe(first.append)
    leave = bus.subscribe(second.append)
    ticks = [Tick(265598, {84: f"{100 + n}.00"}, n) for n in range(5)]
    for tick in ticks[:3]:
        bus.publish(tick)
    leave()
    for tick in ticks[3:]:
        bus.publish(tick)
    assert first == ticks and second == ticks[:3]
    assert bus.published == 5
