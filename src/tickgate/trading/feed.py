"""Feeds market quotes to the trading engine, but only for conids it has a stake in.

The market engine calls every listener for every tick; the trading engine only needs quotes of
conids with working orders or open positions. This listener keeps that set current from the
engine's own events, so the tick path costs one set lookup for every other conid; keeping it
costs one index lookup per event (never a walk over the orders).
"""

from __future__ import annotations

from tickgate.protocol.fields import QUOTE_FIELDS
from tickgate.trading.engine import QuoteSource, TradingEngine
from tickgate.trading.events import OrderAccepted, OrderFilled, OrderUpdated, TradingEvent


class QuoteFeed:
    """Market-engine listener for a `TradingEngine`."""

    def __init__(self, engine: TradingEngine, quotes: QuoteSource) -> None:
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
        """Market listener: hand the new quote over when it matters to an order or position.

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
            self.watched.add(conid)
        else:
            self.watched.discard(conid)
