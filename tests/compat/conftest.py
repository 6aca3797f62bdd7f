"""Settings for driving ibind, unmodified, against tickgate.

ibind's websocket-client transport waits in `select()` for up to its ping timeout (0.95 x
IBIND_WS_PING_INTERVAL, 9.5 s by default) before it notices a socket closed by `shutdown()` on an
idle connection, while ibind gives the thread only 5 s and then logs an error. A shorter ping
interval (ibind's own setting, read when ibind is imported) keeps shutdown inside that window.

ibind also bounds its start (until AUTHENTICATED), its thread joins and its closes by
`IBIND_WS_TIMEOUT`, 5 s. On a loaded 2-core machine a TLS handshake and the first frames can
take longer than that, so the tests give it 30 s: a hang guard, not a speed check. Only the
connection bound is raised (ibind reads `var.IBIND_WS_TIMEOUT` when a client is built); the
same setting taken from the environment would also become the pause before a reconnect,
which the dropped-socket test waits out.

These gateways run on the suite's shifted clock like every other test server, so no session
boundary falls inside a test whatever the hour or weekday: ibind's health check compares the
`hb` heartbeat with its own `time.time()`, and heartbeats carry the machine's time
(`Clock.host_ns`), not the gateway's simulated one.
"""

from __future__ import annotations

import os

os.environ.setdefault("IBIND_WS_PING_INTERVAL", "3")

import ibind.var  # after the ping setting, which ibind reads on import

ibind.var.IBIND_WS_TIMEOUT = 30.0
