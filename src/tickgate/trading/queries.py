"""Read side of the trading engine: wire-shaped views of orders, trades, positions and P&L.

`AccountViews` never changes state. "The current day" is everything since the last simulated
session close (`SessionClosed`), plus orders that are still working: the hot state. Older
orders and executions are read from the store (one order by id, executions since a time), so no
query walks the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tickgate.clock import NS_PER_DAY, Clock
from tickgate.errors import NotFoundError
from tickgate.model.orders import Fill, Order, OrderStatus
from tickgate.protocol.rest import accounts as account_shapes
from tickgate.protocol.rest import orders as order_shapes
from tickgate.trading.events import PnlChanged
from tickgate.trading.journal import Journal
from tickgate.trading.portfolio import Portfolio, Position

PAGE_SIZE = 100
_FILTERS = {
    "inactive": OrderStatus.INACTIVE,
    "pending_submit": OrderStatus.PENDING_SUBMIT,
    "pre_submitted": OrderStatus.PRE_SUBMITTED,
    "submitted": OrderStatus.SUBMITTED,
    "filled": OrderStatus.FILLED,
    "pending_cancel": OrderStatus.PENDING_CANCEL,
    "cancelled": OrderStatus.CANCELLED,
    "warn_state": OrderStatus.WARN_STATE,
}


class AccountViews:
    """Queries (the engine's `views`); see the module docstring."""

    def __init__(self, journal: Journal, clock: Clock) -> None:
        self._journal, self.clock = journal, clock
        self.state = journal.state
        self.instrument = journal.instrument
        self.portfolio_of = journal.portfolio_of

    def todays_orders(self, account: str | None = None) -> list[Order]:
        """Orders of the current day (optionally of one account), oldest first."""
        self._journal.settle()
        start = self.state.session_start_ns
        return [
            o
            for o in sorted(self.state.orders.values(), key=lambda o: o.order_id)
            if (account is None or o.account == account) and (o.is_working or o.updated_ns >= start)
        ]

    def order_rows(self, orders: Iterable[Order]) -> list[dict[str, Any]]:
        """Wire rows of `orders` (for the account stream's first frame and updates)."""
        return [order_shapes.order_row(o, self.instrument(o.conid)) for o in orders]

    def orders(self, filters: Iterable[str] = (), *, account: str | None = None) -> dict[str, Any]:
        """`GET /iserver/account/orders`: the current day's orders, newest first when
        `sort_by_time` is among the filters. Unknown filter names are ignored (as IBKR)."""
        if account is not None:
            self.portfolio_of(account)
        names = {f.strip().lower() for f in filters if f.strip()}
        wanted = {_FILTERS[n] for n in names if n in _FILTERS}
        chosen = [o for o in self.todays_orders(account) if not wanted or o.status in wanted]
        if "sort_by_time" in names:
            chosen.sort(key=lambda o: o.updated_ns, reverse=True)
        return {"orders": self.order_rows(chosen), "snapshot": True}

    def order_status(self, order_id: int) -> dict[str, Any]:
        """`GET /iserver/account/order/status/{id}`. Raises NotFoundError for an unknown id."""
        self._journal.settle()
        order = self._journal.known_order(order_id)
        if order is None:
            raise NotFoundError(f"OrderID {order_id} doesn't exist")
        return order_shapes.order_status(order, self.instrument(order.conid))

    def fills_since(self, since_ns: int, account: str | None = None) -> list[Fill]:
        """Executions at or after `since_ns` (optionally of one account), oldest first: the
        current day's from memory, earlier ones from the store."""
        self._journal.settle()
        if since_ns >= self.state.session_start_ns:
            fills = [f for f in self.state.fills if f.ts_ns >= since_ns]
        else:
            fills = self._journal.stored_fills(since_ns)
        return [f for f in fills if account is None or f.account == account]

    def trades(self, days: int = 1, *, account: str | None = None) -> list[dict[str, Any]]:
        """`GET /iserver/account/trades`: executions of the last `days` days (1–7), newest first."""
        days = min(max(days, 1), 7)
        fills = self.fills_since(self.clock.now_ns() - days * NS_PER_DAY, account)
        return [order_shapes.trade_row(f, self.instrument(f.conid)) for f in reversed(fills)]

    def pnl_event(self, account: str) -> PnlChanged:
        """The account's current P&L figures. Raises NotFoundError for an unknown account."""
        return PnlChanged.of(self.portfolio_of(account))

    def pnl(self) -> dict[str, Any]:
        """`GET /iserver/account/pnl/partitioned`: `{"upnl": {"<acct>.Core": row}}`."""
        rows = {
            f"{a}.Core": account_shapes.pnl_row(self.pnl_event(a)) for a in self.state.portfolios
        }
        return {"upnl": rows}

    def positions(self, account: str, page: int = 0) -> list[dict[str, Any]]:
        """`GET /portfolio/{acct}/positions/{page}`: open positions by conid, 100 per page."""
        portfolio = self.portfolio_of(account)
        held = sorted((p for p in portfolio.positions.values() if p.quantity != 0),
                      key=lambda p: p.conid)  # fmt: skip
        chunk = held[page * PAGE_SIZE : (page + 1) * PAGE_SIZE] if page >= 0 else []
        return [self._row(portfolio, p) for p in chunk]

    def _row(self, portfolio: Portfolio, position: Position) -> dict[str, Any]:
        rate = portfolio.exchange_rate(position.currency)
        instrument = self.instrument(position.conid)
        return account_shapes.position_row(portfolio.config.account_id, position, instrument, rate)

    def position(self, account: str, conid: int) -> list[dict[str, Any]]:
        """`GET /portfolio/{acct}/position/{conid}`: a one-element list, or [] when flat."""
        portfolio = self.portfolio_of(account)
        position = portfolio.positions.get(conid)
        if position is None or position.quantity == 0:
            return []
        return [self._row(portfolio, position)]

    def summary(self, account: str) -> dict[str, Any]:
        """`GET /portfolio/{acct}/summary`."""
        return account_shapes.summary(self.portfolio_of(account), self.clock.now_ns())

    def ledger(self, account: str) -> dict[str, Any]:
        """`GET /portfolio/{acct}/ledger`."""
        return account_shapes.ledger(self.portfolio_of(account), self.clock.now_ns())

    def accounts(self) -> list[str]:
        """Configured account ids, in configuration order."""
        return list(self.state.portfolios)
