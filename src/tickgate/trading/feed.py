"""Feeds market quotes to the trading engine, but only for conids it has a stake in.

The trading engine only needs quotes of conids with working orders or open positions, and of
the FX pairs that value a currency an account holds beside its base currency (their moves
change the account's figures). The feed keeps that set current from the engine's own events
and watches exactly those conids on the market engine (`MarketEngine.watch`), so a tick of any
other conid never reaches it; keeping the set costs one index lookup per event (never a walk
over the orders).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from tickgate.market.engine import MarketListener
from tickgate.market.fx import Pair
from tickgate.protocol.fields import QUOTE_FIELDS
from tickgate.trading.engine import QuoteSource, TradingEngine
from tickgate.trading.events import OrderAccepted, OrderFilled, OrderUpdated, TradingEvent

#: The name the feed's failures are reported under (`MarketEngine.health`).
HEALTH_NAME = "trading"


class WatchedQuotes(QuoteSource, Protocol):
    """The market engine as the feed uses it: quotes, and ticks of the conids it watches."""

    def watch(self, conid: int, listener: MarketListener, *, name: str | None = None) -> None: ...

    def unwatch(self, conid: int, listener: MarketListener) -> None: ...


class QuoteFeed:
    """Hands a `TradingEngine` the quotes of the conids it has a stake in."""

    def __init__(
        self, engine: TradingEngine, quotes: WatchedQuotes, *, pairs: Iterable[Pair] = ()
    ) -> None:
        """Watch the conids of `engine`'s working orders and open positions from now on, and
        those of the `pairs` (the FX pairs of the engine's rates) that value a held currency."""
        self.engine = engine
        self.quotes = quotes
        self.watched: set[int] = set()
        self._pairs = {p.instrument.conid: (p.base, p.quote) for p in pairs}
        #: Pairs whose moves revalue a currency some account holds.
        self._rates: set[int] = set()
        self._refresh_rates()
        for order in engine.state.working():
            self._refresh(order.conid)
        for portfolio in engine.state.portfolios.values():
            for conid in portfolio.positions:
                self._refresh(conid)
        engine.journal.add_listener(self.on_event)

    def on_market(self, conid: int, changed: dict[int, str], ts_ns: int) -> None:
        """Market listener of the watched conids: hand the new quote over when it matters to
        an order or position.

        `changed` is what the market engine found changed (it alone compares values); only a
        change of a quote field (`QUOTE_FIELDS`: bid, ask, sizes, last) can move a fill or a
        mark, so the others are not asked for."""
        if conid not in self.watched or QUOTE_FIELDS.isdisjoint(changed):
            return
        quote = self.quotes.quote(conid)
        if quote is not None:
            self.engine.on_quote(conid, quote)
            if conid in self._rates:
                self.engine.on_rate()

    def on_event(self, event: TradingEvent) -> None:
        """Trading listener: keep the watched set in step with orders, positions and held
        currencies."""
        if isinstance(event, OrderFilled) and self._pairs:
            self._refresh_rates()
        if isinstance(event, OrderAccepted | OrderUpdated | OrderFilled):
            self._refresh(event.order.conid)

    def _refresh_rates(self) -> None:
        held: set[str] = set()
        for portfolio in self.engine.state.portfolios.values():
            held |= {c for c in portfolio.books if c != portfolio.base}
            held |= {
                p.currency for p in portfolio.positions.values() if p.currency != portfolio.base
            }
        before, self._rates = (
            self._rates,
            {conid for conid, pair in self._pairs.items() if held.intersection(pair)},
        )
        for conid in before ^ self._rates:
            self._refresh(conid)

    def _refresh(self, conid: int) -> None:
        state = self.engine.state
        working = state.has_working(conid)
        held = any(
            (position := p.positions.get(conid)) is not None and position.quantity != 0
            for p in state.portfolios.values()
        )
        if working or held or conid in self._rates:
            if conid not in self.watched:
                self.watched.add(conid)
                self.quotes.watch(conid, self.on_market, name=HEALTH_NAME)
        elif conid in self.watched:
            self.watched.discard(conid)
            self.quotes.unwatch(conid, self.on_market)
