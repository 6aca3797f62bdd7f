"""Orders to a Financial Advisor group: split over the group's sub-accounts, one child order per
account, each a normal order of the trading engine; the parent is the sum of its children.

An order placed to a group name, to "All" or to the advisor's master account (every
sub-account, by the presets' default method) is split by `allocation.split` with the group's
method, or the one the order names (`allocationMethod`). The children are placed together
through `PlacementDesk.place_allocated` (all or none, questions asked once, for the whole
quantity). The parent gets an order id of its own, just below its children's, and a record in
the trading store (`allocation_order` documents) written before the children are stored, so a
restarted gateway still answers for it. Its status is computed from its children whenever it is
asked for: quantity, filled quantity and average price summed over them, and the status
`Filled` once all are filled, `Cancelled` once all have ended otherwise, else the most advanced
working status of a child.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tickgate.errors import NotFoundError, RequestError
from tickgate.model.orders import Order, OrderStatus
from tickgate.protocol.rest.orders import order_row, order_status
from tickgate.trading.allocation import (
    ALL_GROUP,
    AccountFunds,
    AllocationBook,
    AllocationGroup,
    AllocationMethod,
    split,
    split_closing_first,
)
from tickgate.trading.commands import PlaceOrder
from tickgate.trading.documents import DocumentStore
from tickgate.trading.engine import TradingEngine
from tickgate.trading.errors import OrderRejected
from tickgate.trading.placement import Allocated
from tickgate.trading.preview import Change, Estimate, Preview

PARENT_KIND = "allocation_order"


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """An allocated order: where it was sent, the method that split it, its children's ids."""

    order_id: int
    target: str
    method: AllocationMethod
    children: tuple[int, ...]


