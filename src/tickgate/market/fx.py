"""Exchange rates and currency pairs from the catalogue's FX instruments and their simulated
quotes (`/iserver/currency/pairs`, `/iserver/exchangerate`).

An FX instrument's symbol is its pair, `BASE.QUOTE` (`EUR.USD`: one euro in dollars). A rate
between two currencies without a pair of their own is crossed through a third that pairs with
both (EUR -> JPY through USD). Prices are the quote's mid, else its last price, else (before the
first tick) the instrument's reference price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tickgate.model.instruments import Instrument, SecType
from tickgate.model.ticks import Quote


class Quotes(Protocol):
    """What the rates need of the market engine."""

    def quote(self, conid: int) -> Quote | None: ...


@dataclass(frozen=True, slots=True)
class Pair:
    """One FX instrument as a pair of currencies."""

    instrument: Instrument
    base: str
    quote: str


def pair_of(instrument: Instrument) -> Pair | None:
    """`instrument` as an FX pair (a CASH instrument named `BASE.QUOTE`), else None."""
    base, dot, quote = instrument.symbol.partition(".")
    if instrument.sec_type is SecType.CASH and dot and base and quote:
        return Pair(instrument, base, quote)
    return None


def pairs(instruments: Iterable[Instrument]) -> list[Pair]:
    """The FX pairs among `instruments`."""
    return [p for p in map(pair_of, instruments) if p is not None]


class FxRates:
    """Rates between the currencies of the pairs of a catalogue, at the current quotes."""

    def __init__(self, instruments: Iterable[Instrument], quotes: Quotes) -> None:
        self.pairs = pairs(instruments)
        self._quotes = quotes

    def pairs_of(self, currency: str) -> list[tuple[Pair, str]]:
        """Every pair that has `currency` on one side, with the currency on the other side."""
        return [
            (p, p.quote if p.base == currency else p.base)
            for p in self.pairs
            if currency in (p.base, p.quote)
        ]

    def rate(self, source: str, target: str) -> Decimal | None:
        """Units of `target` one unit of `source` buys; None when no pair (or pair of pairs)
        links the two currencies."""
        if source == target:
            return Decimal(1)
        direct = self._direct(source, target)
        if direct is not None:
            return direct
        for _, other in self.pairs_of(source):
            second = self._direct(other, target)
            if second is not None:
                first = self._direct(source, other)
                assert first is not None  # the pair just found links them
                return first * second
        return None

    def _direct(self, source: str, target: str) -> Decimal | None:
        for pair in self.pairs:
            if (pair.base, pair.quote) == (source, target):
                return self._price(pair.instrument)
            if (pair.base, pair.quote) == (target, source):
                return 1 / self._price(pair.instrument)
        return None

    def _price(self, instrument: Instrument) -> Decimal:
        quote = self._quotes.quote(instrument.conid)
        if quote is not None and quote.bid > 0 and quote.ask > 0:
            return (quote.bid + quote.ask) / 2
        if quote is not None and quote.last > 0:
            return quote.last
        return instrument.reference_price
