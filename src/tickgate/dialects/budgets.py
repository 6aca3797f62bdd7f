"""What one WebSocket connection may hold or ask for, whatever its command rate allows.

The command rate limit bounds how often a client speaks; these budgets bound what its commands
cost the whole server: market-data lines (beside the session's own limit, so one client cannot
take every line), price-ladder streams, and account-topic (re-)subscriptions, each of which
renders the account's whole day. Every refusal is a message the client can act on.
"""

from __future__ import annotations

from tickgate.config import Config
from tickgate.dialects.ratelimit import TokenBucket

SECONDS_PER_MINUTE = 60.0
#: The real gateway's words when a session has no market-data line left (reference §10.3).
MAX_LINES_REACHED = "Max number of market data lines reached"


def session_lines_refusal(config: Config) -> str:
    """The refusal of one more market-data line once the session streams `config.md_lines`
    conids, the same on both dialects: the real gateway's text first (clients match it), then
    the limit and, when a relay's upstream budget is what binds it, that."""
    limit = config.md_lines
    if config.source == "relay" and limit == config.upstream_md_lines:
        return f"{MAX_LINES_REACHED} ({limit}, the relay's upstream budget); unsubscribe one first"
    return f"{MAX_LINES_REACHED} ({limit}); unsubscribe one first"


class ConnectionBudgets:
    """The budgets of one connection; time is passed in (`now_ns`, monotonic)."""

    def __init__(self, config: Config, *, now_ns: int) -> None:
        self.md_lines = config.md_lines_per_connection
        self.depth_streams = config.depth_streams_per_connection
        self.account_subscriptions = config.account_subscriptions_per_minute
        self._accounts = TokenBucket(
            rate=self.account_subscriptions / SECONDS_PER_MINUTE,
            burst=self.account_subscriptions,
            now_ns=now_ns,
        )

    def md_line_refusal(self, held: int) -> str | None:
        """Why one more market-data line (beside `held`) is refused, or None to allow it."""
        if held < self.md_lines:
            return None
        return f"at most {self.md_lines} market data lines per connection; unsubscribe one first"

    def depth_refusal(self, held: int) -> str | None:
        """Why one more price-ladder stream (beside `held`) is refused, or None."""
        if held < self.depth_streams:
            return None
        return f"at most {self.depth_streams} depth streams (sbd) per connection; send ubd first"

    def account_refusal(self, now_ns: int) -> str | None:
        """Why an account-topic subscription now is refused, or None (taking one token)."""
        if self._accounts.allow(now_ns):
            return None
        return (
            f"too many account subscriptions: at most {self.account_subscriptions} per minute "
            "per connection; the current one stays active"
        )
