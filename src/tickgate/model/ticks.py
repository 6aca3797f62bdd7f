"""Ticks: the unit of market data flowing from a source into the market engine."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class Quote:
    """Numeric top of book of one instrument, for matching orders and valuing positions."""

    conid: int
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    ts_ns: int
