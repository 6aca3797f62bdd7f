"""The order state machine, as one explicit transition table.

Every status change of an order goes through `next_status`; a pair missing from `TRANSITIONS`
is illegal and raises `IllegalTransition`. In this simulator cancels are confirmed at
once, so `PendingCancel` is passed through within one engine call, but it stays in the table
so an asynchronous venue could be plugged in without changing the rules.
"""

from __future__ import annotations

from enum import StrEnum

from tickgate.model.orders import OrderStatus
from tickgate.trading.errors import IllegalTransition


class OrderTrigger(StrEnum):
    """What can move an order along the table: the input of a transition (the engine's
    stored and published events are `trading.events`)."""

    SUBMIT = "submit"  # handed to the engine after validation
    ACCEPT = "accept"  # live and matchable
    HOLD = "hold"  # accepted but waiting: untriggered stop, bracket child, at-close order
    REJECT = "reject"  # refused after submission
    TRIGGER = "trigger"  # a held order became live
    MODIFY = "modify"  # price/quantity changed by the client
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"  # the last unit filled
    REQUEST_CANCEL = "request_cancel"
    CONFIRM_CANCEL = "confirm_cancel"
    EXPIRE = "expire"  # DAY at the session close, IOC remainder, OCA sibling filled
    WARN = "warn"
    CLEAR_WARNING = "clear_warning"


_S = OrderStatus
_T = OrderTrigger

TRANSITIONS: dict[tuple[OrderStatus, OrderTrigger], OrderStatus] = {
    (_S.INACTIVE, _T.SUBMIT): _S.PENDING_SUBMIT,
    (_S.PENDING_SUBMIT, _T.ACCEPT): _S.SUBMITTED,
    (_S.PENDING_SUBMIT, _T.HOLD): _S.PRE_SUBMITTED,
    (_S.PENDING_SUBMIT, _T.REJECT): _S.INACTIVE,
    (_S.PENDING_SUBMIT, _T.REQUEST_CANCEL): _S.PENDING_CANCEL,
    (_S.PRE_SUBMITTED, _T.TRIGGER): _S.SUBMITTED,
    (_S.PRE_SUBMITTED, _T.MODIFY): _S.PRE_SUBMITTED,
    (_S.PRE_SUBMITTED, _T.REQUEST_CANCEL): _S.PENDING_CANCEL,
    (_S.PRE_SUBMITTED, _T.EXPIRE): _S.CANCELLED,
    (_S.PRE_SUBMITTED, _T.WARN): _S.WARN_STATE,
    (_S.SUBMITTED, _T.MODIFY): _S.SUBMITTED,
    (_S.SUBMITTED, _T.PARTIAL_FILL): _S.SUBMITTED,
    (_S.SUBMITTED, _T.FILL): _S.FILLED,
    (_S.SUBMITTED, _T.REQUEST_CANCEL): _S.PENDING_CANCEL,
    (_S.SUBMITTED, _T.EXPIRE): _S.CANCELLED,
    (_S.SUBMITTED, _T.WARN): _S.WARN_STATE,
    (_S.WARN_STATE, _T.CLEAR_WARNING): _S.SUBMITTED,
    (_S.WARN_STATE, _T.REQUEST_CANCEL): _S.PENDING_CANCEL,
    (_S.WARN_STATE, _T.EXPIRE): _S.CANCELLED,
    # A fill can overtake a cancel request on a real venue; the order stays pending cancel.
    (_S.PENDING_CANCEL, _T.PARTIAL_FILL): _S.PENDING_CANCEL,
    (_S.PENDING_CANCEL, _T.FILL): _S.FILLED,
    (_S.PENDING_CANCEL, _T.CONFIRM_CANCEL): _S.CANCELLED,
}

_VERBS: dict[OrderTrigger, str] = {
    _T.MODIFY: "modified",
    _T.REQUEST_CANCEL: "cancelled",
    _T.CONFIRM_CANCEL: "cancelled",
    _T.EXPIRE: "expired",
}


def next_status(order_id: int, state: OrderStatus, trigger: OrderTrigger) -> OrderStatus:
    """The status an order in `state` moves to on `trigger`.

    Raises IllegalTransition when the table has no such transition.
    """
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        verb = _VERBS.get(trigger, f"moved by '{trigger.value}'")
        message = f"Order {order_id} cannot be {verb}: it is {state.value}"
        raise IllegalTransition(message, order_id=order_id, state=state, trigger=trigger) from None
