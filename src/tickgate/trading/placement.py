"""Order commands of the trading engine: place (with questions), reply, modify, cancel.

`PlacementDesk` (the engine's `desk`) changes state only through `Journal.commit`, so every
accepted order is stored before its acknowledgement is returned; it asks the engine
(`Matcher`) for quotes and to match what it accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from tickgate.clock import Clock
from tickgate.errors import RequestError
from tickgate.market.fx import pair_of
from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument
from tickgate.model.orders import OCA_GROUP_PREFIX, Order
from tickgate.model.ticks import Quote
from tickgate.protocol.rest.orders import acknowledgement
from tickgate.protocol.rest_values import shown
from tickgate.trading import lifecycle
from tickgate.trading.commands import ModifyOrder, PlaceOrder
from tickgate.trading.commissions import CommissionSchedule
from tickgate.trading.errors import OrderRejected
from tickgate.trading.events import OrderAccepted, OrderUpdated
from tickgate.trading.journal import Journal
from tickgate.trading.matching import match
from tickgate.trading.order_domain import check_domain
from tickgate.trading.orders import OrderTrigger
from tickgate.trading.portfolio import Portfolio, Rates, initial_margin_rate
from tickgate.trading.preview import Estimate, Preview, preview
from tickgate.trading.questions import Question, QuestionBook, questions_for
from tickgate.trading.state import COID_MEMORY_NS

if TYPE_CHECKING:
    from tickgate.trading.engine import TradingConfig

Item = tuple[PlaceOrder, Instrument]
_ORDER_ID = re.compile(r"[0-9]{1,18}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Placement:
    """An order accepted by one placement."""

    order: Order


@dataclass(frozen=True, slots=True)
class Allocated:
    """An order to a Financial Advisor group, split into per-account batches
    (`trading.allocation`). `parents` reserve one id each, below their children's: `record`
    gets `(parent id, its children)` for each before the children are stored, and `answer`
    turns the parent ids into the placement's answer once they are matched."""

    batches: tuple[tuple[str, tuple[PlaceOrder, ...]], ...]
    #: For each parent, the index of its child in each account's batch (None: no share).
    shares: tuple[tuple[int | None, ...], ...]
    record: Callable[[list[tuple[int, list[Order]]]], None]
    answer: Callable[[list[int]], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class _Parked:
    account: str
    items: list[Item]
    #: Set for an allocated placement (its batches' items are in `batch_items`).
    allocated: Allocated | None = None
    batch_items: tuple[tuple[str, list[Item]], ...] = ()


class Matcher(Protocol):
    """What the desk needs of the matching engine."""

    def market(self, conid: int) -> Quote | None:
        """The current top of book of `conid`, if any."""
        ...

    def match_new(self, placements: Sequence[Placement]) -> None:
        """Match freshly accepted or modified orders at once."""
        ...

    @property
    def rates(self) -> Rates:
        """The exchange rates the accounts' currencies are valued at."""
        ...

    def commissions_for(self, currency: str) -> CommissionSchedule:
        """The commission schedule in `currency`."""
        ...


class PlacementDesk:
    """Commands on orders; see the journal module for the guarantees."""

    def __init__(
        self,
        journal: Journal,
        matcher: Matcher,
        clock: Clock,
        config: TradingConfig,
        *,
        seed: int | None,
    ) -> None:
        self._journal, self._matcher, self.clock, self.config = journal, matcher, clock, config
        self.state = journal.state
        self._replies: QuestionBook[_Parked] = QuestionBook(seed=seed)

    # ---- questions ------------------------------------------------------------------------

    def suppress(self, message_ids: list[str]) -> dict[str, str]:
        """Stop asking these questions (`POST /iserver/questions/suppress`)."""
        self._replies.suppress(message_ids)
        return {"status": "submitted"}

    def reset_suppressed(self) -> dict[str, str]:
        """Ask every question again (`POST /iserver/questions/suppress/reset`)."""
        self._replies.reset()
        return {"status": "submitted"}

    def interrupt_replies(self) -> None:
        """Another request arrived: pending reply ids become stale (503 on reply)."""
        self._replies.interrupt()

    @property
    def replies_pending(self) -> bool:
        """True while an order question awaits its reply (a cluster's edges need to know)."""
        return self._replies.pending

    def reference(self, instrument: Instrument) -> Decimal | None:
        """The market's reference price of `instrument`: the midpoint, else the last price,
        None without a quote (what margin checks and questions value an order at)."""
        return self._reference(instrument)

    def _reference(self, instrument: Instrument) -> Decimal | None:
        market = self._matcher.market(instrument.conid)
        if market is None:
            return None
        if market.bid > 0 and market.ask > 0:
            return (market.bid + market.ask) / 2
        return market.last if market.last > 0 else None

    # ---- place / reply --------------------------------------------------------------------

    def place(self, account: str, orders: Sequence[PlaceOrder]) -> list[dict[str, Any]]:
        """Check and submit orders, or ask a question first.

        Returns acknowledgements `[{"order_id", "order_status", "encrypt_message"}]` (orders
        already stored) or a question `[{"id", "message", "isSuppressed", "messageIds"}]`.
        Raises NotFoundError for an unknown account or contract, OrderRejected (or
        RequestError) for an order the account's state refuses (nothing of the batch is
        accepted then).
        """
        self._replies.interrupt()
        self._journal.settle()
        self._journal.portfolio_of(account)
        items = self._items(orders)
        self._check_batch(account, items)
        questions = self._replies.unsuppressed(self._questions(items))
        if questions:
            return self._replies.ask(_Parked(account, items), questions)
        return self._submit(account, items)

    def what_if(self, account: str, orders: Sequence[PlaceOrder]) -> Preview:
        """What placing these orders would do to the account, without placing them.

        The orders are validated exactly as `place` does and raise the same errors, except
        that a lack of buying power is reported in `Preview.error`. Nothing is stored,
        matched, published or parked; pending reply ids become stale as with any command.
        """
        self._replies.interrupt()
        self._journal.settle()
        portfolio = self._journal.portfolio_of(account)
        items = self._items(orders)
        self._check_references(account, items)
        try:
            self._check_buying_power(account, items)
            error = None
        except OrderRejected as exc:
            error = exc.message
        estimates = [
            Estimate(request, instrument, *self._fill_estimate(account, request, instrument))
            for request, instrument in items
            if request.parent_ref is None  # bracket children only close the parent's position
        ]
        warnings = [q.text for q in self._questions(items)]
        schedule = self._matcher.commissions_for
        return preview(portfolio, estimates, schedule, warnings=warnings, error=error)

    def warnings(self, orders: Sequence[PlaceOrder]) -> list[str]:
        """The questions placing `orders` would ask, as a preview shows them. Raises
        NotFoundError for an unknown contract."""
        return [q.text for q in self._questions(self._items(orders))]

    def _items(self, orders: Sequence[PlaceOrder]) -> list[Item]:
        return [(order, self._journal.instrument(order.conid)) for order in orders]

    def _questions(self, items: list[Item]) -> list[Question]:
        return [q for r, i in items for q in questions_for(r, i, self._reference(i))]

    def _fill_estimate(
        self, account: str, request: PlaceOrder, inst: Instrument
    ) -> tuple[Decimal, bool]:
        """The price the order would fill at on the current quote (by the engine's own
        matching) and True; else its limit or stop price, else the market's reference price,
        and False (it would rest: nothing fills on a halted instrument either)."""
        market = self._matcher.market(inst.conid)
        if market is not None and not market.halted:
            draft = lifecycle.new_order(
                request, account=account, order_id=0, parent_id=None, oca_group=None,
                now_ns=self.clock.now_ns(),
            )  # fmt: skip
            result = match(draft, market, self.config.match, min_tick=inst.min_tick)
            if result.filled and result.price is not None:
                return result.price, True
        resting = request.price or request.aux_price
        return resting or self._reference(inst) or inst.reference_price, False

    def reply(self, reply_id: str, confirmed: bool) -> list[dict[str, Any]]:
        """Answer a question: the next question, or the acknowledgements.

        Raises the `ReplyError`s of `QuestionBook.answer`, OrderRejected when the parked
        orders are no longer valid.
        """
        self._journal.settle()
        parked, rest = self._replies.answer(reply_id, confirmed)
        rest = self._replies.unsuppressed(rest)
        if rest:
            return self._replies.ask(parked, rest)
        if parked.allocated is not None:
            for account, items in parked.batch_items:  # the state may have moved meanwhile
                self._check_batch(account, items)
            return self._submit_allocated(parked.allocated, parked.batch_items)
        self._check_batch(parked.account, parked.items)
        return self._submit(parked.account, parked.items)

    def place_allocated(
        self, allocated: Allocated, asked: Sequence[PlaceOrder]
    ) -> list[dict[str, Any]]:
        """Place an order split over several accounts, all or nothing: each account's batch is
        checked as `place` checks one (the first refusal names its account), the questions
        are those of the orders as `asked` (the whole quantities), and every child is stored
        in one commit. Returns `allocated.answer` of the parent ids, or a question.

        Raises what `place` raises.
        """
        self._replies.interrupt()
        self._journal.settle()
        batch_items = tuple((account, self._items(orders)) for account, orders in allocated.batches)
        for account, items in batch_items:
            self._journal.portfolio_of(account)
            self._check_batch(account, items)
        questions = self._replies.unsuppressed(self._questions(self._items(asked)))
        if questions:
            first, items = batch_items[0]
            return self._replies.ask(_Parked(first, items, allocated, batch_items), questions)
        return self._submit_allocated(allocated, batch_items)

    def place_unasked(
        self,
        batches: Sequence[tuple[str, Sequence[PlaceOrder]]],
        record: Callable[[list[Order]], None],
    ) -> list[Order]:
        """Place orders in several accounts at once, all or none, asking no question (a
        Financial Advisor model's transfers: IBKR submits them without order questions).
        Each account's batch is checked as `place` checks one; `record` gets the accepted
        orders, ids assigned, before they are stored (a refusal there stores none). Returns
        the orders as accepted (matching may have filled them since).

        Raises what `place` raises.
        """
        self._replies.interrupt()
        self._journal.settle()
        batch_items = tuple((account, self._items(orders)) for account, orders in batches)
        for account, items in batch_items:
            self._journal.portfolio_of(account)
            self._check_batch(account, items)
        made = self._new_orders(batch_items, first_id=self.state.next_order_id)
        placed = [o for _, orders in made for o in orders]
        record(placed)
        self._journal.commit([OrderAccepted(o) for o in placed])
        self._matcher.match_new([Placement(o) for o in placed])
        return placed

    def _submit_allocated(
        self, allocated: Allocated, batch_items: tuple[tuple[str, list[Item]], ...]
    ) -> list[dict[str, Any]]:
        first_parent = self.state.next_order_id
        parent_ids = [first_parent + i for i in range(len(allocated.shares))]
        children = self._new_orders(batch_items, first_id=first_parent + len(parent_ids))
        by_account = {account: orders for account, orders in children}
        allocated.record(
            [
                (
                    parent_id,
                    [
                        by_account[account][index]
                        for (account, _), index in zip(batch_items, shares, strict=True)
                        if index is not None
                    ],
                )
                for parent_id, shares in zip(parent_ids, allocated.shares, strict=True)
            ]
        )
        placed = [o for _, orders in children for o in orders]
        self._journal.commit([OrderAccepted(o) for o in placed])
        self._matcher.match_new([Placement(o) for o in placed])
        return allocated.answer(parent_ids)

    def _check_batch(self, account: str, items: list[Item]) -> None:
        self._check_references(account, items)
        self._check_buying_power(account, items)

    def _check_references(self, account: str, items: list[Item]) -> None:
        """Currencies, cOIDs and parents; raises OrderRejected or RequestError."""
        config = self._journal.portfolio_of(account).config
        for request, instrument in items:
            self._check_currencies(account, config, request, instrument)
        seen: set[str] = set()
        for request, _ in items:
            c_oid = request.c_oid
            if c_oid is not None and (c_oid in seen or self._registered(account, c_oid)):
                raise OrderRejected(
                    f"Order couldn't be submitted: Local order ID={c_oid} is already registered."
                )
            if request.parent_ref is not None and request.parent_ref not in seen:
                self._existing_parent(account, request.parent_ref)
            if c_oid is not None:
                seen.add(c_oid)

    def _check_currencies(
        self, account: str, config: AccountConfig, request: PlaceOrder, instrument: Instrument
    ) -> None:
        """Every currency the order moves must have a rate to the account's base currency
        (its value is kept in it); a conversion must name an FX pair."""
        base, rates = config.base_currency, self._matcher.rates
        pair = pair_of(instrument)
        if request.currency_conversion and pair is None:
            raise OrderRejected(
                f"Order rejected: isCcyConv converts currencies through an FX pair (secType "
                f"CASH, e.g. EUR.USD); {instrument.symbol} is {instrument.sec_type.value}"
            )
        moved = (pair.base, pair.quote) if pair is not None else (instrument.currency,)
        for currency in moved:
            if rates.rate(currency, base) is None:
                raise OrderRejected(
                    f"Order rejected: {instrument.symbol} trades in {instrument.currency} and "
                    f"no simulated exchange rate links {currency} to {base}, the base currency "
                    f"of account {account}"
                )

    def _registered(self, account: str, c_oid: str) -> bool:
        """True while `c_oid` is taken: its order still works or is less than 24 h old."""
        order_id = self.state.client_ids.get((account, c_oid))
        holder = self._journal.known_order(order_id) if order_id is not None else None
        if holder is None:
            return False
        return holder.is_working or self.clock.now_ns() - holder.created_ns < COID_MEMORY_NS

    def _existing_parent(self, account: str, ref: str) -> Order:
        order_id = self.state.client_ids.get((account, ref))
        if order_id is None and _ORDER_ID.fullmatch(ref):
            order_id = int(ref)  # an order id: ASCII digits only, never "١" or "²"
        order = self._journal.known_order(order_id) if order_id is not None else None
        if order is None or order.account != account:
            raise RequestError(
                f"Invalid parentId: {shown(ref)} is neither a cOID nor an order id of {account}"
            )
        if not order.is_working:
            # A child is held until its parent fills; a parent that already filled (or ended)
            # would leave it held yet matched, and no table transition fills a held order.
            raise OrderRejected(
                f"Order rejected: parent order {order.order_id} is {order.status.value}; "
                "attach child orders to a working parent"
            )
        return order

    def _check_buying_power(self, account: str, items: list[Item]) -> None:
        portfolio = self._journal.portfolio_of(account)
        required = Decimal(0)
        for request, instrument in items:
            if request.parent_ref is None:  # bracket children only close the parent's position
                required += self._margin_needed(portfolio, request, instrument)
        available = portfolio.available_funds
        if required > available:
            ccy = portfolio.config.base_currency
            raise OrderRejected(
                f"Order rejected: insufficient buying power: initial margin {required:.2f} {ccy}"
                f" exceeds available funds {available:.2f} {ccy}"
            )

    def _margin_needed(
        self, portfolio: Portfolio, request: PlaceOrder, inst: Instrument
    ) -> Decimal:
        held = portfolio.positions.get(inst.conid)
        position = held.quantity if held is not None else Decimal(0)
        opening = request.quantity
        if position * request.side.sign < 0:
            opening = max(Decimal(0), request.quantity - abs(position))
        price = request.price or request.aux_price or self._reference(inst) or inst.reference_price
        pair = pair_of(inst) if request.currency_conversion else None
        if pair is not None:
            # A conversion opens no position: it needs the funds it pays, in full.
            paid = (request.quantity * price, pair.quote) if request.side.sign > 0 else (
                request.quantity, pair.base)  # fmt: skip
            return portfolio.in_base(*paid)
        needed = initial_margin_rate(inst.sec_type) * opening * price * inst.multiplier
        return portfolio.in_base(needed, inst.currency)

    def _submit(self, account: str, items: list[Item]) -> list[dict[str, Any]]:
        ((_, orders),) = self._new_orders(((account, items),), first_id=self.state.next_order_id)
        self._journal.commit([OrderAccepted(o) for o in orders])
        self._matcher.match_new([Placement(o) for o in orders])
        return [acknowledgement(self.state.orders[o.order_id]) for o in orders]

    def _new_orders(
        self, batches: Sequence[tuple[str, list[Item]]], *, first_id: int
    ) -> list[tuple[str, list[Order]]]:
        """The accepted orders of each account's items, numbered on from `first_id` (not yet
        stored); a bracket child's parent is found in its own account's batch."""
        now, next_id = self.clock.now_ns(), first_id
        made: list[tuple[str, list[Order]]] = []
        for account, items in batches:
            ids: dict[str, int] = {}
            orders: list[Order] = []
            grouped = [offset for offset, (r, _) in enumerate(items) if r.single_group]
            # A batch's isSingleGroup orders are one OCA group, named by its first order's id.
            single = f"{OCA_GROUP_PREFIX}{next_id + grouped[0]}" if grouped else None
            for request, _ in items:
                parent_id = self._parent_id(account, request.parent_ref, ids)
                oca = f"bracket-{parent_id}" if parent_id is not None else None
                if request.single_group:
                    oca = single
                order = lifecycle.new_order(
                    request, account=account, order_id=next_id,
                    parent_id=parent_id, oca_group=oca, now_ns=now,
                )  # fmt: skip
                next_id += 1
                if request.c_oid is not None:
                    ids[request.c_oid] = order.order_id
                orders.append(check_domain(order))
            made.append((account, orders))
        return made

    def _parent_id(self, account: str, ref: str | None, batch: dict[str, int]) -> int | None:
        if ref is None:
            return None
        return batch[ref] if ref in batch else self._existing_parent(account, ref).order_id

    # ---- modify / cancel ------------------------------------------------------------------

    def _own_order(self, account: str, order_id: int) -> Order:
        self._journal.settle()
        self._journal.portfolio_of(account)
        order = self._journal.known_order(order_id)
        if order is None or order.account != account:
            raise OrderRejected(f"OrderID {order_id} doesn't exist")
        return order

    def order_to_modify(self, account: str, order_id: int) -> Order:
        """The account's order `order_id`, if it may still be modified (a command: pending
        reply ids become stale).

        Raises NotFoundError (account), OrderRejected (unknown order), IllegalTransition
        (order no longer working, e.g. Filled).
        """
        self._replies.interrupt()
        order = self._own_order(account, order_id)
        if not order.is_working:  # the specific error for a Filled or Cancelled order
            lifecycle.step(order, OrderTrigger.MODIFY, self.clock.now_ns())
        return order

    def modify(self, account: str, change: ModifyOrder) -> list[dict[str, Any]]:
        """Change quantity, prices, tif, trailing amount or outsideRTH of a working order.

        Raises what `order_to_modify` raises, OrderRejected for more quantity than the
        buying power covers or a number outside the order domain.
        """
        order = self.order_to_modify(account, change.order_id)
        order_id = order.order_id
        instrument = self._journal.instrument(order.conid)
        fields = change.changes()
        if "quantity" in fields and fields["quantity"] > order.quantity:
            extra = PlaceOrder(
                order.conid, order.side, order.order_type, fields["quantity"] - order.quantity,
                order.tif, order.price, order.aux_price,
            )  # fmt: skip
            self._check_buying_power(account, [(extra, instrument)])
        updated = check_domain(
            lifecycle.step(order, OrderTrigger.MODIFY, self.clock.now_ns(), **fields)
        )
        self._journal.commit([OrderUpdated(updated)])
        self._matcher.match_new([Placement(updated)])
        return [acknowledgement(self.state.orders[order_id])]

    def cancel(self, account: str, order_id: int) -> dict[str, Any]:
        """Cancel one working order, or all of the account's with `order_id == -1`.

        Raises NotFoundError (account), OrderRejected (unknown order),
        IllegalTransition (order already Filled or Cancelled).
        """
        self._replies.interrupt()
        if order_id == -1:
            self._journal.portfolio_of(account)
            for order in [o for o in self.state.working() if o.account == account]:
                current = self.state.orders[order.order_id]
                if current.is_working:  # cancelling a bracket parent already expired its children
                    self._cancel_one(current)
            return {"msg": "Request was submitted", "order_id": -1, "account": account}
        order = self._own_order(account, order_id)
        self._cancel_one(order)
        return {"msg": "Request was submitted", "order_id": order_id, "conid": order.conid,
                "account": account}  # fmt: skip

    def _cancel_one(self, order: Order) -> None:
        if not order.is_working:
            lifecycle.step(order, OrderTrigger.REQUEST_CANCEL, 0)  # raises the specific error
        now = self.clock.now_ns()
        pending = lifecycle.step(order, OrderTrigger.REQUEST_CANCEL, now)
        done = lifecycle.step(pending, OrderTrigger.CONFIRM_CANCEL, now)
        children = [lifecycle.expire(c, now) for c in self.state.children(order.order_id)]
        self._journal.commit([OrderUpdated(pending), OrderUpdated(done), *children])
