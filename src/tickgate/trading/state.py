"""The hot trading state: the fold of the stored events, minus the days that are over.

`TradingState.apply` is the only place state changes, both live and on replay at start-up, so a
restarted engine is in exactly the state it acknowledged.

What stays in memory (the *hot* state) is what trading and the day's queries touch: working
orders (indexed by conid, by bracket parent and by OCA group, and resting limit orders by
price, so a quote or a fill touches only the orders it can fill or concerns), the orders and
fills of the current day, each working order's fill tally, and the portfolios. A session
close (`SessionClosed`) sets the finished day aside: its finished orders and its fills leave
the hot state; they stay in the store, which answers for
them (`EventStore.order`, `EventStore.fills_since`). No operation here walks the history, so the
cost of placing, matching and querying does not grow with it.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from tickgate.clock import NS_PER_DAY
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument
from tickgate.model.orders import Fill, Order, OrderType, Side
from tickgate.trading.events import (
    OrderFilled,
    SessionClosed,
    StoredEvent,
)
from tickgate.trading.portfolio import Portfolio, Rates

FIRST_ORDER_ID = 1_000_000_001
#: IBKR: a cOID "must be unique for a 24h span"; tickgate also keeps it while its order works.
COID_MEMORY_NS = NS_PER_DAY
_K = TypeVar("_K")
_V = TypeVar("_V")

InstrumentOf = Callable[[int], Instrument]


@dataclass(frozen=True, slots=True)
class FillTally:
    """How often an order has filled and what its fills paid: what its next fill needs."""

    count: int = 0
    commission: Decimal = Decimal(0)


@dataclass(slots=True)
class TradingState:
    """Hot orders, fills and portfolios of all accounts. Owned by one TradingEngine.

    `orders` holds the working orders and those of the current day, in acceptance (= id)
    order; `fills` the current day's fills; `client_ids` the cOIDs still taken (see
    `COID_MEMORY_NS`), also of orders set aside. `instrument` is called for every fill to
    learn the multiplier and security type; it must know every conid that was ever filled (the
    catalogue does).
    """

    portfolios: dict[str, Portfolio]
    orders: dict[int, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    tallies: dict[int, FillTally] = field(default_factory=dict)
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    next_order_id: int = FIRST_ORDER_ID
    session_start_ns: int = 0
    last_prices: dict[int, Decimal] = field(default_factory=dict)
    #: True once a session close set finished orders aside (they are in the store only).
    set_aside: bool = False
    _by_conid: dict[int, dict[int, Order]] = field(default_factory=dict)
    #: Working LMT orders per (conid, side) as (limit, order id), ascending.
    _limits: dict[tuple[int, Side], list[tuple[Decimal, int]]] = field(default_factory=dict)
    #: Every other working order per conid (stops, trailing, market, at-close): matched always.
    _others: dict[int, dict[int, None]] = field(default_factory=dict)
    _children: dict[int, dict[int, None]] = field(default_factory=dict)
    _oca: dict[str, dict[int, None]] = field(default_factory=dict)

    @classmethod
    def empty(cls, accounts: Iterable[AccountConfig], rates: Rates | None = None) -> TradingState:
        """A state with the configured accounts at their starting cash and nothing else;
        `rates` convert their other currencies to their base currencies."""
        return cls(portfolios={a.account_id: Portfolio(a, rates) for a in accounts})

    def apply(self, event: StoredEvent, instrument: InstrumentOf) -> None:
        """Fold one stored event into the state."""
        if isinstance(event, SessionClosed):
            self._close_session(event)
            return
        self.put(event.order)
        if isinstance(event, OrderFilled):
            fill = event.fill
            self.fills.append(fill)
            tally = self.tallies.get(fill.order_id, FillTally())
            self.tallies[fill.order_id] = FillTally(
                tally.count + 1, tally.commission + fill.commission
            )
            self.portfolios[fill.account].apply_fill(
                fill, instrument(fill.conid), conversion=event.order.currency_conversion
            )
            self.last_prices[fill.conid] = fill.price

    def put(self, order: Order) -> None:
        """Store `order`'s latest snapshot and keep the working-order indexes in step."""
        before = self.orders.get(order.order_id)
        if before is None or _book_key(before) != _book_key(order):
            if before is not None:
                self._unbook(before)
            self._book(order)
        self.orders[order.order_id] = order
        self.next_order_id = max(self.next_order_id, order.order_id + 1)
        if order.c_oid is not None:
            self.client_ids[(order.account, order.c_oid)] = order.order_id
        if order.is_working:
            self._by_conid.setdefault(order.conid, {})[order.order_id] = order
            if order.parent_id is not None:
                self._children.setdefault(order.parent_id, {})[order.order_id] = None
            if order.oca_group is not None:
                self._oca.setdefault(order.oca_group, {})[order.order_id] = None
        else:
            self._unindex(order)

    def _book(self, order: Order) -> None:
        key = _book_key(order)
        if key is None:
            return
        if key[2] is None:
            self._others.setdefault(order.conid, {})[order.order_id] = None
        else:
            book = self._limits.setdefault((order.conid, order.side), [])
            bisect.insort(book, (key[2], order.order_id))

    def _unbook(self, order: Order) -> None:
        key = _book_key(order)
        if key is None:
            return
        if key[2] is None:
            _discard(self._others, order.conid, order.order_id)
            return
        book = self._limits[(order.conid, order.side)]
        del book[bisect.bisect_left(book, (key[2], order.order_id))]
        if not book:
            del self._limits[(order.conid, order.side)]

    def matchable(
        self, conid: int, buy_floor: Decimal | None, sell_ceiling: Decimal | None
    ) -> list[Order]:
        """Working orders of `conid` a quote may fill, oldest first: every order but resting
        limits, and the buy limits at or above `buy_floor` and sell limits at or below
        `sell_ceiling` (None: no limit of that side)."""
        ids = list(self._others.get(conid, ()))
        buys = self._limits.get((conid, Side.BUY))
        if buys and buy_floor is not None:
            ids += [i for _, i in buys[bisect.bisect_left(buys, (buy_floor, -1)) :]]
        sells = self._limits.get((conid, Side.SELL))
        if sells and sell_ceiling is not None:
            ids += [i for _, i in sells[: bisect.bisect_right(sells, (sell_ceiling, sys.maxsize))]]
        ids.sort()
        return [self.orders[i] for i in ids]

    def _unindex(self, order: Order) -> None:
        _discard(self._by_conid, order.conid, order.order_id)
        if order.parent_id is not None:
            _discard(self._children, order.parent_id, order.order_id)
        if order.oca_group is not None:
            _discard(self._oca, order.oca_group, order.order_id)

    def _close_session(self, event: SessionClosed) -> None:
        self.session_start_ns = event.ts_ns
        for conid, price in event.closes.items():
            self.last_prices[conid] = price
            for portfolio in self.portfolios.values():
                portfolio.mark(conid, price)
        for portfolio in self.portfolios.values():
            portfolio.open_session()
        self._set_aside(event.ts_ns)

    def _set_aside(self, start_ns: int) -> None:
        """Drop what belongs to days before `start_ns` from the hot state (it stays stored).

        A finished bracket parent stays while a child of it works: the child's activity
        depends on it."""
        before = self.orders
        self.orders = {
            i: o
            for i, o in before.items()
            if o.is_working or o.updated_ns >= start_ns or i in self._children
        }
        self.set_aside = self.set_aside or len(self.orders) < len(before)
        self.fills = [f for f in self.fills if f.ts_ns >= start_ns]
        self.tallies = {i: t for i, t in self.tallies.items() if i in self.orders}
        # A set-aside order's cOID stays taken for its 24 hours (the store has the order).
        taken_since = start_ns - COID_MEMORY_NS
        self.client_ids = {
            key: i
            for key, i in self.client_ids.items()
            if i in self.orders or (i in before and before[i].created_ns >= taken_since)
        }

    def working(self, conid: int | None = None) -> Iterator[Order]:
        """Working orders (optionally of one conid), oldest first (time priority)."""
        if conid is not None:
            yield from self._by_conid.get(conid, {}).values()
            return
        everything = [o for orders in self._by_conid.values() for o in orders.values()]
        yield from sorted(everything, key=lambda o: o.order_id)

    def has_orders_before(self, ts_ns: int) -> bool:
        """True when an order created before `ts_ns` exists, in memory or set aside (orders
        set aside were created before the last close)."""
        if self.set_aside and self.session_start_ns <= ts_ns:
            return True
        return any(o.created_ns < ts_ns for o in self.orders.values())

    def has_working(self, conid: int) -> bool:
        """True when an order on `conid` is working."""
        return bool(self._by_conid.get(conid))

    def is_active(self, order: Order) -> bool:
        """True unless the order is a bracket child whose parent has not filled yet."""
        if order.parent_id is None:
            return True
        parent = self.orders.get(order.parent_id)
        return parent is not None and parent.filled_quantity == parent.quantity

    def children(self, parent_id: int) -> list[Order]:
        """Working orders attached to `parent_id`."""
        return [self.orders[i] for i in self._children.get(parent_id, {})]

    def oca_siblings(self, order: Order) -> list[Order]:
        """Other working orders in the same OCA group."""
        if order.oca_group is None:
            return []
        group = self._oca.get(order.oca_group, {})
        return [self.orders[i] for i in group if i != order.order_id]

    def tally(self, order_id: int) -> FillTally:
        """The fills of `order_id` so far (zero for one that never filled)."""
        return self.tallies.get(order_id, FillTally())


def _book_key(order: Order) -> tuple[int, Side, Decimal | None] | None:
    """Where a working order is booked: (conid, side, limit) for a resting LMT order, limit
    None for every other type, None when it does not work."""
    if not order.is_working:
        return None
    limit = order.price if order.order_type is OrderType.LMT else None
    return order.conid, order.side, limit


def _discard(index: dict[_K, dict[int, _V]], key: _K, order_id: int) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(order_id, None)
        if not members:
            del index[key]
