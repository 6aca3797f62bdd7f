"""A market listener that raises on every tick cannot stop market data, end to end: a real
server, a real WebSocket client, the failure visible in `/tickgate/status`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
from tests.conftest import StartServer, WsClient, call

AAPL = 265598
SPY = 756733
FRAMES_AFTER_FAILURES = 5


async def test_a_raising_listener_leaves_streams_flowing_and_shows_in_status(
    start: StartServer,
    http: aiohttp.ClientSession,
    ws_connect: Callable[..., Awaitable[WsClient]],
) -> None:
    server = await start(ticks_per_second=5000.0)
    raised: list[int] = []
    # Armed only after the first status read: ticks keep arriving meanwhile, and the first
    # read must see the listener registered and still healthy.
    armed: list[bool] = []

    def broken(conid: int, changed: dict[int, str], ts_ns: int) -> None:
        if armed and conid == AAPL:
            raised.append(ts_ns)
            raise RuntimeError("order 42 is corrupt")

    server.gateway.market.add_listener(broken, name="broken-listener")
    status = await call(http, "GET", server.base_url + "/tickgate/status")
    assert status["health"]["components"]["broken-listener"] == {"healthy": True, "failures": 0}
    armed.append(True)

    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    ws = await ws_connect(server.ws_base + "/v1/portal/ws")
    await ws.send('s+md+265598+{"fields":"31,84,86"}')
    await ws.send('s+md+756733+{"fields":"31,84,86"}')
    seen = {AAPL: 0, SPY: 0}
    # Keep reading until both conids streamed well past many failures of the listener.
    async with asyncio.timeout(20):
        while min(seen.values()) < FRAMES_AFTER_FAILURES or len(raised) < 10:
            frame = await ws.recv()
            if "error" not in frame and frame.get("topic") in ("md+265598", "md+756733"):
                seen[int(frame["topic"].split("+")[1])] += 1
    failures_before = len(raised)
    frame = await ws.recv_until(lambda f: f.get("topic") == "md+265598", timeout=5)
    assert "error" not in frame and len(raised) >= failures_before

    status = await call(http, "GET", server.base_url + "/tickgate/status")
    health = status["health"]
    assert health["healthy"] is False
    broken_report = health["components"]["broken-listener"]
    assert broken_report["healthy"] is False
    assert broken_report["failures"] >= failures_before
    assert broken_report["lastError"] == "RuntimeError: order 42 is corrupt"
    assert broken_report["lastFailureOn"] == f"conid {AAPL}"
    for part in ("streaming", "history", "trading", "task source"):
        assert health["components"][part] == {"healthy": True, "failures": 0}, part
    await ws.close()
