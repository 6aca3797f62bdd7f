"""The trading day's cycle: what each session boundary does to the market and the orders.

`DayCycle` is the one owner of the daily close. A timer in the composition root calls `apply`
at every boundary `MarketHours` announces; the control route asks `close_day`; on start the root
asks `catch_up` for a close missed while the gateway was down. It knows no clock, task or
socket: the time of each step is passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from tickgate.market.market_hours import Boundary, MarketHours, Mode, Transition
from tickgate.model.ticks import Tick
from tickgate.trading import sessions
from tickgate.trading.engine import TradingEngine

log = logging.getLogger("tickgate.control")


class SimulatedMarket(Protocol):
    """The port of a market whose sessions the cycle opens and closes (the simulator).

    Each call moves the market to the given time and returns the ticks it changed."""

    @property
    def now_ns(self) -> int: ...

    def close_session(self, now_ns: int) -> list[Tick]: ...

    def start_days(self, conids: Iterable[int], now_ns: int) -> list[Tick]: ...

    def close_markets(self, conids: Iterable[int], now_ns: int) -> list[Tick]: ...


class DayCycle:
    """Acts on session boundaries for one gateway: new days, OPG at the open, DAY/MOC/LOC at
    the close (the US equity close ends the accounts' day), closed markets in `exchange` mode.

    `market` is None when the source is not simulated (a replay or a relay brings its own
    sessions); the orders' side of every boundary still happens. Ticks the market changes go
    to `publish`, in order, before the orders react to them.
    """

    def __init__(
        self,
        trading: TradingEngine,
        hours: MarketHours,
        *,
        market: SimulatedMarket | None,
        publish: Callable[[Tick], None],
    ) -> None:
        self._trading = trading
        self._hours = hours
        self._market = market
        self._publish = publish

    def next_boundaries(self, now_ns: int) -> list[Transition]:
        """The boundaries due next after `now_ns` (all at the same time, the earliest)."""
        return self._hours.next_transitions(now_ns)

    def catch_up(self, now_ns: int) -> bool:
        """Close a day the gateway missed while it was down; True when it did."""
        return sessions.catch_up(self._trading, now_ns)

    def close_day(self, now_ns: int) -> None:
        """Close the day now, on request: the simulated market's last prices turn `C...` and it
        stops; DAY orders expire and MOC/LOC fill at the close."""
        if self._market is not None:
            self._send(self._market.close_session(now_ns))
        self._trading.close_session(now_ns)

    def apply(self, transition: Transition) -> None:
        """What one calendar's session boundary does to its instruments: a new day starts at
        the session's start (the market reopens in `exchange` mode), OPG orders fill at the
        open, DAY orders expire and MOC/LOC fill at the close, and in `exchange` mode the
        market closes at the session's end."""
        at, conids, market = transition.at_ns, transition.conids, self._market
        boundary = transition.boundary
        if boundary is Boundary.START and market is not None:
            self._send(market.start_days(conids, max(at, market.now_ns)))
        elif boundary is Boundary.OPEN:
            self._trading.open_auction(at, conids=conids)
        elif boundary is Boundary.CLOSE and transition.calendar is sessions.DAY_CALENDAR:
            self._trading.close_session(at, conids=conids)
            log.info("trading day closed: DAY orders expired, MOC/LOC filled")
        elif boundary is Boundary.CLOSE:
            self._trading.close_market(at, conids=conids)
        elif boundary is Boundary.END and market is not None and self._hours.mode is Mode.EXCHANGE:
            self._send(market.close_markets(conids, max(at, market.now_ns)))
        log.debug("%s %s at %d", transition.calendar.name, boundary.value, at)

    def _send(self, ticks: list[Tick]) -> None:
        for tick in ticks:
            self._publish(tick)
