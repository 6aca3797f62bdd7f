"""What a relay knows about its upstream, for `/tickgate/status`, `/readyz` and `/metrics`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The states of the upstream link.
CONNECTING, UP, DOWN = "connecting", "up", "down"


@dataclass(slots=True)
class RelayStatus:
    """The upstream link's state. `reason` says why it is not serving (None while it is)."""

    upstream: str
    state: str = CONNECTING
    reason: str | None = "not connected yet"
    #: What the upstream's last `sts` (or connect burst) said about its brokerage session.
    authenticated: bool = False
    #: Whether the upstream says another session competes with it (its `sts`).
    competing: bool = False
    #: Outages: times the link went down (or could not be made at start). However many
    #: attempts fail before it is back, one outage counts once.
    reconnects: int = 0
    #: Attempts to connect (or connections) that failed, every one of each outage.
    failed_attempts: int = 0
    #: Upstream market-data lines held on the current connection.
    lines: int = 0
    #: Upstream error frames about our `smd` requests (e.g. its own line limit).
    refusals: int = 0

    @property
    def serving(self) -> bool:
        """True when upstream data flows: connected and its session authenticated."""
        return self.state == UP and self.authenticated

    def problem(self) -> str | None:
        """Why the relay cannot serve market data now, or None."""
        if self.state != UP:
            return f"upstream {self.upstream} {self.state}: {self.reason}"
        if not self.authenticated:
            return f"upstream {self.upstream} session is not authenticated"
        return None

    def up(self) -> None:
        self.state, self.reason = UP, None

    def down(self, reason: str) -> None:
        """An attempt failed or the connection ended, for `reason`."""
        if self.state != DOWN:
            self.reconnects += 1
        self.state, self.reason, self.lines = DOWN, reason, 0
        self.failed_attempts += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream,
            "state": self.state,
            "reason": self.reason,
            "authenticated": self.authenticated,
            "competing": self.competing,
            "lines": self.lines,
            "reconnects": self.reconnects,
            "failedAttempts": self.failed_attempts,
            "refusals": self.refusals,
        }
