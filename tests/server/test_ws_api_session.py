"""Session changes reach /v1/api/ws as `sts` frames (reference rule 22)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
from tests.conftest import WsClient
from tests.server.test_ws_api import authed

from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]


async def test_logout_sends_sts_false_ends_streams_and_login_sends_sts_true(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send('smd+265598+{"fields":["31"]}')
    await ws.recv_until(lambda f: f.get("topic") == "smd+265598")
    async with http.post(server.base_url + "/v1/api/logout"):
        pass
    sts = await ws.recv_until(lambda f: f.get("topic") == "sts")
    assert sts["args"]["authenticated"] is False
    assert server.gateway.hub.lines_in_use() == 0
    await ws.send('smd+265598+{"fields":["31"]}')
    refused = await ws.recv_until(lambda f: "error" in f)
    assert "logged out" in refused["error"]
    async with http.post(server.base_url + "/v1/api/iserver/auth/ssodh/init", json={}):
        pass
    sts = await ws.recv_until(lambda f: f.get("topic") == "sts")
    assert sts["args"]["authenticated"] is True
    await ws.send('smd+265598+{"fields":["31"]}')
    await ws.recv_until(lambda f: f.get("topic") == "smd+265598" and "31" in f)
