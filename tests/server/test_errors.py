"""The HTTP boundary: each error of the core tree gets its status and body in one table."""

from __future__ import annotations

import pytest

from tickgate.errors import ConfigError, NotFoundError, RequestError, TickgateError
from tickgate.model.orders import OrderStatus
from tickgate.server.errors import http_answer
from tickgate.server.http import HttpError
from tickgate.trading.errors import (
    IllegalTransition,
    OrderNotConfirmed,
    OrderRejected,
    QuestionExpired,
    UnknownQuestion,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (OrderRejected("Invalid side 'X'"), 200),  # IBKR's order reject: 200 with an error
        (IllegalTransition("Order 1 cannot be modified: it is Filled", order_id=1,
                           state=OrderStatus.FILLED, trigger="modify"), 400),
        (QuestionExpired("reply id is no longer valid: 'x'"), 503),
        (UnknownQuestion("reply id not found: 'x'"), 400),
        (NotFoundError("Account DU9 does not exist"), 404),
        (RequestError("days must be between 1 and 7, got 9"), 400),
        (HttpError("too many at once", status=429), 429),
    ],
)  # fmt: skip
def test_each_error_has_its_status_and_an_error_body(error: TickgateError, status: int) -> None:
    assert http_answer(error) == (status, {"error": str(error)})


def test_a_declined_reply_also_carries_ibkrs_status_code_in_the_body() -> None:
    answer = http_answer(OrderNotConfirmed("order not confirmed"))
    assert answer == (400, {"error": "order not confirmed", "statusCode": 400})


def test_an_error_the_table_does_not_name_is_not_answered() -> None:
    # The middleware lets it through to the 500 of an unexpected failure, as before.
    with pytest.raises(LookupError, match="ConfigError"):
        http_answer(ConfigError("bad file"))
