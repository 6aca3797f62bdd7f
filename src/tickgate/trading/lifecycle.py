"""Pure builders of order snapshots and events; every status change goes through the table.

Nothing here stores or publishes; the engine decides when events are committed.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from tickgate.model.instruments import Instrument
from tickgate.model.orders import Fill, Order, OrderStatus, TimeInForce
from tickgate.trading.commands import PlaceOrder
from tickgate.trading.commissions import CommissionSchedule
from tickgate.trading.events import OrderFilled, OrderUpdated, StoredEvent
from tickgate.trading.matching import MatchResult
from tickgate.trading.orders import OrderTrigger, next_status


def step(order: Order, trigger: OrderTrigger, now_ns: int, **changes: Any) -> Order:
    """`order` after `trigger` at `now_ns`, with `changes` applied.

    Raises IllegalTransition when the transition table refuses `trigger`.
    """
    status = next_status(order.order_id, order.status, trigger)
    return dataclasses.replace(order, status=status, updated_ns=now_ns, **changes)


def new_order(
    request: PlaceOrder,
    *,
    account: str,
    order_id: int,
    parent_id: int | None,
    oca_group: str | None,
    now_ns: int,
) -> Order:
    """A freshly accepted order: Submitted when it can match now, PreSubmitted when held
    (untriggered stop, at-close order, OPG order waiting for the open, or bracket child
    waiting for its parent)."""
    draft = Order(
        order_id=order_id,
        account=account,
        conid=request.conid,
        side=request.side,
        order_type=request.order_type,
        quantity=request.quantity,
        tif=request.tif,
        status=OrderStatus.INACTIVE,
        created_ns=now_ns,
        updated_ns=now_ns,
        price=request.price,
        aux_price=request.aux_price,
        c_oid=request.c_oid,
        parent_id=parent_id,
        oca_group=oca_group,
        trailing_type=request.trailing_type,
        trailing_amount=request.trailing_amount,
        outside_rth=request.outside_rth,
        currency_conversion=request.currency_conversion,
    )
    pending = step(draft, OrderTrigger.SUBMIT, now_ns)
    held = (
        request.order_type.is_stop
        or request.order_type.at_close
        or request.tif is TimeInForce.OPG
        or parent_id is not None
    )
    return step(pending, OrderTrigger.HOLD if held else OrderTrigger.ACCEPT, now_ns)


def fill(
    order: Order,
    quantity: Decimal,
    price: Decimal,
    *,
    instrument: Instrument,
    schedule: CommissionSchedule,
    sequence: int,
    now_ns: int,
    charged: Decimal = Decimal(0),
) -> OrderFilled:
    """The event of `order` filling `quantity` at `price`; `sequence` numbers its fills.

    Commissions are per order, as on IBKR: this fill pays the schedule's fee for everything
    filled so far minus `charged`, what the order's earlier fills paid (so the minimum is
    charged once per order, not once per partial fill).
    """
    filled = order.filled_quantity + quantity
    paid = (order.avg_price or Decimal(0)) * order.filled_quantity + price * quantity
    event = OrderTrigger.FILL if filled == order.quantity else OrderTrigger.PARTIAL_FILL
    after = step(
        order,
        event,
        now_ns,
        filled_quantity=filled,
        avg_price=paid / filled,
        last_execution_ns=now_ns,
    )
    execution = Fill(
        execution_id=f"{order.order_id:08x}.{sequence:08x}.01.01",
        order_id=order.order_id,
        account=order.account,
        conid=order.conid,
        side=order.side,
        quantity=quantity,
        price=price,
        commission=max(
            Decimal(0), schedule.commission(instrument, filled, paid / filled) - charged
        ),
        ts_ns=now_ns,
    )
    return OrderFilled(after, execution)


def stop_update(order: Order, result: MatchResult, now_ns: int) -> Order | None:
    """`order` after a quote moved or triggered its stop, or None when nothing changed."""
    newly = result.triggered and not order.triggered
    if newly and order.order_type.is_stop:
        if order.status is OrderStatus.PRE_SUBMITTED:
            return step(
                order, OrderTrigger.TRIGGER, now_ns, triggered=True, aux_price=result.stop_price
            )
        return step(order, OrderTrigger.MODIFY, now_ns, triggered=True, aux_price=result.stop_price)
    if result.stop_price != order.aux_price:
        return step(order, OrderTrigger.MODIFY, now_ns, aux_price=result.stop_price)
    return None


def activate(child: Order, now_ns: int) -> OrderUpdated | None:
    """A bracket child's event when its parent has filled (stops and at-close orders stay
    held until their own trigger)."""
    if child.order_type.is_stop or child.order_type.at_close:
        return None
    if child.status is not OrderStatus.PRE_SUBMITTED:
        return None
    return OrderUpdated(step(child, OrderTrigger.TRIGGER, now_ns))


def expire(order: Order, now_ns: int) -> StoredEvent:
    """The event of the system cancelling a working order (IOC rest, DAY close, OCA, parent)."""
    return OrderUpdated(step(order, OrderTrigger.EXPIRE, now_ns))


def trigger_at_open(order: Order, now_ns: int) -> Order:
    """An OPG order (MKT or LMT) made live for the opening auction."""
    return step(order, OrderTrigger.TRIGGER, now_ns, triggered=True)


def trigger_for_close(order: Order, now_ns: int) -> Order:
    """An at-close order made live for the closing auction."""
    if order.status is OrderStatus.PRE_SUBMITTED:
        return step(order, OrderTrigger.TRIGGER, now_ns, triggered=True)
    return order
