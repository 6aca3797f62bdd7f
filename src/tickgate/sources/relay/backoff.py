"""Reconnect delays: exponential back-off with jitter, the random source injected.

The relay's schedule: 0.5 s, doubling after each failed attempt, at most `DEFAULT_CAP_S`, each
delay scaled by a random factor in [0.5, 1). The cap is low because a relay's upstream is one
gateway, usually on the same host or LAN, that comes back within seconds (a restart): a
higher cap leaves every client without data long after it is back, while an attempt against
a closed port costs the upstream nothing and one against a refusing one a single request.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_BASE_S = 0.5
#: The longest wait between attempts: an upstream that is back is tried again within it.
DEFAULT_CAP_S = 5.0


class Backoff:
    """Delays of `base_s · 2^n` seconds (capped at `cap_s`), each scaled by a random factor
    in [0.5, 1) so that many relays dropped at once do not reconnect in step ("equal jitter").

    `random` returns floats in [0, 1) (e.g. `random.Random(seed).random`)."""

    def __init__(
        self,
        random: Callable[[], float],
        *,
        base_s: float = DEFAULT_BASE_S,
        cap_s: float = DEFAULT_CAP_S,
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError(f"need 0 < base_s <= cap_s, got {base_s}, {cap_s}")
        self._random = random
        self._base_s = base_s
        self._cap_s = cap_s
        self.attempts = 0

    def next_delay(self) -> float:
        """The delay before the next attempt (seconds); each call counts one attempt."""
        ceiling = min(self._cap_s, self._base_s * 2.0**self.attempts)
        self.attempts += 1
        return ceiling * (0.5 + self._random() / 2)

    def reset(self) -> None:
        """A connection worked: the next failure starts from `base_s` again."""
        self.attempts = 0