class AllocationDesk:
    """Places, reads and cancels allocated orders. Not thread-safe (the event loop's)."""

    def __init__(self, book: AllocationBook, engine: TradingEngine, store: DocumentStore) -> None:
        self.book, self.engine, self.store = book, engine, store
        self._parents: dict[int, ParentOrder] = {}
        self._parent_of: dict[int, ParentOrder] = {}  # child order id -> its parent
        if book.enabled:
            for _, doc in store.documents(PARENT_KIND):
                parent = ParentOrder(
                    doc["order_id"], doc["target"], AllocationMethod(doc["method"]),
                    tuple(doc["children"]),
                )  # fmt: skip
                self._remember(parent)

    def handles(self, target: str) -> bool:
        """True when orders to `target` are allocated (a group, "All", the master account)."""
        return self.book.is_group(target)

    def is_parent(self, order_id: int) -> bool:
        """True for the id of an allocated order."""
        return order_id in self._parents

    def place(
        self, target: str, orders: Sequence[PlaceOrder], *, method: AllocationMethod | None
    ) -> list[dict[str, Any]]:
        """Split `orders` over the group `target` and place the children; the answer is one
        acknowledgement per parent (or the question to answer first).

        Raises NotFoundError for no such group, RequestError when the split is impossible
        (no account gets a share, an amount is missing), and what `PlacementDesk.place`
        raises for the children (the first refusal names its sub-account).
        """
        group, chosen, batches, shares_of = self._split(target, orders, method)
        allocated = Allocated(
            tuple(batches),
            shares_of,
            record=lambda made: self._record(group.name, chosen, made),
            answer=self._acknowledge,
        )
        return self.engine.desk.place_allocated(allocated, orders)

    def _split(
        self, target: str, orders: Sequence[PlaceOrder], method: AllocationMethod | None
    ) -> tuple[
        AllocationGroup,
        AllocationMethod,
        list[tuple[str, tuple[PlaceOrder, ...]]],
        tuple[tuple[int | None, ...], ...],
    ]:
        """The group, its method, each account's child orders (in account order) and, for
        each order, its child's index in each account's batch (None: no share)."""
        group = self.book.group(ALL_GROUP if target == self.book.advisor else target)
        chosen = method or group.method
        accounts = [m.account for m in group.members]
        per_order: list[dict[str, Decimal]] = []
        for order in orders:
            instrument = self.engine.instrument(order.conid)
            price = order.price or order.aux_price or self.engine.desk.reference(instrument)
            by_method = functools.partial(
                split, method=chosen, members=group.members, funds=self._funds,
                price=price or instrument.reference_price, multiplier=instrument.multiplier,
            )  # fmt: skip
            shares = None
            if self.book.presets().closes_first(chosen):
                held = {a: self._held(a, order.conid) for a in accounts}
                shares = split_closing_first(
                    order.quantity, order.side.sign, held, accounts, by_method
                )
            if shares is None:
                shares = by_method(order.quantity)
            if not shares:
                raise OrderRejected(
                    f"Order rejected: allocating {order.quantity} by method {chosen.value} "
                    f"over group {group.name!r} gives no account a whole unit"
                )
            per_order.append(dict(shares))
        batches: list[tuple[str, tuple[PlaceOrder, ...]]] = []
        index: dict[str, list[int | None]] = {}
        for account in accounts:
            children: list[PlaceOrder] = []
            slots: list[int | None] = []
            for order, quantities in zip(orders, per_order, strict=True):
                if account in quantities:
                    slots.append(len(children))
                    children.append(dataclasses.replace(order, quantity=quantities[account]))
                else:
                    slots.append(None)
            if children:
                batches.append((account, tuple(children)))
                index[account] = slots
        shares_of = tuple(
            tuple(index[account][i] for account, _ in batches) for i in range(len(orders))
        )
        return group, chosen, batches, shares_of

    def what_if(
        self, target: str, orders: Sequence[PlaceOrder], *, method: AllocationMethod | None
    ) -> Preview:
        """`POST /iserver/account/{group}/orders/whatif`: each sub-account's preview of its
        children (`PlacementDesk.what_if`, the same margin and commission models), summed:
        value, commission, equity, margins and position over the accounts; the warnings
        those of the whole orders, as a placement asks them; the first account's refusal.

        Raises what `place` raises before anything is placed.
        """
        _, _, batches, _ = self._split(target, orders, method)
        previews = [(a, self.engine.desk.what_if(a, batch)) for a, batch in batches]
        return summed_preview(previews, orders, self.engine.desk.warnings(orders))

    def _held(self, account: str, conid: int) -> Decimal:
        position = self.engine.journal.portfolio_of(account).positions.get(conid)
        return position.quantity if position is not None else Decimal(0)

    def _funds(self, account: str) -> AccountFunds:
        portfolio = self.engine.journal.portfolio_of(account)
        return AccountFunds(portfolio.net_liquidation, portfolio.available_funds)

    def _record(
        self, target: str, method: AllocationMethod, made: list[tuple[int, list[Order]]]
    ) -> None:
        parents = [
            ParentOrder(pid, target, method, tuple(o.order_id for o in children))
            for pid, children in made
        ]
        self.store.put_documents(
            PARENT_KIND,
            {
                str(p.order_id): {
                    "order_id": p.order_id,
                    "target": p.target,
                    "method": p.method.value,
                    "children": list(p.children),
                }
                for p in parents
            },
        )
        for parent in parents:
            self._remember(parent)

    def _remember(self, parent: ParentOrder) -> None:
        self._parents[parent.order_id] = parent
        self._parent_of.update((child, parent) for child in parent.children)

    def live_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`GET /iserver/account/orders` rows with each allocated order shown as IBKR shows
        it, one order for the group: its children's rows are replaced by the parent's (the
        children summed, `acct` the group), where its first child's row was. Rows of other
        orders are kept as they are."""
        if not self._parent_of:
            return rows
        shown: list[dict[str, Any]] = []
        done: set[int] = set()
        for row in rows:
            parent = self._parent_of.get(row["orderId"])
            if parent is None:
                shown.append(row)
            elif parent.order_id not in done:
                done.add(parent.order_id)
                summed = self._aggregate(parent)
                shown.append(order_row(summed, self.engine.instrument(summed.conid)))
        return shown

    def _acknowledge(self, parent_ids: list[int]) -> list[dict[str, Any]]:
        return [
            {
                "order_id": str(pid),
                "order_status": self._aggregate(self._parents[pid]).status.value,
                "encrypt_message": "1",
            }
            for pid in parent_ids
        ]

    def children(self, order_id: int) -> list[Order]:
        """The child orders of the allocated order `order_id`, in account order.

        Raises NotFoundError for an id that is no allocated order.
        """
        parent = self._parents.get(order_id)
        if parent is None:
            raise NotFoundError(f"OrderID {order_id} doesn't exist")
        self.engine.journal.settle()
        known = (self.engine.journal.known_order(i) for i in parent.children)
        return [o for o in known if o is not None]

    def status(self, order_id: int) -> dict[str, Any]:
        """`GET /iserver/account/order/status/{id}` of an allocated order: the children summed,
        in IBKR's status shape, the account being the group it was sent to."""
        parent = self._parents.get(order_id)
        if parent is None:
            raise NotFoundError(f"OrderID {order_id} doesn't exist")
        summed = self._aggregate(parent)
        return order_status(summed, self.engine.instrument(summed.conid))

    def _aggregate(self, parent: ParentOrder) -> Order:
        children = self.children(parent.order_id)
        if not children:
            raise NotFoundError(f"OrderID {parent.order_id} has no child orders stored")
        quantity = sum((c.quantity for c in children), Decimal(0))
        filled = sum((c.filled_quantity for c in children), Decimal(0))
        paid = sum((c.filled_quantity * (c.avg_price or 0) for c in children), Decimal(0))
        first = children[0]
        return dataclasses.replace(
            first,
            order_id=parent.order_id,
            account=parent.target,
            quantity=quantity,
            filled_quantity=filled,
            avg_price=paid / filled if filled else None,
            status=_summed_status(children),
            c_oid=None,
            parent_id=None,
            created_ns=min(c.created_ns for c in children),
            updated_ns=max(c.updated_ns for c in children),
        )

    def cancel(self, target: str, order_id: int) -> dict[str, Any]:
        """Cancel every working child of the allocated order `order_id` sent to `target`.

        Raises NotFoundError for no such order, OrderRejected when none of it works any more.
        """
        parent = self._parents.get(order_id)
        if parent is None or target not in (parent.target, self.book.advisor):
            raise OrderRejected(f"OrderID {order_id} doesn't exist")
        working = [c for c in self.children(order_id) if c.is_working]
        if not working:
            raise OrderRejected(f"OrderID {order_id} is no longer working: nothing to cancel")
        for child in working:
            self.engine.desk.cancel(child.account, child.order_id)
        return {"msg": "Request was submitted", "order_id": order_id, "account": target}


