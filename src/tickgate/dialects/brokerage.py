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
class SessionStatus:
    """The brokerage session as clients are told it, in `sts` frames and `/iserver/auth/status`.

    `authenticated` is True only while market data can flow: this gateway's login holds, no
    other session competes for it and, behind a relay, the upstream session is authenticated
    (a relay that cannot reach its upstream counts it as not authenticated)."""

    authenticated: bool
    competing: bool = False


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One change of the brokerage session, as its listeners hear it: the `status` after it,
    and `login` True or False when this gateway's own login began or ended (a logout ends
    market data; an upstream's or a competing session's change ends nothing: streams resume
    when the status is back), None otherwise."""

    status: SessionStatus
    login: bool | None = None


class StatusWatcher(Protocol):
    """A connection that follows the brokerage session (its dialect session).

    The session keeps one registry of watchers rather than a listener closure and a remover
    per connection: with 10,000 sockets those cost each connection about 400 bytes.
    """

    def on_status_change(self, change: StatusChange) -> None:
        """The session changed (as `Brokerage.add_status_listener`'s listeners hear it)."""
        ...


class Brokerage(Protocol):
    """The brokerage login, as the dialects see it (`server.session.BrokerSession`)."""

    @property
    def id(self) -> str: ...

    @property
    def authenticated(self) -> bool:
        """This gateway's own login (REST and new streams need it)."""
        ...

    @property
    def primed(self) -> bool: ...

    def status(self) -> SessionStatus:
        """What clients are told about the session now."""
        ...

    def touch(self) -> int:
        """Record activity; returns a strictly increasing `lastAccessed` (epoch ms)."""
        ...

    def matches_cookie(self, cookie: str | None) -> bool:
        """True when an `api` cookie names this session."""
        ...

    def add_status_listener(self, listener: Callable[[StatusChange], None]) -> Callable[[], None]:
        """Call `listener` on every change of the session (its login, its logout, a relay's
        upstream, a competing session); returns a remover. The one way such a change reaches
        a client."""
        ...

    def watch(self, watcher: StatusWatcher) -> None:
        """Tell `watcher` of every change, as a status listener, until `unwatch`."""
        ...

    def unwatch(self, watcher: StatusWatcher) -> None:
        """Stop telling `watcher` (idempotent: a connection may be torn down twice)."""
        ...
