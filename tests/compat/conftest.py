"""Settings for driving ibind, unmodified, against tickgate.

ibind's websocket-client transport waits in `select()` for up to its ping timeout (0.95 x
IBIND_WS_PING_INTERVAL, 9.5 s by default) before it notices a socket closed by `shutdown()` on an
idle connection, while ibind gives the thread only 5 s and then logs an error. A shorter ping
interval (ibind's own setting, read when ibind is imported) keeps shutdown inside that window.
"""

from __future__ import annotations

import os

import pytest
from tests.conftest import StartServer

from tickgate.clock import Clock, SystemClock
from tickgate.server.app import RunningServer

os.environ.setdefault("IBIND_WS_PING_INTERVAL", "3")


@pytest.fixture
def start(start: StartServer) -> StartServer:
    """Gateways on the machine's own clock: ibind's health check compares the server's
    heartbeat time with its own `time.time()`, as it would against the real gateway."""

    async def _start(*, clock: Clock | None = None, **changes: object) -> RunningServer:
        return await start(clock=clock or SystemClock(), **changes)

    return _start