#: The order working statuses advance in (a parent shows the furthest any child reached).
_WORKING = (
    OrderStatus.WARN_STATE,
    OrderStatus.INACTIVE,
    OrderStatus.PENDING_SUBMIT,
    OrderStatus.PRE_SUBMITTED,
    OrderStatus.SUBMITTED,
    OrderStatus.PENDING_CANCEL,
)


def _summed_status(children: Sequence[Order]) -> OrderStatus:
    working = [c.status for c in children if c.is_working]
    if not working:
        if all(c.status is OrderStatus.FILLED for c in children):
            return OrderStatus.FILLED
        return OrderStatus.CANCELLED
    if all(s is OrderStatus.PENDING_CANCEL for s in working):
        return OrderStatus.PENDING_CANCEL
    live = [s for s in working if s is not OrderStatus.PENDING_CANCEL]
    return max(live, key=_WORKING.index)


def summed_preview(
    previews: Sequence[tuple[str, Preview]], orders: Sequence[PlaceOrder], warnings: list[str]
) -> Preview:
    """The sub-accounts' previews of one group order as one: value, commission, equity and
    margins summed (before and after); the position that of the first order's contract over
    the accounts that take it; the estimates the whole orders (at the first account's
    estimated price); the first refusal, naming its account.

    Raises RequestError when the accounts keep different base currencies (no one sum).
    """
    currencies = {p.currency for _, p in previews}
    if len(currencies) != 1:
        raise RequestError(
            "The group's sub-accounts keep different base currencies: preview each account"
        )

    def summed(pick: Callable[[Preview], Change], among: Sequence[Preview]) -> Change:
        before = sum((pick(p).before for p in among), Decimal(0))
        return Change(before, sum((pick(p).after for p in among), Decimal(0)))

    every = [p for _, p in previews]
    first = orders[0].conid
    taking = [p for p in every if p.estimates and p.estimates[0].request.conid == first]
    estimates = tuple(
        Estimate(
            order,
            next(
                e.instrument for p in every for e in p.estimates if e.request.conid == order.conid
            ),
            next(e.price for p in every for e in p.estimates if e.request.conid == order.conid),
        )
        for order in orders
        if order.parent_ref is None
    )
    return Preview(
        currency=currencies.pop(),
        estimates=estimates,
        value=sum((p.value for p in every), Decimal(0)),
        commission=sum((p.commission for p in every), Decimal(0)),
        equity=summed(lambda p: p.equity, every),
        initial=summed(lambda p: p.initial, every),
        maintenance=summed(lambda p: p.maintenance, every),
        position=summed(lambda p: p.position, taking),
        warnings=tuple(warnings),
        error=next((f"{a}: {p.error}" for a, p in previews if p.error), None),
    )
