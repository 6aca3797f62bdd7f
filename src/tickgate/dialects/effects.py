"""What a dialect session asks its I/O shell to do, beyond pushing frames into the outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tickgate.streaming.backlog import Backlog


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket with `code` and `reason` (frames already queued go first)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Trust:
    """The client has authenticated: lift the small message limit of a fresh socket."""


@dataclass(frozen=True, slots=True)
class Deliver:
    """Pump `backlog` (a snapshot too large for the outbox) each time the transport drained."""

    backlog: Backlog


@dataclass(frozen=True, slots=True)
class Offload:
    """Run `work` off the event loop, then call `done` on the loop with its result.

    `work` must not touch the session; exceptions it raises are passed to `done` instead of a
    result, so the session answers them in its dialect."""

    name: str
    work: Callable[[], Any]
    done: Callable[[Any], None]


Effect = Close | Trust | Deliver | Offload
