"""An edge whose core is away marks its market data stale the way a relay whose upstream is
away does (`sts` with `authenticated: false` on both dialects, `/iserver/auth/status`,
`/readyz`), keeps its clients' streams, and clears it when a core is back: real members on a
real nats-server."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tests.cluster.conftest import Member, StartMember, wait_for
from tests.cluster.test_roles import AAPL, md_frames, portal_stream
from tests.conftest import WsClient, call
from tests.server.test_ws_api import authed

from tickgate.server.cluster.session_sync import EDGE_SESSION

Connect = Callable[..., Awaitable[WsClient]]
#: The core is given up after three missed heartbeats (2 s each); this bounds the wait.
NOTICED_S = 30


def sts(authenticated: bool) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("topic") == "sts" and f["args"]["authenticated"] is authenticated


async def ready(http: aiohttp.ClientSession, member: Member) -> tuple[int, Any]:
    async with http.get(member.base_url + "/readyz") as response:
        return response.status, await response.json()


async def auth_status(http: aiohttp.ClientSession, member: Member) -> bool:
    status = await call(http, "POST", member.base_url + "/v1/api/iserver/auth/status")
    return bool(status["authenticated"])


async def smd_frame(ws: WsClient) -> dict[str, Any]:
    frame = await ws.recv_until(lambda f: f.get("topic") == f"smd+{AAPL}", timeout=NOTICED_S)
    assert "error" not in frame, frame
    return frame


def edge_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if m.startswith("edge: the cluster's core is")]


async def test_an_edge_marks_market_data_stale_while_the_core_is_away_and_live_when_back(
    start_member: StartMember,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "tickgate")
    core = await start_member("core")
    edge = await start_member("edge")
    await wait_for(lambda: edge.server.runner.app[EDGE_SESSION].core_present, NOTICED_S)
    # At first contact the core is heard; "again" only once it was away.
    assert edge_lines(caplog) == ["edge: the cluster's core is heard; market data is live"]
    api_ws = await authed(edge.server, http, ws_connect)
    await api_ws.send(f'smd+{AAPL}+{{"fields":["31","84"]}}')
    await smd_frame(api_ws)
    portal_ws = await portal_stream(edge, http, ws_connect, AAPL, "31")
    await md_frames(portal_ws, AAPL, 1)
    assert await auth_status(http, edge)
    assert (await ready(http, edge))[0] == 200

    await core.stop()
    await api_ws.recv_until(sts(False), timeout=NOTICED_S)
    await portal_ws.recv_until(sts(False), timeout=NOTICED_S)
    assert not await auth_status(http, edge)
    status, body = await ready(http, edge)
    assert status == 503 and any("core" in reason for reason in body["reasons"]), body

    # A core again: live again, on the streams the clients never left.
    await start_member("core")
    await api_ws.recv_until(sts(True), timeout=NOTICED_S)
    await portal_ws.recv_until(sts(True), timeout=NOTICED_S)
    await smd_frame(api_ws)
    await md_frames(portal_ws, AAPL, 1)
    assert await auth_status(http, edge)
    assert (await ready(http, edge))[0] == 200
    await wait_for(lambda: edge.server.runner.app[EDGE_SESSION].core_present, NOTICED_S)
    assert edge_lines(caplog)[-1] == "edge: the cluster's core is heard again; market data is live"


async def test_what_the_cores_clients_are_told_beyond_its_login_reaches_edge_clients(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    ws = await authed(edge.server, http, ws_connect)
    # Another session competes for the core's login (the `competing` fault does this).
    core.server.gateway.session.compete()
    told = await ws.recv_until(sts(False), timeout=NOTICED_S)
    assert told["args"]["competing"] is True
    core.server.gateway.session.login()  # the next login ends the competing session's claim
    told = await ws.recv_until(sts(True), timeout=NOTICED_S)
    assert told["args"]["competing"] is False
    assert edge.server.runner.app[EDGE_SESSION].core_present
