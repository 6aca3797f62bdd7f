"""The order state machine: every (status, event) pair is either in the table or refused."""

from __future__ import annotations

import itertools

import pytest

from tickgate.model.orders import OrderStatus as S
from tickgate.server.errors import http_answer
from tickgate.trading.errors import IllegalTransition
from tickgate.trading.orders import TRANSITIONS, next_status
from tickgate.trading.orders import (
    OrderTrigger as E,
)

# The expected table, written out independently of the module so that a change there fails here.
EXPECTED: dict[tuple[S, E], S] = {
    (S.INACTIVE, E.SUBMIT): S.PENDING_SUBMIT,
    (S.PENDING_SUBMIT, E.ACCEPT): S.SUBMITTED,
    (S.PENDING_SUBMIT, E.HOLD): S.PRE_SUBMITTED,
    (S.PENDING_SUBMIT, E.REJECT): S.INACTIVE,
    (S.PENDING_SUBMIT, E.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.PRE_SUBMITTED, E.TRIGGER): S.SUBMITTED,
    (S.PRE_SUBMITTED, E.MODIFY): S.PRE_SUBMITTED,
    (S.PRE_SUBMITTED, E.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.PRE_SUBMITTED, E.EXPIRE): S.CANCELLED,
    (S.PRE_SUBMITTED, E.WARN): S.WARN_STATE,
    (S.SUBMITTED, E.MODIFY): S.SUBMITTED,
    (S.SUBMITTED, E.PARTIAL_FILL): S.SUBMITTED,
    (S.SUBMITTED, E.FILL): S.FILLED,
    (S.SUBMITTED, E.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.SUBMITTED, E.EXPIRE): S.CANCELLED,
    (S.SUBMITTED, E.WARN): S.WARN_STATE,
    (S.WARN_STATE, E.CLEAR_WARNING): S.SUBMITTED,
    (S.WARN_STATE, E.REQUEST_CANCEL): S.PENDING_CANCEL,
    (S.WARN_STATE, E.EXPIRE): S.CANCELLED,
    (S.PENDING_CANCEL, E.PARTIAL_FILL): S.PENDING_CANCEL,
    (S.PENDING_CANCEL, E.FILL): S.FILLED,
    (S.PENDING_CANCEL, E.CONFIRM_CANCEL): S.CANCELLED,
}

ALL_PAIRS = list(itertools.product(S, E))


def test_table_is_exactly_the_expected_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "event"), ALL_PAIRS)
def test_every_pair(state: S, event: E) -> None:
    if (state, event) in EXPECTED:
        assert (state, event) in TRANSITIONS
        assert next_status(7, state, event) is EXPECTED[(state, event)]
    else:
        assert (state, event) not in TRANSITIONS
        with pytest.raises(IllegalTransition) as info:
            next_status(7, state, event)
        assert (info.value.order_id, info.value.state, info.value.trigger) == (7, state, event)


@pytest.mark.parametrize("final", [S.FILLED, S.CANCELLED])
@pytest.mark.parametrize("event", list(E))
def test_final_states_refuse_everything(final: S, event: E) -> None:
    with pytest.raises(IllegalTransition):
        next_status(1, final, event)


def test_cancel_of_filled_order_message_is_a_400() -> None:
    with pytest.raises(IllegalTransition) as info:
        next_status(42, S.FILLED, E.REQUEST_CANCEL)
    assert http_answer(info.value) == (400, {"error": "Order 42 cannot be cancelled: it is Filled"})


def test_modify_of_cancelled_order_message() -> None:
    with pytest.raises(IllegalTransition, match="cannot be modified: it is Cancelled"):
        next_status(3, S.CANCELLED, E.MODIFY)
