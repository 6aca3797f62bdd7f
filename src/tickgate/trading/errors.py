"""The trading engine's refusals: what a command asked that the rules do not allow.

Each says what was refused, never how to answer it; `tickgate.server.errors` maps them to HTTP
(an order reject is a 200 with `{"error": ...}` there, as on IBKR's gateway). Malformed input is
`tickgate.errors.RequestError` and an unknown account `tickgate.errors.NotFoundError`.
"""

from __future__ import annotations

from tickgate.errors import TickgateError
from tickgate.model.orders import OrderStatus


class OrderRejected(TickgateError):
    """A well-formed order (or change, or cancel) the trading rules refuse: unknown contract,
    off the tick grid, not enough buying power, an unknown order id, ..."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IllegalTransition(TickgateError):
    """An order was asked to change in a way its current status does not allow.

    `state` is the order's status and `trigger` (an `OrderTrigger`) what was refused.
    """

    def __init__(self, message: str, *, order_id: int, state: OrderStatus, trigger: str) -> None:
        super().__init__(message)
        self.message = message
        self.order_id = order_id
        self.state = state
        self.trigger = trigger


class ReplyError(TickgateError):
    """A reply to an order question (`POST /iserver/reply/{id}`) cannot be taken."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QuestionExpired(ReplyError):
    """The reply id was issued, but another request came in since: it is stale."""


class UnknownQuestion(ReplyError):
    """No question was ever asked under this reply id."""


class OrderNotConfirmed(ReplyError):
    """The client answered the question with `confirmed: false`; nothing is placed."""
