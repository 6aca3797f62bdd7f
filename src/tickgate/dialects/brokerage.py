"""The brokerage login as the dialects see it, and the texts that name it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

USERNAME = "tickgate"
SERVER_NAME = "tickgate"
NOT_AUTHENTICATED = (
    "not authenticated: the brokerage session is logged out; "
    "POST /iserver/auth/ssodh/init to log in again"
)


class Brokerage(Protocol):
    """The brokerage login, as the dialects see it (`server.session.BrokerSession`)."""

    @property
    def id(self) -> str: ...

    @property
    def authenticated(self) -> bool: ...

    @property
    def primed(self) -> bool: ...

    def touch(self) -> int:
        """Record activity; returns a strictly increasing `lastAccessed` (epoch ms)."""
        ...

    def matches_cookie(self, cookie: str | None) -> bool:
        """True when an `api` cookie names this session."""
        ...

    def add_status_listener(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        """Call `listener(authenticated)` on every login and logout; returns a remover."""
        ...
