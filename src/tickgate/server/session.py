"""The brokerage session a tickgate process pretends to hold: one user, one stable session id.

Like the real gateway, there is one session per process. It tracks what the IBKR API makes
stateful: whether `/iserver/accounts` primed it and which conids a REST snapshot pre-flighted.
(Its market-data lines are the conids the streaming hub streams: `StreamingHub.lines_in_use`.)
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from tickgate.clock import NS_PER_MS, Clock
from tickgate.dialects.brokerage import (
    NOT_AUTHENTICATED,
    SERVER_NAME,
    USERNAME,
    SessionStatus,
    StatusChange,
    StatusWatcher,
)

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
        self._primed = False
        self.preflighted = Preflights(lambda: self._changed("preflight"))
        self._selected_account: str | None = None
        self.last_accessed_ms = self.now_ms()
        #: Set while another session competes for the login (an injected fault), until the
        #: next login or logout.
        self.competing = False
        #: What a relay's upstream session last said (None: this gateway has no upstream).
        self.upstream: SessionStatus | None = None
        self._status_listeners: list[Callable[[StatusChange], None]] = []
        #: Told after the id, login state or priming changed here (a cluster shares them).
        self._change_listeners: list[Callable[[str], None]] = []
        # Every connection that follows the session, in joining order (a dict: O(1) removal
        # among 10,000, and no closure per connection).
        self._watchers: dict[StatusWatcher, None] = {}

    @property
    def primed(self) -> bool:
        return self._primed

    @primed.setter
    def primed(self, value: bool) -> None:
        if value != self._primed:
            self._primed = value
            if value:
                self._changed("prime")

    @property
    def selected_account(self) -> str | None:
        """The account `POST /iserver/account` selected (None: the first configured one)."""
        return self._selected_account

    @selected_account.setter
    def selected_account(self, account: str | None) -> None:
        if account != self._selected_account:
            self._selected_account = account
            self._changed("select")

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

    def status(self) -> SessionStatus:
        """What clients are told: authenticated only while this login holds, nothing
        competes and the upstream (behind a relay) is authenticated."""
        upstream = self.upstream or SessionStatus(authenticated=True)
        return SessionStatus(
            authenticated=self.authenticated and not self.competing and upstream.authenticated,
            competing=self.competing or upstream.competing,
        )

    def add_status_listener(self, listener: Callable[[StatusChange], None]) -> Callable[[], None]:
        """Call `listener` on every change of the session: its login and logout, a relay's
        upstream, a competing session. Returns a remover."""
        return _listen(self._status_listeners, listener)

    def watch(self, watcher: StatusWatcher) -> None:
        """Tell `watcher` of every change (after the status listeners) until `unwatch`."""
        self._watchers[watcher] = None

    def unwatch(self, watcher: StatusWatcher) -> None:
        """Stop telling `watcher`; idempotent (a connection may be torn down twice)."""
        self._watchers.pop(watcher, None)

    def set_upstream(self, upstream: SessionStatus) -> None:
        """A relay heard its upstream session's state; listeners are told when that changes
        what clients see. A relay sets it before serving, so that no client is told it is
        authenticated before the upstream said so."""
        before = self.status()
        self.upstream = upstream
        if self.status() != before:
            self._tell(None)

    def compete(self) -> None:
        """Another session takes the login (an injected fault): clients are told so, as the
        real gateway tells them, until the next login or logout. Streams stay."""
        if not self.competing:
            self.competing = True
            self._tell(None)

    def add_change_listener(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call `listener(what)` after this session was primed ("prime"), logged out ("logout")
        or in ("login"), or another account selected ("select") here; not for `adopt`.
        Returns a remover."""
        return _listen(self._change_listeners, listener)

    def adopt(
        self,
        session_id: str,
        *,
        authenticated: bool,
        primed: bool,
        selected_account: str | None = None,
    ) -> None:
        """Take the state another member of a cluster holds (its core's): status listeners
        hear a login or logout as if it happened here; change listeners hear nothing."""
        self.id = session_id
        self._primed = primed
        self._selected_account = selected_account
        if not primed:
            self.preflighted.replace({})
        if authenticated != self.authenticated:
            self.authenticated = authenticated
            self.competing = False
            self._tell(authenticated)

    def _changed(self, what: str) -> None:
        for listener in list(self._change_listeners):
            listener(what)

    def rotate(self) -> None:
        """Give the session a new random id: an id learnt before no longer names it."""
        self.id = secrets.token_hex(16)

    def logout(self) -> None:
        """End the brokerage session: new id, unprimed, no pre-flights, no account selected,
        listeners told."""
        was = self.authenticated
        self.rotate()
        self.authenticated = False
        self.competing = False
        self._primed = False
        self.preflighted.replace({})
        self._selected_account = None
        if was:
            self._tell(False)
        self._changed("logout")

    def login(self) -> None:
        """(Re-)establish the brokerage session. Logging in after a logout gives a new id and
        tells listeners; while logged in it keeps the id clients hold and only ends a
        competing session's claim."""
        if not self.authenticated:
            self.rotate()
            self.authenticated = True
            self.competing = False
            self._tell(True)
            self._changed("login")
        elif self.competing:
            self.competing = False
            self._tell(None)

    def _tell(self, login: bool | None) -> None:
        change = StatusChange(self.status(), login)
        for listener in list(self._status_listeners):
            listener(change)
        for watcher in list(self._watchers):
            watcher.on_status_change(change)


class Preflights(dict[int, tuple[int, ...]]):
    """The conids a REST snapshot pre-flighted, with their fields. Every change made through
    `[conid] = fields`, `del`, `pop` or `clear` is told to `on_change` (a cluster shares the
    pre-flights); `replace` changes the whole set silently."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        super().__init__()
        self._on_change = on_change

    def __setitem__(self, conid: int, fields: tuple[int, ...]) -> None:
        changed = self.get(conid) != fields
        super().__setitem__(conid, fields)
        if changed:
            self._on_change()

    def __delitem__(self, conid: int) -> None:
        super().__delitem__(conid)
        self._on_change()

    def pop(self, conid: int, default: Any = None) -> Any:
        if conid not in self:
            return default
        fields = super().pop(conid)
        self._on_change()
        return fields

    def clear(self) -> None:
        if self:
            super().clear()
            self._on_change()

    def replace(self, preflights: Mapping[int, tuple[int, ...]]) -> None:
        super().clear()
        self.update(preflights)


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
