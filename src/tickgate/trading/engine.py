"""The paper-trading engine: matching, the session's close and open, and the composition of
its collaborators, each with one job:

- `journal` (`Journal`): the state, the store it is rebuilt from, committing and publishing
  events (the guarantees are there: stored before shown, grouped quote commits);
- `desk` (`PlacementDesk`): the order commands (place, reply, modify, cancel, questions);
- `views` (`AccountViews`): the wire-shaped reads of orders, trades, positions and P&L;
- the engine itself: what quotes and the session clock do to working orders.
All time comes from the injected clock, all randomness (reply ids) from `config.seed`; not
thread-safe: call it from one thread (the event loop) only.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from tickgate.clock import Clock
from tickgate.model.accounts import AccountConfig
from tickgate.model.orders import Order
from tickgate.model.ticks import Quote
from tickgate.trading import lifecycle
from tickgate.trading.commands import InstrumentLookup
from tickgate.trading.commissions import CommissionSchedule, in_currency
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.events import (
    OrderFilled,
    OrderUpdated,
    SessionClosed,
    StoredEvent,
)
from tickgate.trading.journal import Journal
from tickgate.trading.matching import (
    MatchConfig,
    match,
    match_at_close,
    reachable_limits,
)
from tickgate.trading.placement import Placement, PlacementDesk
from tickgate.trading.portfolio import Portfolio, Rates, SameCurrency
from tickgate.trading.queries import AccountViews
from tickgate.trading.sessions import DAY_CALENDAR
from tickgate.trading.store import EventStore

log = logging.getLogger(__name__)


class QuoteSource(Protocol):
    """What the trading engine needs of the market engine."""

    def quote(self, conid: int) -> Quote | None:
        """The latest top of book of `conid` (prices on its tick grid, as
        `MarketEngine.quote` makes them), or None when there is none yet."""
        ...


class FillHours(Protocol):
    """When the market of a conid lets orders fill (the market hours of `tickgate.market`)."""

    def may_fill(self, conid: int, now_ns: int, *, outside_rth: bool) -> bool:
        """True when an order on `conid` with `outside_rth` may fill or trigger at `now_ns`."""
        ...


class AlwaysOpen:
    """Fill hours of a market that trades around the clock."""

    def may_fill(self, conid: int, now_ns: int, *, outside_rth: bool) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """Engine settings: fill model, commissions and the seed for reply ids (None: drawn from
    os.urandom, different in every process)."""

    match: MatchConfig = field(default_factory=MatchConfig)
    commissions: CommissionSchedule = field(default_factory=CommissionSchedule)
    seed: int | None = 0


class TradingEngine:
    """Orders, fills, positions and P&L of the configured paper accounts."""

    def __init__(
        self,
        instruments: InstrumentLookup,
        quotes: QuoteSource,
        store: EventStore,
        clock: Clock,
        *,
        accounts: Sequence[AccountConfig] = (AccountConfig(),),
        config: TradingConfig | None = None,
        hours: FillHours | None = None,
        rates: Rates | None = None,
    ) -> None:
        """`rates` value the accounts' other currencies in their base currencies (and make
        instruments in those currencies tradable); without them only each account's base
        currency is."""
        self.quotes, self.store, self.clock = quotes, store, clock
        self.config = config or TradingConfig()
        self.hours: FillHours = hours or AlwaysOpen()
        self.rates: Rates = rates or SameCurrency()
        self.journal = Journal(instruments, store, clock, accounts, self.rates)
        self.state = self.journal.state  # the one state object, for matching's hot path
        self.instrument = self.journal.instrument
        self.desk = PlacementDesk(self.journal, self, clock, self.config, seed=self.config.seed)
        self.views = AccountViews(self.journal, clock)

    def market(self, conid: int) -> Quote | None:
        """The current top of book of `conid`, if any."""
        return self.quotes.quote(conid)

    def commissions_for(self, currency: str) -> CommissionSchedule:
        """The commission schedule with its amounts in `currency` at the current rate."""
        return in_currency(self.config.commissions, currency, self.rates)

    # ---- matching -------------------------------------------------------------------------

    def on_quote(self, conid: int, market: Quote) -> None:
        """Mark positions in `conid` and match its working orders against `market`."""
        marked = False
        if market.last > 0:
            for portfolio in self.state.portfolios.values():
                marked = portfolio.mark(conid, market.last) or marked
        if self.state.has_working(conid):
            with self.journal.quote_callback():
                self._match_conid(conid, market)
        if marked and not self.journal.holding:  # a held group publishes its P&L when stored
            self.journal.publish_pnl()

    def on_rate(self) -> None:
        """An FX quote that values a held currency moved: publish the figures it changed
        (after any held group of quote events, which publishes them when stored)."""
        if not self.journal.holding:
            self.journal.publish_pnl()

    def _match_conid(self, conid: int, market: Quote) -> None:
        # Every fill and stop trigger passes here: a halted instrument's orders rest untouched
        # (as at an exchange halt) and match the first quote after the resume.
        if market.halted:
            return
        now = self.clock.now_ns()
        floor, ceiling = reachable_limits(market)
        for order in self.state.matchable(conid, floor, ceiling):
            current = self.state.orders[order.order_id]
            if (
                current.is_working
                and self.state.is_active(current)
                and self._may_fill(current, now)
            ):
                market = self._match_one(current.order_id, market)

    def _may_fill(self, order: Order, now_ns: int) -> bool:
        # An OPG order waits for its open (`open_auction`); the market's hours gate the rest.
        if order.tif == "OPG" and not order.triggered:
            return False
        return self.hours.may_fill(order.conid, now_ns, outside_rth=order.outside_rth)

    def _match_one(self, order_id: int, market: Quote) -> Quote:
        order = self.state.orders[order_id]
        instrument = self.instrument(order.conid)
        result = match(order, market, self.config.match, min_tick=instrument.min_tick)
        events: list[StoredEvent] = []
        trail: OrderUpdated | None = None
        updated = lifecycle.stop_update(order, result, self.clock.now_ns())
        if updated is not None:
            if _only_trailed(order, updated):
                trail = OrderUpdated(updated)
            else:
                events.append(OrderUpdated(updated))
            order = updated
        if result.filled and result.price is not None:
            events.append(self._fill_event(order, result.quantity, result.price))
            market = market.consume(order.side, result.quantity)
        if events or trail is not None:
            self.journal.hold(events, trail)
        if result.filled:
            self._after_fill(order_id)
        return market

    def _fill_event(self, order: Order, quantity: Decimal, price: Decimal) -> OrderFilled:
        earlier = self.state.tally(order.order_id)
        instrument = self.instrument(order.conid)
        return lifecycle.fill(
            order, quantity, price, instrument=instrument,
            schedule=self.commissions_for(instrument.currency), sequence=earlier.count + 1,
            now_ns=self.clock.now_ns(), charged=earlier.commission,
        )  # fmt: skip

    def _after_fill(self, order_id: int) -> None:
        order, now = self.state.orders[order_id], self.clock.now_ns()
        events: list[StoredEvent] = [
            lifecycle.expire(o, now) for o in self.state.oca_siblings(order)
        ]
        if order.remaining == 0:
            for child in self.state.children(order_id):
                activated = lifecycle.activate(child, now)
                if activated is not None:
                    events.append(activated)
        if events:
            self.journal.hold(events, None)
        if order.remaining == 0:
            market = self.market(order.conid)
            if market is not None and self.state.children(order_id):
                self._match_conid(order.conid, market)

    def match_new(self, placements: Sequence[Placement]) -> None:
        """Match freshly accepted (or modified) orders at once, then cancel what IOC orders
        did not fill."""
        for conid in dict.fromkeys(p.order.conid for p in placements):
            market = self.market(conid)
            if market is not None:
                self._match_conid(conid, market)
        now = self.clock.now_ns()
        leftovers = [self.state.orders[p.order.order_id] for p in placements]
        self.journal.commit(
            [lifecycle.expire(o, now) for o in leftovers if o.is_working and o.tif == "IOC"]
        )

    # ---- session --------------------------------------------------------------------------

    def close_session(
        self, now_ns: int | None = None, *, conids: Collection[int] | None = None
    ) -> None:
        """Close the trading day: `close_market` for `conids` (every conid when None), then
        reset the daily P&L, set the finished day aside, keep each account's day in the daily
        net-liquidation series and save a checkpoint of what is left. The close price of a
        conid is its quote's last price (or last fill)."""
        self.journal.settle()
        now = self.clock.now_ns() if now_ns is None else now_ns
        self.close_market(now, conids=conids)
        closes, day = self._close_prices(), DAY_CALENDAR.trading_date(now)
        values = [
            DailyValue(a, day, p.session_open_net_liquidation, _closing_value(p, closes), now)
            for a, p in self.state.portfolios.items()
        ]
        # The day's values are stored with the close itself: a crash keeps both or neither.
        self.journal.commit([SessionClosed(now, closes)], daily_values=values)
        self.journal.save_checkpoint()

    def close_market(self, now_ns: int, *, conids: Collection[int] | None = None) -> None:
        """The regular close of the markets of `conids` (all when None) at `now_ns`: MOC/LOC
        fill at the close price, DAY orders expire. Only orders placed before `now_ns` are
        concerned (a late catch-up spares newer ones); OPG orders wait for their open."""
        closes = self._close_prices()
        for order in list(self.state.working()):
            if conids is not None and order.conid not in conids:
                continue
            if (
                order.order_type.at_close
                and self.state.is_active(order)
                and order.created_ns < now_ns
                and not self._halted(order.conid)  # no closing auction while halted
            ):
                self._fill_at_close(order.order_id, closes.get(order.conid), now_ns)
        leftovers = [
            o
            for o in self.state.working()
            if o.tif == "DAY" and o.created_ns < now_ns and (conids is None or o.conid in conids)
        ]
        self.journal.commit([lifecycle.expire(o, now_ns) for o in leftovers])

    def open_auction(self, now_ns: int, *, conids: Collection[int]) -> None:
        """The regular open of the markets of `conids` at `now_ns`: held OPG orders placed
        before it go live and match the opening quote; what they do not fill expires."""
        waiting = [
            o
            for o in self.state.working()
            if o.conid in conids and o.tif == "OPG" and not o.triggered and o.created_ns < now_ns
        ]
        if not waiting:
            return
        self.journal.commit([OrderUpdated(lifecycle.trigger_at_open(o, now_ns)) for o in waiting])
        for conid in dict.fromkeys(o.conid for o in waiting):
            market = self.market(conid)
            if market is not None:
                self._match_conid(conid, market)
        leftovers = [self.state.orders[o.order_id] for o in waiting]
        self.journal.commit([lifecycle.expire(o, now_ns) for o in leftovers if o.is_working])

    def _halted(self, conid: int) -> bool:
        market = self.market(conid)
        return market is not None and market.halted

    def _close_prices(self) -> dict[int, Decimal]:
        closes = dict(self.state.last_prices)
        for conid in {o.conid for o in self.state.working()} | set(closes):
            market = self.market(conid)
            if market is not None and market.last > 0:
                closes[conid] = market.last
        return closes

    def _fill_at_close(self, order_id: int, close: Decimal | None, now: int) -> None:
        order = self.state.orders[order_id]
        quantity = None if close is None else match_at_close(order, close)
        if quantity is None or close is None:
            return
        live = lifecycle.trigger_for_close(order, now)
        self.journal.commit([OrderUpdated(live), self._fill_event(live, quantity, close)])
        self._after_fill(order_id)


def _closing_value(portfolio: Portfolio, closes: dict[int, Decimal]) -> Decimal:
    """The net liquidation `portfolio` will have once marked at `closes` (as applying the
    `SessionClosed` marks it), computed on a copy before the close is stored."""
    marked = portfolio.copy()
    for conid, price in closes.items():
        marked.mark(conid, price)
    return marked.net_liquidation


def _only_trailed(before: Order, after: Order) -> bool:
    """True when a quote only moved a trailing stop (no trigger, no status change)."""
    return (
        before.order_type.is_trailing
        and after.triggered == before.triggered
        and after.status == before.status
    )
