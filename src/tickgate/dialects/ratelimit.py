"""A token bucket for per-connection command rates. Pure: time is passed in."""

from __future__ import annotations

from tickgate.clock import NS_PER_S


class TokenBucket:
    """Allows `burst` commands at once and `rate` per second sustained."""

    def __init__(self, *, rate: float, burst: int, now_ns: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last_ns = now_ns

    def allow(self, now_ns: int) -> bool:
        """Take one token if there is one; False means the command must be refused."""
        elapsed = max(0, now_ns - self._last_ns) / NS_PER_S
        self._last_ns = max(self._last_ns, now_ns)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
