"""The paper-trading engine: commands in, events stored, then applied, then published.

Guarantees:
- every state change is an event appended to the `EventStore` *before* it is returned to the
  caller, shown by a query or passed to a listener; on construction the engine restores the
  store's checkpoint and replays the events after it, so a restarted engine holds exactly what
  it acknowledged;
- what quotes cause (fills, stop triggers, trailing-stop moves) is committed at once, or, after
  `group_quote_commits`, in one transaction per group (see there): the market-data path then
  waits on the disk once per group instead of once per fill;
- all time comes from the injected clock, all randomness (reply ids) from `config.seed`;
- not thread-safe: call it from one thread (the event loop) only.
Commands come from `PlacementDesk`, wire-shaped reads from `AccountViews`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from tickgate.clock import NS_PER_S, Clock
from tickgate.errors import NotFoundError
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument, invalid_conid
from tickgate.model.orders import Fill, Order
from tickgate.model.ticks import Quote
from tickgate.trading import lifecycle
from tickgate.trading.checkpoint import encode_state, restore_state
from tickgate.trading.commands import InstrumentLookup
from tickgate.trading.commissions import CommissionSchedule
from tickgate.trading.events import (
    OrderFilled,
    OrderUpdated,
    PnlChanged,
    SessionClosed,
    StoredEvent,
    TradingEvent,
)
from tickgate.trading.matching import (
    MatchConfig,
    match,
    match_at_close,
    reachable_limits,
)
from tickgate.trading.placement import Placement, PlacementDesk
from tickgate.trading.portfolio import Portfolio
from tickgate.trading.queries import AccountViews
from tickgate.trading.state import TradingState
from tickgate.trading.store import EventStore

Listener = Callable[[TradingEvent], None]
#: Runs a callback soon, after the current market-data callback returns (`loop.call_soon`).
Scheduler = Callable[[Callable[[], None]], object]

#: A trailing-stop move nobody was shown is stored with the next group that stores anything,
#: when a query or command needs it, or once it is this old: at most one write per interval.
TRAIL_PERSIST_INTERVAL_NS = NS_PER_S
#: A restart that replayed at least this many events saves a fresh checkpoint.
CHECKPOINT_AFTER_REPLAYED = 1_000

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
    """Engine settings: fill model, commissions and the seed for reply ids."""

    match: MatchConfig = field(default_factory=MatchConfig)
    commissions: CommissionSchedule = field(default_factory=CommissionSchedule)
    seed: int = 0


class TradingEngine(PlacementDesk, AccountViews):
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
    ) -> None:
        self.instruments, self.quotes, self.store, self.clock = instruments, quotes, store, clock
        self.config = config or TradingConfig()
        self.hours: FillHours = hours or AlwaysOpen()
        self._listeners: list[Listener] = []
        self._last_pnl: dict[str, PnlChanged] = {}
        self._schedule: Scheduler | None = None
        self._pending: list[StoredEvent] = []
        self._trails: dict[int, int] = {}  # order id -> monotonic ns of its first unstored move
        self._flush_scheduled = False
        self._in_quote = False
        self.state = self._restore(accounts)
        super().__init__(seed=self.config.seed)

    def _restore(self, accounts: Sequence[AccountConfig]) -> TradingState:
        checkpoint, events = self.store.restore()
        state = TradingState.empty(accounts)
        if checkpoint is not None:
            try:
                state = restore_state(checkpoint, accounts)
            except (KeyError, TypeError, ValueError):
                log.warning("trading checkpoint unreadable; replaying the whole store")
                checkpoint, events = None, self.store.replay()
        replayed = 0
        for event in events:
            state.apply(event, self.instrument)
            replayed += 1
        hot = len(state.orders) + len(state.fills)
        if replayed >= CHECKPOINT_AFTER_REPLAYED and replayed > 2 * hot:
            self.store.save_checkpoint(encode_state(state))
        return state

    # ---- plumbing -------------------------------------------------------------------------

    def instrument(self, conid: int) -> Instrument:
        """The instrument of `conid`. Raises NotFoundError when the catalogue lacks it."""
        found = self.instruments.find(conid)
        if found is None:
            raise NotFoundError(f"{invalid_conid(conid)}: no such contract")
        return found

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event)` after each event is stored and applied; returns a remover.

        Listeners run synchronously and must not raise or call back into the engine.
        """
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def group_quote_commits(self, schedule: Scheduler) -> None:
        """Commit what quotes cause in groups from now on.

        Events caused by a quote are applied at once (the next quote matches against them) but
        held back from the store and from listeners; the first of a group asks `schedule` to
        run `flush`, which stores the whole group in one transaction and then publishes it.
        Every query and command flushes first, so nothing unstored is ever shown or
        acknowledged. A trailing stop's move is shown to nobody until stored, so the moves a
        crash can lose are ones no client saw: after a restart the stop is never looser than
        what a client was told, and the next quote ratchets it again. Such a move is stored
        with the next group that stores anything else, when a query or command flushes, or
        once `TRAIL_PERSIST_INTERVAL_NS` old.
        """
        self._schedule = schedule

    def flush(self) -> None:
        """Store and publish the held-back group (nothing when there is none).

        Raises what the store raises; the group then stays held back and is retried with the
        next flush.
        """
        self._flush_scheduled = False
        events = [*self._pending, *(OrderUpdated(self.state.orders[i]) for i in self._trails)]
        if not events:
            return
        self._pending, self._trails = [], {}
        try:
            self.store.append(events)
        except BaseException:
            self._pending = events  # applied already: stored with the next flush
            raise
        for event in events:
            self._publish(event)
        self._publish_pnl()

    def _settle(self) -> None:
        """Make everything applied stored (and published) before it is shown or built upon.

        Inside a quote callback nothing else runs, and listeners called there only see P&L
        with no fill held back, so the group is left to its flush."""
        if (self._pending or self._trails) and not self._in_quote:
            self.flush()

    def _commit(self, events: Sequence[StoredEvent]) -> None:
        self._settle()
        if not events:
            return
        self.store.append(events)
        for event in events:
            self.state.apply(event, self.instrument)
        for event in events:
            self._publish(event)
        self._publish_pnl()

    def _hold(self, events: Sequence[StoredEvent], trail: OrderUpdated | None) -> None:
        """A quote's events: committed now, or applied and held for the group commit."""
        if self._schedule is None or not self._in_quote:
            self._commit([*events] if trail is None else [trail, *events])
            return
        now = self.clock.monotonic_ns()
        if trail is not None:
            self.state.apply(trail, self.instrument)
            self._trails.setdefault(trail.order.order_id, now)
        for event in events:
            self.state.apply(event, self.instrument)
            if not isinstance(event, SessionClosed):  # its snapshot carries any earlier move
                self._trails.pop(event.order.order_id, None)
        self._pending += events
        oldest = min(self._trails.values(), default=now)
        due = self._pending or now - oldest >= TRAIL_PERSIST_INTERVAL_NS
        if due and not self._flush_scheduled:
            self._flush_scheduled = True
            self._schedule(self.flush)

    def _publish(self, event: TradingEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def _publish_pnl(self) -> None:
        for account, portfolio in self.state.portfolios.items():
            now = PnlChanged(
                account, portfolio.daily_pnl, portfolio.unrealized, portfolio.realized,
                portfolio.net_liquidation, portfolio.market_value, portfolio.excess_liquidity,
            )  # fmt: skip
            if self._last_pnl.get(account) != now:
                self._last_pnl[account] = now
                self._publish(now)

    def portfolio_of(self, account: str) -> Portfolio:
        """The account's Portfolio (everything in it stored). Raises NotFoundError for an
        unknown account."""
        self._settle()
        try:
            return self.state.portfolios[account]
        except KeyError:
            raise NotFoundError(f"Account {account} does not exist") from None

    def market(self, conid: int) -> Quote | None:
        """The current top of book of `conid`, if any."""
        return self.quotes.quote(conid)

    # ---- matching -------------------------------------------------------------------------

    def on_quote(self, conid: int, market: Quote) -> None:
        """Mark positions in `conid` and match its working orders against `market`."""
        marked = False
        if market.last > 0:
            for portfolio in self.state.portfolios.values():
                marked = portfolio.mark(conid, market.last) or marked
        if self.state.has_working(conid):
            self._in_quote = True
            try:
                self._match_conid(conid, market)
            finally:
                self._in_quote = False
        if marked and not self._pending:  # a held group publishes its P&L when stored
            self._publish_pnl()

    def _match_conid(self, conid: int, market: Quote) -> None:
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
            self._hold(events, trail)
        if result.filled:
            self._after_fill(order_id)
        return market

    def _fill_event(self, order: Order, quantity: Decimal, price: Decimal) -> OrderFilled:
        earlier = self.state.tally(order.order_id)
        return lifecycle.fill(
            order, quantity, price, instrument=self.instrument(order.conid),
            schedule=self.config.commissions, sequence=earlier.count + 1,
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
            self._hold(events, None)
        if order.remaining == 0:
            market = self.market(order.conid)
            if market is not None and self.state.children(order_id):
                self._match_conid(order.conid, market)

    def _match_new(self, placements: Sequence[Placement]) -> None:
        """Match freshly accepted orders at once, then cancel what IOC orders did not fill."""
        for conid in dict.fromkeys(p.order.conid for p in placements):
            market = self.market(conid)
            if market is not None:
                self._match_conid(conid, market)
        now = self.clock.now_ns()
        leftovers = [self.state.orders[p.order.order_id] for p in placements]
        self._commit(
            [lifecycle.expire(o, now) for o in leftovers if o.is_working and o.tif == "IOC"]
        )

    # ---- session --------------------------------------------------------------------------

    def close_session(
        self, now_ns: int | None = None, *, conids: Collection[int] | None = None
    ) -> None:
        """Close the trading day: `close_market` for `conids` (every conid when None), then
        reset the daily P&L, set the finished day aside and save a checkpoint of what is left.
        The close price of a conid is its quote's last price (or last fill)."""
        self._settle()
        now = self.clock.now_ns() if now_ns is None else now_ns
        self.close_market(now, conids=conids)
        self._commit([SessionClosed(now, self._close_prices())])
        self.store.save_checkpoint(encode_state(self.state))

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
            ):
                self._fill_at_close(order.order_id, closes.get(order.conid), now_ns)
        leftovers = [
            o
            for o in self.state.working()
            if o.tif == "DAY" and o.created_ns < now_ns and (conids is None or o.conid in conids)
        ]
        self._commit([lifecycle.expire(o, now_ns) for o in leftovers])

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
        self._commit([OrderUpdated(lifecycle.trigger_at_open(o, now_ns)) for o in waiting])
        for conid in dict.fromkeys(o.conid for o in waiting):
            market = self.market(conid)
            if market is not None:
                self._match_conid(conid, market)
        leftovers = [self.state.orders[o.order_id] for o in waiting]
        self._commit([lifecycle.expire(o, now_ns) for o in leftovers if o.is_working])

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
        self._commit([OrderUpdated(live), self._fill_event(live, quantity, close)])
        self._after_fill(order_id)

    # ---- what the hot state set aside ------------------------------------------------------

    def _stored_order(self, order_id: int) -> Order | None:
        return self.store.order(order_id)

    def _stored_fills(self, since_ns: int) -> list[Fill]:
        return self.store.fills_since(since_ns)


def _only_trailed(before: Order, after: Order) -> bool:
    """True when a quote only moved a trailing stop (no trigger, no status change)."""
    return (
        before.order_type.is_trailing
        and after.triggered == before.triggered
        and after.status == before.status
    )
