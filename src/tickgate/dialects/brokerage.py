"""The brokerage login as the dialects see it, and the texts that name it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

USERNAME = "tickgate"
SERVER_NAME = "tickgate"
NOT_AUTHENTICATED = (
    "not authenticated: the brokerage session is logged out; "
    "POST /iserver/auth/ssodh/init to log in again"
)


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    """What the session a relay streams from says about itself (its `sts`). Clients are told
    with an `sts` of their own; unlike a local logout it ends no stream: they resume when the
    upstream is back."""

    authenticated: bool
    competing: bool = False


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

    def add_upstream_listener(
        self, listener: Callable[[UpstreamStatus], None]
    ) -> Callable[[], None]:
        """Call `listener` whenever a relay's upstream session changes; returns a remover."""
        ...


def listen_to_status(
    brokerage: Brokerage,
    on_status: Callable[[bool], None],
    on_upstream: Callable[[UpstreamStatus], None],
) -> Callable[[], None]:
    """Register a connection for logins/logouts and upstream changes; one remover for both."""
    forget_status = brokerage.add_status_listener(on_status)
    forget_upstream = brokerage.add_upstream_listener(on_upstream)

    def forget() -> None:
        forget_status()
        forget_upstream()

    return forget
