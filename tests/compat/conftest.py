"""Settings for driving ibind, unmodified, against tickgate.

ibind's websocket-client transport waits in `select()` for up to its ping timeout (0.95 x
IBIND_WS_PING_INTERVAL, 9.5 s by default) before it notices a socket closed by `shutdown()` on an
idle connection, while ibind gives the thread only 5 s and then logs an error. A shorter ping
interval (ibind's own setting, read when ibind is imported) keeps shutdown inside that window.

These gateways run on the suite's shifted clock like every other test server, so no session
boundary falls inside a test whatever the hour or weekday: ibind's health check compares the
`hb` heartbeat with its own `time.time()`, and heartbeats carry the machine's time
(`Clock.host_ns`), not the gateway's simulated one.
"""

from __future__ import annotations

import os

os.environ.setdefault("IBIND_WS_PING_INTERVAL", "3")
