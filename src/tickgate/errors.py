"""One exception tree for tickgate. Every error a user can cause is a `TickgateError`."""

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
    """A REST request is invalid. `status` is the HTTP status to answer with; `extra` members
    go into the JSON error body beside `error` (e.g. IBKR's `statusCode`)."""

    def __init__(self, message: str, *, status: int = 400, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.extra = extra
