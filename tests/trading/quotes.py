"""Quotes for trading tests, written as `MarketEngine.quote` writes them: exact Decimals on the
instrument's tick decimals (100.0 with a 0.01 tick is 100.00), whole Decimal sizes."""

from __future__ import annotations

from decimal import Decimal

from tickgate.model.ticks import Quote

CENT = Decimal("0.01")


def grid_quote(
    conid: int,
    bid: float | str,
    ask: float | str,
    last: float | str,
    size: int = 1000,
    *,
    ask_size: int | None = None,
    min_tick: Decimal = CENT,
) -> Quote:
    """A quote of `conid` with `size` on both sides (or `ask_size` on the ask)."""

    def price(value: float | str) -> Decimal:
        return Decimal(str(value)).quantize(min_tick)

    asked = size if ask_size is None else ask_size
    return Quote(conid, price(bid), price(ask), Decimal(size), Decimal(asked), price(last), 0)


class QuoteBook:
    """The market as a trading engine reads it (`QuoteSource`): the latest quote a test showed
    for each conid."""

    def __init__(self, *quotes: Quote) -> None:
        self.book = {quote.conid: quote for quote in quotes}

    def quote(self, conid: int) -> Quote | None:
        return self.book.get(conid)

    def show(self, quote: Quote) -> Quote:
        """Make `quote` the latest of its conid; returns it (for `TradingEngine.on_quote`)."""
        self.book[quote.conid] = quote
        return quote
