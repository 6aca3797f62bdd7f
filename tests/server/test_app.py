"""The composition root: every gateway it builds owns its ids, limits and state, so two gateways
in one process (as the pytest plugin and this suite run them) never see each other."""

from __future__ import annotations

import contextlib
import gc
import socket
import struct
import weakref
from pathlib import Path

import aiohttp
from tests.conftest import SERVER_EPOCH_NS, StartServer, call, make_config
from tests.server.test_ws_api import AAPL, Connect, authed

from tickgate.clock import ShiftedClock
from tickgate.server.app import LISTEN_BACKLOG, RunningServer, build_app, start_server

HMDS_BODY = {"instrument": "STK", "locations": "STK.US.MAJOR", "scanCode": "MOST_ACTIVE",
             "secType": "STK", "filters": [], "maxItems": 1}  # fmt: skip


async def history_server_id(server: RunningServer, http: aiohttp.ClientSession) -> str:
    url = f"{server.base_url}/v1/api/iserver/marketdata/history?conid={AAPL}&period=1d&bar=1h"
    return str((await call(http, "GET", url))["serverId"])


async def hmds_id(server: RunningServer, http: aiohttp.ClientSession) -> str:
    return str(
        (await call(http, "POST", f"{server.base_url}/v1/api/hmds/scanner", json=HMDS_BODY))["id"]
    )


async def watchlist_mid(server: RunningServer, http: aiohttp.ClientSession) -> str:
    url = f"{server.base_url}/v1/api/iserver/watchlists"
    return str((await call(http, "GET", url, params={"SC": "USER_WATCHLIST"}))["MID"])


async def smh_server_id(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> str:
    ws = await authed(server, http, ws_connect)
    await ws.send(f'smh+{AAPL}+{{"period":"1d","bar":"1h"}}')
    frame = await ws.recv_until(lambda f: f.get("topic") == f"smh+{AAPL}")
    await ws.close()
    return str(frame["serverId"])


async def test_two_gateways_in_one_process_number_their_answers_independently(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    first, second = await start(store="memory"), await start(store="memory")
    for ask in (history_server_id, hmds_id, watchlist_mid):
        # first, first, second: the second gateway starts its own sequence where the first did.
        a1, a2, b1 = await ask(first, http), await ask(first, http), await ask(second, http)
        assert a1 != a2 and b1 == a1, (ask.__name__, a1, a2, b1)
    a1, a2 = (
        await smh_server_id(first, http, ws_connect),
        await smh_server_id(first, http, ws_connect),
    )
    b1 = await smh_server_id(second, http, ws_connect)
    assert a1 != a2 and b1 == a1


async def test_history_slots_belong_to_one_gateway(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    busy, idle = await start(store="memory"), await start(store="memory")
    url = f"/v1/api/iserver/marketdata/history?conid={AAPL}&period=1d&bar=1h"
    with contextlib.ExitStack() as held:
        slots = busy.gateway.history_slots
        for _ in range(slots.limit):  # every slot of one gateway is taken ...
            held.enter_context(slots.take())
        refused = await call(http, "GET", busy.base_url + url, status=429)
        assert "at most 5" in refused["error"]
        # ... and the other gateway's history is untouched by it.
        assert (await call(http, "GET", idle.base_url + url))["data"]


async def test_two_gateways_keep_their_own_state(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    first, second = await start(store="memory"), await start(store="memory")
    body = {"id": "77", "name": "Only here", "rows": [{"C": AAPL}]}
    await call(http, "POST", f"{first.base_url}/v1/api/iserver/watchlist", json=body)
    lists = "/v1/api/iserver/watchlists?SC=USER_WATCHLIST"
    assert [
        w["id"] for w in (await call(http, "GET", first.base_url + lists))["data"]["user_lists"]
    ] == ["77"]
    assert (await call(http, "GET", second.base_url + lists))["data"]["user_lists"] == []
    shared = (
        "market",
        "hub",
        "history",
        "session",
        "trading",
        "accounts",
        "bus",
        "ids",
        "history_slots",
    )
    for name in shared:
        assert getattr(first.gateway, name) is not getattr(second.gateway, name), name


async def test_a_stopped_gateway_is_freed(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    """Nothing keeps a stopped gateway alive: neither aiohttp's module-wide middleware-chain
    cache nor a cancelled background task's traceback (each once did: a suite starting a
    gateway per test grew by 30 MB a test, past 10 GB)."""
    server = await start_server(
        build_app(make_config(tmp_path), clock=ShiftedClock(SERVER_EPOCH_NS))
    )
    await call(http, "GET", f"{server.base_url}/v1/api/tickle")  # builds a middleware chain
    gone = weakref.ref(server.gateway)
    await server.stop()
    del server
    gc.collect()
    assert gone() is None, "a stopped gateway is still referenced"


async def test_the_listening_socket_queues_thousands_of_connections(server: RunningServer) -> None:
    """The accept queue is LISTEN_BACKLOG long (or the kernel's cap), not aiohttp's 128."""
    site = next(iter(server.runner.sites))
    listening = site._server.sockets[0]  # type: ignore[union-attr]
    # Linux's TCP_INFO of a listening socket: tcpi_sacked (offset 28) is the accept queue's size.
    info = listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    cap = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert struct.unpack_from("I", info, 28)[0] == min(LISTEN_BACKLOG, cap)
