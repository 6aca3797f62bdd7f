"""What every dialect session shares: the outbox, message limits, budgets, notes, effects."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

from tickgate.dialects.budgets import ConnectionBudgets
from tickgate.dialects.context import DialectContext, Notes, Now
from tickgate.dialects.effects import Deliver, Effect, Trust
from tickgate.dialects.ratelimit import TokenBucket
from tickgate.errors import ProtocolError
from tickgate.streaming.backlog import Backlog
from tickgate.streaming.outbox import Outbox


class DialectSession(ABC):
    """One connection's dialect state and behaviour, fed inputs by an I/O pump.

    Inputs: `opened`, `receive` (a text message), `receive_binary`, `on_timer` (when
    `next_deadline_ns` has passed) and `closed`, each with the time. Outputs: frames pushed
    into `outbox`, calls on the hub and the engines, and `effects()` for the pump.
    Guarantees: no input raises for bad client input; it is answered with an error frame.
    """

    def __init__(self, context: DialectContext, outbox: Outbox, *, peer: str, now: Now) -> None:
        self.context = context
        self.outbox = outbox
        self.notes = Notes(peer)
        config = context.config
        self.limiter = TokenBucket(
            rate=config.commands_per_second, burst=config.command_burst, now_ns=now.monotonic_ns
        )
        self.budgets = ConnectionBudgets(config, now_ns=now.monotonic_ns)
        #: Set once the client has authenticated (see `established`).
        self.trusted = False
        self._effects: list[Effect] = []

    # --- outputs ---------------------------------------------------------------------------------
    def send(self, payload: bytes) -> None:
        """Queue a reliable frame (never dropped; a reader too slow for it is disconnected)."""
        self.outbox.push(payload)

    def effects(self) -> list[Effect]:
        """The effects queued since the last call, oldest first (the pump performs them)."""
        queued, self._effects = self._effects, []
        return queued

    def _effect(self, effect: Effect) -> None:
        self._effects.append(effect)

    def deliver(self, backlog: Backlog) -> None:
        """Have the pump deliver `backlog` (a snapshot too large for the outbox) as it drains."""
        self._effect(Deliver(backlog))

    def established(self) -> None:
        """The client has authenticated: the pump lifts the small pre-authentication limit."""
        if not self.trusted:
            self.trusted = True
            self._effect(Trust())

    # --- inputs ----------------------------------------------------------------------------------
    def receive(self, text: str, now: Now) -> None:
        """One client text message: size and rate limits first, then the dialect's grammar."""
        limit = self.context.config.max_frame_bytes
        size = len(text.encode())
        if size > limit:
            self.notes.note("oversized message", f"{size} bytes")
            self.error(f"message of {size} bytes exceeds the limit of {limit} bytes; ignored", None)
        elif not self.limiter.allow(now.monotonic_ns):
            config = self.context.config
            self.notes.note("rate-limited command", f"over {config.commands_per_second:g}/s")
            self.error(
                f"too many commands: at most {config.commands_per_second:g} per second "
                f"(burst {config.command_burst}); command ignored",
                None,
            )
        else:
            self.handle(text, now)

    def receive_binary(self, now: Now) -> None:
        """A binary message: no dialect has any; answered with an error frame."""
        self.notes.note("binary frame", "binary frames are not supported")
        self.error("binary frames are not supported; send text commands", None)

    def next_deadline_ns(self) -> int | None:
        """The monotonic time at which `on_timer` must next be called, or None (no timer)."""
        return None

    def on_timer(self, now: Now) -> None:  # noqa: B027 - a session without timers ignores it
        """Called once `next_deadline_ns()` has passed (possibly late, never early)."""

    # --- injected faults (`tickgate.server.faults`) -------------------------------------------
    def stall_heartbeat(self, until_ns: int | None) -> None:  # noqa: B027 - see docstring
        """Send no heartbeat, no status frame and no `tic` answer until the monotonic time
        `until_ns` (None: resume now). A dialect without them ignores it."""

    def stream_refused(self, conid: int, message: str) -> None:  # noqa: B027 - see docstring
        """Market data of `conid` can no longer be had (a relay's upstream refused its line):
        a session streaming it ends that stream and tells its client `message` in its
        dialect's words. A dialect without market data ignores it."""

    @property
    def hears_status(self) -> bool:
        """True while the session's status changes reach this client (an injected competing
        session counts the sockets it reached)."""
        return False

    @abstractmethod
    def opened(self, now: Now) -> None:
        """The socket is open (the connect burst, if the dialect has one)."""

    @abstractmethod
    def handle(self, text: str, now: Now) -> None:
        """One client message within the limits. Must not raise for bad input."""

    @abstractmethod
    def error(self, message: str, topic: str | None) -> None:
        """Send an error frame in the dialect's shape."""

    @abstractmethod
    def closed(self) -> None:
        """Release everything the session holds (idempotent)."""


#: A client's value quoted in an error message (`repr` of a str, either quote).
_QUOTED = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|'.*|".*""")
_MAX_REASON = 100


def describe_bad_command(text: str, error: ProtocolError) -> str:
    """A bounded, safe log line for a refused client message: its length and why it was
    refused, never its text (a message may carry a session token). Quoted client values in
    the error message are elided; the description is at most ~130 characters."""
    reason = _QUOTED.sub("…", error.message.split(";", 1)[0])
    if len(reason) > _MAX_REASON:
        reason = reason[:_MAX_REASON] + "…"
    return f"{len(text)} characters: {reason}"
