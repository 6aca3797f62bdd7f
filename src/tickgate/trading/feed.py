"""Feeds market quotes to the trading engine, but only for conids it has a stake in.

The trading engine only needs quotes of conids with working orders or open positions. The feed
keeps that set current from the engine's own events and watches exactly those conids on the
market engine (`MarketEngine.watch`), so a tick of any other conid never reaches it; keeping
the set costs one index lookup per event (never a walk over the orders).
"""

from __future__ import annotations

from typing import Protocol

from tickgate.market.engine import MarketListener
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

    def __init__(self, engine: TradingEngine, quotes: WatchedQuotes) -> None:
        """Watch the conids of `engine`'s working orders and open positions from now on."""
        self.engine = engine
        self.quotes = quotes
        self.watched: set[int] = set()
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

    def on_event(self, event: TradingEvent) -> None:
        """Trading listener: keep the watched set in step with orders and positions."""
        if isinstance(event, OrderAccepted | OrderUpdated | OrderFilled):
            self._refresh(event.order.conid)

    def _refresh(self, conid: int) -> None:
        state = self.engine.state
        working = state.has_working(conid)
        held = any(
            (position := p.positions.get(conid)) is not None and position.quantity != 0
            for p in state.portfolios.values()
        )
        if working or held:
            if conid not in self.watched:
                self.watched.add(conid)
                self.quotes.watch(conid, self.on_market, name=HEALTH_NAME)
        elif conid in self.watched:
            self.watched.discard(conid)
            self.quotes.unwatch(conid, self.on_market)
