"""One exception tree for tickgate. Every error a user can cause is a `TickgateError`.

The tree says *what* went wrong, never how a transport answers it: no HTTP status codes and no
frame shapes here. `tickgate.server.errors` is the one boundary that maps each class to an HTTP
status and JSON body (and the WebSocket handlers answer any of them with an error frame). The
trading engine's own refusals (`OrderRejected`, `IllegalTransition`, the reply-id errors) live
beside it in `tickgate.trading.errors`.
"""

from __future__ import annotations


class TickgateError(Exception):
    """Base of every error tickgate raises on purpose."""


class ProtocolError(TickgateError):
    """A client frame could not be understood or is not allowed.

    `topic` is the topic the frame was about when one could be read, else None; the server
    answers with an error frame and keeps the connection open.
    """

    def __init__(self, message: str, *, topic: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.topic = topic


class ConfigError(TickgateError):
    """A configuration value or file is invalid; the message says which and why."""


class CatalogueError(TickgateError):
    """An instrument catalogue file is invalid; the message names the line and the reason."""


class NotFoundError(TickgateError):
    """A requested thing (conid, account, order, route) does not exist."""


class RequestError(TickgateError):
    """A request is malformed: a value of the wrong type, spelling or range, a missing
    parameter. The message names the parameter and says what was expected (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
