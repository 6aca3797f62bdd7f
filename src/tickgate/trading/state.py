"""The trading state: the fold of all stored events.

`TradingState.apply` is the only place state changes, both live (after the event is stored) and
on replay at start-up, so a restarted engine is in exactly the state it acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument
from tickgate.model.orders import Fill, Order
from tickgate.trading.events import (
    OrderFilled,
    SessionClosed,
    StoredEvent,
)
from tickgate.trading.portfolio import Portfolio

FIRST_ORDER_ID = 1_000_000_001

InstrumentOf = Callable[[int], Instrument]


@dataclass(slots=True)
class TradingState:
    """Orders, fills and portfolios of all accounts. Owned by one TradingEngine.

    `instrument` is called for every fill to learn the multiplier and security type; it must
    know every conid that was ever filled (the catalogue does).
    """

    portfolios: dict[str, Portfolio]
    orders: dict[int, Order] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    client_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    next_order_id: int = FIRST_ORDER_ID
    session_start_ns: int = 0
    last_prices: dict[int, Decimal] = field(default_factory=dict)

    @classmethod
    def empty(cls, accounts: Iterable[AccountConfig]) -> TradingState:
        """A state with the configured accounts at their starting cash and nothing else."""
        return cls(portfolios={a.account_id: Portfolio(a) for a in accounts})

    def apply(self, event: StoredEvent, instrument: InstrumentOf) -> None:
        """Fold one stored event into the state."""
        if isinstance(event, SessionClosed):
            self._close_session(event)
            return
        self._put(event.order)
        if isinstance(event, OrderFilled):
            fill = event.fill
            self.fills.append(fill)
            self.portfolios[fill.account].apply_fill(fill, instrument(fill.conid))
            self.last_prices[fill.conid] = fill.price

    def _put(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.next_order_id = max(self.next_order_id, order.order_id + 1)
        if order.c_oid is not None:
            self.client_ids[(order.account, order.c_oid)] = order.order_id

    def _close_session(self, event: SessionClosed) -> None:
        self.session_start_ns = event.ts_ns
        for conid, price in event.closes.items():
            self.last_prices[conid] = price
            for portfolio in self.portfolios.values():
                portfolio.mark(conid, price)
        for portfolio in self.portfolios.values():
            portfolio.open_session()

    def working(self, conid: int | None = None) -> Iterator[Order]:
        """Working orders (optionally of one conid), oldest first (time priority)."""
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.is_working and (conid is None or order.conid == conid):
                yield order

    def is_active(self, order: Order) -> bool:
        """True unless the order is a bracket child whose parent has not filled yet."""
        if order.parent_id is None:
            return True
        parent = self.orders.get(order.parent_id)
        return parent is not None and parent.filled_quantity == parent.quantity

    def children(self, parent_id: int) -> list[Order]:
        """Working orders attached to `parent_id`."""
        return [o for o in self.working() if o.parent_id == parent_id]

    def oca_siblings(self, order: Order) -> list[Order]:
        """Other working orders in the same OCA group."""
        if order.oca_group is None:
            return []
        return [
            o
            for o in self.working()
            if o.oca_group == order.oca_group and o.order_id != order.order_id
        ]
