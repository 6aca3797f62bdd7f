"""The brokerage session a tickgate process pretends to hold: one user, one stable session id.

Like the real gateway, there is one session per process. It tracks what the IBKR API makes
stateful: whether `/iserver/accounts` primed it and which conids a REST snapshot pre-flighted.
(Its market-data lines are the conids the streaming hub streams: `StreamingHub.lines_in_use`.)
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from typing import TypeVar

import orjson

from tickgate.clock import NS_PER_MS, Clock
from tickgate.dialects.brokerage import NOT_AUTHENTICATED, SERVER_NAME, USERNAME, UpstreamStatus

__all__ = ["NOT_AUTHENTICATED", "OPEN_WHILE_LOGGED_OUT", "SERVER_NAME", "USERNAME", "BrokerSession"]

SERVER_VERSION = "tickgate 0.1.0"
#: What still answers while logged out, so a client can see its state and log in again.
OPEN_WHILE_LOGGED_OUT = (
    "/tickle",
    "/iserver/auth/status",
    "/iserver/auth/ssodh/init",
    "/iserver/reauthenticate",
    "/sso/validate",
    "/logout",
)


class BrokerSession:
    """State of the one brokerage login. Not thread-safe; lives on the event loop."""

    def __init__(self, clock: Clock) -> None:
        self.id = secrets.token_hex(16)
        self.clock = clock
        self.authenticated = True
        self.primed = False
        self.preflighted: dict[int, tuple[int, ...]] = {}
        self.last_accessed_ms = self.now_ms()
        self._status_listeners: list[Callable[[bool], None]] = []
        #: What a relay's upstream session last said (None: no upstream, or not heard yet).
        self.upstream: UpstreamStatus | None = None
        self._upstream_listeners: list[Callable[[UpstreamStatus], None]] = []

    def now_ms(self) -> int:
        return self.clock.now_ns() // NS_PER_MS

    def touch(self) -> int:
        """Record activity; returns a `lastAccessed` that strictly increases between calls."""
        self.last_accessed_ms = max(self.now_ms(), self.last_accessed_ms + 1)
        return self.last_accessed_ms

    def matches_cookie(self, cookie: str | None) -> bool:
        """True when an `api` cookie names this session, raw or as JSON `{"session": "..."}`."""
        if not cookie:
            return False
        text = cookie.strip()
        if text.startswith("{"):
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                return False
            return isinstance(value, dict) and value.get("session") == self.id
        return text == self.id

    def add_status_listener(self, listener: Callable[[bool], None]) -> Callable[[], None]:
        """Call `listener(authenticated)` whenever the session logs in or out; returns a remover."""
        return _listen(self._status_listeners, listener)

    def add_upstream_listener(
        self, listener: Callable[[UpstreamStatus], None]
    ) -> Callable[[], None]:
        """Call `listener` whenever a relay's upstream session changes; returns a remover."""
        return _listen(self._upstream_listeners, listener)

    def set_upstream(self, status: UpstreamStatus) -> None:
        """A relay heard its upstream session's state; listeners are told when it changed."""
        if status != self.upstream:
            self.upstream = status
            for listener in list(self._upstream_listeners):
                listener(status)

    def rotate(self) -> None:
        """Give the session a new random id: an id learnt before no longer names it."""
        self.id = secrets.token_hex(16)

    def logout(self) -> None:
        """End the brokerage session: new id, unprimed, no pre-flights, listeners told."""
        was = self.authenticated
        self.rotate()
        self.authenticated = False
        self.primed = False
        self.preflighted.clear()
        if was:
            self._tell(False)

    def login(self) -> None:
        """(Re-)establish the brokerage session. Logging in after a logout gives a new id and
        tells listeners; while logged in it changes nothing (the id clients hold stays)."""
        if not self.authenticated:
            self.rotate()
            self.authenticated = True
            self._tell(True)

    def _tell(self, authenticated: bool) -> None:
        for listener in list(self._status_listeners):
            listener(authenticated)


_T = TypeVar("_T")


def _listen(
    listeners: list[Callable[[_T], None]], listener: Callable[[_T], None]
) -> Callable[[], None]:
    listeners.append(listener)

    def forget() -> None:
        # Idempotent: a connection may be torn down twice (its handler's error path and
        # its shutdown both close it); the second call must not raise.
        with contextlib.suppress(ValueError):
            listeners.remove(listener)

    return forget
