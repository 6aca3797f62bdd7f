"""The lasting faults of one gateway: what is active, for how many more calls or how long.

A fault ends when its calls are used up, when its time runs out (checked on every look-up
and by a timer on the event loop, both on the gateway's clock, so a test that moves a fake
clock sees it end without sleeping) or when it is cleared. Each fault is logged once when
injected and once when it ends, with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tickgate.clock import NS_PER_S, Clock

log = logging.getLogger("tickgate.faults")

#: The kinds of lasting fault.
REST_STATUS = "rest"
HEARTBEAT = "heartbeat"
REST_LATENCY = "rest-latency"
WS_LATENCY = "ws-latency"
LOGOUT = "logout"


@dataclass(frozen=True, slots=True)
class Delay:
    """A latency: fixed (`low_ms == high_ms`) or drawn uniformly from a seeded source."""

    low_ms: float
    high_ms: float
    seed: int | None = None
    _random: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._random.seed(self.seed)

    def next_seconds(self) -> float:
        """The next delay, in seconds."""
        if self.low_ms == self.high_ms:
            return self.low_ms / 1000
        return self._random.uniform(self.low_ms, self.high_ms) / 1000

    def describe(self) -> dict[str, Any]:
        if self.low_ms == self.high_ms:
            return {"ms": self.low_ms}
        return {"minMs": self.low_ms, "maxMs": self.high_ms, "seed": self.seed}


@dataclass(eq=False, slots=True)
class Fault:
    """One active fault. `calls_left`/`until_ns` None: not bounded that way."""

    id: int
    kind: str
    #: What the fault does, as listed (e.g. `{"path": ..., "status": 429}`).
    details: dict[str, Any]
    calls_left: int | None = None
    until_ns: int | None = None
    #: For latency faults, the delay source.
    delay: Delay | None = None

    def describe(self, now_ns: int) -> dict[str, Any]:
        """The fault as `GET /tickgate/faults` lists it."""
        left = None if self.until_ns is None else max(0, self.until_ns - now_ns) / NS_PER_S
        return {
            "id": self.id,
            "kind": self.kind,
            **self.details,
            "callsLeft": self.calls_left,
            "secondsLeft": None if left is None else round(left, 3),
        }


class FaultRegistry:
    """The active lasting faults of one gateway. Lives on the event loop; not thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._faults: dict[int, Fault] = {}
        self._ids = itertools.count(1)
        self._timer: asyncio.TimerHandle | None = None
        #: Called with each fault that ends, however it ends (to undo what it did).
        self._on_end: dict[str, Callable[[Fault], None]] = {}
        self._on_join: Callable[[Any], None] | None = None

    def on_end(self, kind: str, undo: Callable[[Fault], None]) -> None:
        """Call `undo(fault)` whenever a fault of `kind` ends."""
        self._on_end[kind] = undo

    def on_join(self, apply: Callable[[Any], None]) -> None:
        """Call `apply(connection)` for each new WebSocket connection (`joined`)."""
        self._on_join = apply

    def joined(self, connection: Any) -> None:
        """A WebSocket connection opens: the lasting socket faults apply to it too."""
        if self._on_join is not None and self._faults:
            self.purge()
            self._on_join(connection)

    def add(
        self,
        kind: str,
        details: dict[str, Any],
        *,
        calls: int | None = None,
        seconds: float | None = None,
        delay: Delay | None = None,
    ) -> Fault:
        """Activate a fault (logged once); it ends after `calls` uses or `seconds`, if given."""
        now = self._clock.monotonic_ns()
        until = None if seconds is None else now + int(seconds * NS_PER_S)
        fault = Fault(next(self._ids), kind, details, calls, until, delay)
        self._faults[fault.id] = fault
        log.warning("fault %d injected: %s", fault.id, _summary(fault, now))
        self._arm()
        return fault

    def active(self, kind: str) -> list[Fault]:
        """The active faults of `kind`, oldest first (those whose time ran out are ended)."""
        self.purge()
        return [f for f in self._faults.values() if f.kind == kind]

    def use(self, fault: Fault) -> None:
        """Count one use of `fault`; it ends with its last call."""
        if fault.calls_left is None:
            return
        fault.calls_left -= 1
        if fault.calls_left <= 0:
            self._end(fault, "its calls are used up")

    def clear(self, fault_id: int | None = None) -> list[Fault]:
        """End one fault (by id) or every fault; the faults ended. Raises KeyError for an id
        that is not active."""
        self.purge()
        everything = list(self._faults.values())
        chosen = everything if fault_id is None else [self._faults[fault_id]]
        for fault in chosen:
            self._end(fault, "cleared on request")
        return chosen

    def describe(self) -> list[dict[str, Any]]:
        """Every active fault, as `GET /tickgate/faults` and `/tickgate/status` list them."""
        self.purge()
        now = self._clock.monotonic_ns()
        return [fault.describe(now) for fault in self._faults.values()]

    def purge(self) -> None:
        """End the faults whose time has run out."""
        now = self._clock.monotonic_ns()
        for fault in [f for f in self._faults.values() if f.until_ns is not None]:
            if fault.until_ns is not None and fault.until_ns <= now:
                self._end(fault, "its time ran out")

    def close(self) -> None:
        """Stop the timer (the gateway is shutting down)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end(self, fault: Fault, why: str) -> None:
        if self._faults.pop(fault.id, None) is None:
            return
        log.warning("fault %d ended (%s): %s", fault.id, why, fault.kind)
        undo = self._on_end.get(fault.kind)
        if undo is not None:
            undo(fault)

    def _arm(self) -> None:
        """Wake up at the next end of a fault, so one ends on time even if nobody asks."""
        self.close()
        due = [f.until_ns for f in self._faults.values() if f.until_ns is not None]
        if not due:
            return
        delay = max(0, min(due) - self._clock.monotonic_ns()) / NS_PER_S
        self._timer = asyncio.get_running_loop().call_later(delay, self._wake)

    def _wake(self) -> None:
        self._timer = None
        self.purge()
        self._arm()


def _summary(fault: Fault, now_ns: int) -> str:
    bounds = []
    if fault.calls_left is not None:
        bounds.append(f"{fault.calls_left} calls")
    if fault.until_ns is not None:
        bounds.append(f"{(fault.until_ns - now_ns) / NS_PER_S:g} s")
    shown = ", ".join(f"{k}={v}" for k, v in fault.details.items())
    return f"{fault.kind} {shown} for {' or '.join(bounds) or 'until cleared'}"
