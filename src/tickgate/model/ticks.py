"""Ticks: the unit of market data flowing from a source into the market engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tickgate.model.orders import Side

_NONE = Decimal(0)


@dataclass(frozen=True, slots=True)
class Tick:
    """New values for some fields of one instrument, as of `ts_ns` (epoch nanoseconds).

    `fields` maps an IBKR market-data field id to its wire-formatted value (see
    `tickgate.protocol.fields`): sources speak the wire format so that a replay file or an
    upstream relay can feed the engine without translation.
    """

    conid: int
    fields: dict[int, str]
    ts_ns: int


#: Anything ticks are handed to: a source's output, a bus subscriber, `MarketEngine.apply`
#: (possibly wrapped). What it returns is ignored, so `MarketEngine.apply` (which returns the
#: changed fields) fits.
TickSink = Callable[[Tick], object]


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book of one instrument: the one numeric form of bid, ask, sizes and last.

    Prices are exact Decimals written to the instrument's tick decimals (`min_tick` "0.01"
    gives 99.50, never 99.5 or a float's 99.49999), sizes whole Decimals, so matching, marks
    and fills use them as they are. A non-positive price means no market on that side.
    `MarketEngine.quote` is the one place that makes them from the wire values of ticks.
    """

    conid: int
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal
    ts_ns: int
    #: The instrument is halted (its last price reads ``H...``): nothing fills or triggers on
    #: it until trading resumes.
    halted: bool = False

    def consume(self, side: Side, quantity: Decimal) -> Quote:
        """This quote after an order on `side` took `quantity` of the opposite side's size
        (never below zero), so two orders never both take the same displayed size."""
        if side is Side.BUY:
            return dataclasses.replace(self, ask_size=max(_NONE, self.ask_size - quantity))
        return dataclasses.replace(self, bid_size=max(_NONE, self.bid_size - quantity))
