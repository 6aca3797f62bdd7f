"""Fault injection (`/tickgate/faults/...`), each fault observed as a client sees it."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, StartServer, WsClient, call

from tickgate.clock import FakeClock
from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]
Frame = dict[str, Any]
AAPL, MSFT = 265598, 272093
SNAPSHOT = "/v1/api/iserver/marketdata/snapshot?conids=265598&fields=31"


async def api_socket(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> WsClient:
    """A `/v1/api/ws` socket authenticated by its `api` cookie, past its connect burst."""
    body = await call(http, "POST", server.base_url + "/v1/api/tickle")
    cookie = json.dumps({"session": body["session"]})
    ws = await ws_connect(server.ws_base + "/v1/api/ws", headers={"Cookie": "api=" + cookie})
    await ws.recv_until(lambda f: f.get("topic") == "sts")
    return ws


def is_topic(topic: str) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("topic") == topic


async def inject(
    http: aiohttp.ClientSession, server: RunningServer, kind: str, expect: int = 200, **body: Any
) -> Any:
    """POST `body` to `/tickgate/faults/KIND`; asserts the answer's status is `expect`."""
    return await call(
        http, "POST", f"{server.base_url}/tickgate/faults/{kind}", json=body, status=expect
    )


async def faults(http: aiohttp.ClientSession, server: RunningServer) -> list[Frame]:
    listed = (await call(http, "GET", server.base_url + "/tickgate/faults"))["faults"]
    status = await call(http, "GET", server.base_url + "/tickgate/status")
    assert status["faults"] == listed
    assert isinstance(listed, list)
    return listed


# --- dropped sockets ------------------------------------------------------------------------------
async def test_drop_closes_every_socket_of_both_dialects_with_the_chosen_code(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    api = await api_socket(server, http, ws_connect)
    portal = await ws_connect(server.ws_base + "/v1/portal/ws")
    await portal.send(f's+md+{AAPL}+{{"fields":"31"}}')
    await portal.recv_until(is_topic(f"md+{AAPL}"))
    answer = await inject(http, server, "drop", code=1011, reason="upstream gone")
    assert answer == {"dropped": 2, "code": 1011}
    for client in (api, portal):
        message = await _closing(client)
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert message.data == 1011 and message.extra == "upstream gone"
    await _wait_for(lambda: not server.gateway.connections)


async def test_drop_without_a_close_frame_resets_the_connection(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    api = await api_socket(server, http, ws_connect)
    assert (await inject(http, server, "drop", abort=True))["dropped"] == 1
    message = await _closing(api)
    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    await _wait_for(lambda: not server.gateway.connections)
    again = await api_socket(server, http, ws_connect)  # a reconnecting client gets back in
    await again.send("tic")
    assert (await again.recv_until(is_topic("tic")))["alive"] is True


async def _closing(client: WsClient) -> aiohttp.WSMessage:
    """The first non-text message (the close), skipping frames queued before it."""
    while True:
        message = await client.ws.receive(timeout=5.0)
        if message.type is not aiohttp.WSMsgType.TEXT:
            return message


async def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"code": 999}, "code must be between 1000 and 4999"),
        ({"code": 1005}, "code must be one of"),
        ({"code": "1001"}, "code must be an integer"),
        ({"abort": True, "code": 1001}, "either abort or code"),
        ({"abort": "yes"}, "abort must be true or false"),
        ({"cod": 1001}, "unknown key(s) 'cod'"),
    ],
)
async def test_drop_refuses_bad_input(
    server: RunningServer, http: aiohttp.ClientSession, body: Frame, error: str
) -> None:
    answer = await inject(http, server, "drop", expect=400, **body)
    assert error in answer["error"]


# --- the brokerage session ------------------------------------------------------------------------
async def test_logout_is_seen_on_the_socket_and_in_rest_until_a_login(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    api = await api_socket(server, http, ws_connect)
    assert await inject(http, server, "logout") == {"authenticated": False}
    sts = await api.recv_until(is_topic("sts"))
    assert sts["args"]["authenticated"] is False
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts", status=401)
    await inject(http, server, "logout", expect=409)
    await call(http, "POST", server.base_url + "/v1/api/iserver/auth/ssodh/init")
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")


async def test_a_timed_logout_logs_in_again_when_its_time_runs_out(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock(SERVER_EPOCH_NS)
    server = await start(clock=clock)
    fault = await inject(http, server, "logout", seconds=30)
    assert fault["kind"] == "logout" and fault["secondsLeft"] == 30
    clock.advance(seconds=29)
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts", status=401)
    assert (await faults(http, server))[0]["secondsLeft"] == 1
    clock.advance(seconds=1)
    assert await faults(http, server) == []
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")


async def test_competing_sends_the_real_status_frame_to_every_socket_until_a_login(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    first = await api_socket(server, http, ws_connect)
    second = await api_socket(server, http, ws_connect)
    portal = await ws_connect(server.ws_base + "/v1/portal/ws")
    await portal.send("s+md+265598")  # the socket is in use: it hears the session's status
    assert (await inject(http, server, "competing"))["sockets"] == 3
    for client in (first, second, portal):
        sts = await client.recv_until(is_topic("sts"))
        assert sts["args"]["competing"] is True and sts["args"]["authenticated"] is False
    status = await call(http, "GET", server.base_url + "/v1/api/iserver/auth/status")
    assert (status["authenticated"], status["competing"]) == (False, True)
    # Logging in again takes the session back; every socket is told, nothing else changed.
    await call(http, "POST", server.base_url + "/v1/api/iserver/auth/ssodh/init")
    for client in (first, second, portal):
        sts = await client.recv_until(is_topic("sts"))
        assert sts["args"]["competing"] is False and sts["args"]["authenticated"] is True
    status = await call(http, "GET", server.base_url + "/v1/api/iserver/auth/status")
    assert (status["authenticated"], status["competing"]) == (True, False)
    await inject(http, server, "competing", expect=400, now=True)


# --- smd expiry -----------------------------------------------------------------------------------
async def test_expire_ends_every_smd_as_its_expiry_would(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    api = await api_socket(server, http, ws_connect)
    for conid in (AAPL, MSFT):
        await api.send(f'smd+{conid}+{{"fields":["31"]}}')
        await api.recv_until(is_topic(f"smd+{conid}"))
    assert server.gateway.hub.lines_in_use() == 2
    assert (await inject(http, server, "expire"))["expired"] == 2
    await _wait_for(lambda: server.gateway.hub.lines_in_use() == 0)
    await api.send(f'smd+{AAPL}+{{"fields":["31"]}}')  # renewing brings it back
    assert (await api.recv_until(is_topic(f"smd+{AAPL}")))["conid"] == AAPL


# --- REST answers ---------------------------------------------------------------------------------
async def test_a_rest_fault_answers_429_for_its_calls_then_ends(
    server: RunningServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tickgate.faults")
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    fault = await inject(
        http, server, "rest", path="/iserver/marketdata/snapshot", status=429, calls=2
    )
    assert fault["callsLeft"] == 2 and fault["retryAfter"] == 1
    for left in (1, 0):
        async with http.get(server.base_url + SNAPSHOT) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "1"
            assert await response.json() == {"error": "Too many requests"}
        listed = await faults(http, server)
        assert [f["callsLeft"] for f in listed] == ([left] if left else [])
    await call(http, "GET", server.base_url + SNAPSHOT)
    await call(http, "GET", server.base_url + "/v1/portal/iserver/accounts")  # other routes pass
    injected = [r for r in caplog.records if "injected" in r.getMessage()]
    ended = [r for r in caplog.records if "ended" in r.getMessage()]
    assert len(injected) == 1 and len(ended) == 1 and "calls are used up" in ended[0].getMessage()


async def test_a_rest_fault_on_every_route_lasts_its_seconds(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock(SERVER_EPOCH_NS)
    server = await start(clock=clock)
    await inject(http, server, "rest", path="*", status=503, seconds=10)
    await call(http, "GET", server.base_url + "/v1/portal/iserver/accounts", status=503)
    body = await call(http, "POST", server.base_url + "/v1/api/tickle", status=503)
    assert body == {"error": "Service Unavailable"}
    await call(http, "GET", server.base_url + "/tickgate/status")  # control routes stay open
    clock.advance(seconds=10)
    await call(http, "POST", server.base_url + "/v1/api/tickle")
    assert await faults(http, server) == []


async def test_a_rest_fault_is_cleared_by_a_call(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    fault = await inject(http, server, "rest", path="/v1/api/iserver/accounts", status=500)
    assert fault["path"] == "/iserver/accounts" and fault["callsLeft"] is None
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts", status=500)
    url = f"{server.base_url}/tickgate/faults/{fault['id']}"
    assert await call(http, "DELETE", url) == {"cleared": [fault["id"]]}
    await call(http, "DELETE", url, status=404)
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    await inject(http, server, "rest", status=500)
    await inject(http, server, "rest", status=429, retryAfter=30)
    cleared = await inject(http, server, "clear")
    assert len(cleared["cleared"]) == 2 and await faults(http, server) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": 404}, "status must be one of 429, 500, 503"),
        ({"status": 503, "calls": 0}, "calls must be between 1"),
        ({"status": 503, "seconds": -1}, "seconds must be between 0"),
        ({"status": 503, "seconds": 0}, "seconds must be more than 0"),
        ({"status": 503, "retryAfter": 5}, "retryAfter goes with status 429"),
        ({"status": 503, "path": "iserver/accounts"}, "path must be an API route"),
        ({"path": "/tickle"}, "status must be one of"),
    ],
)
async def test_a_rest_fault_refuses_bad_input(
    server: RunningServer, http: aiohttp.ClientSession, body: Frame, error: str
) -> None:
    answer = await inject(http, server, "rest", expect=400, **body)
    assert error in answer["error"]
    assert await faults(http, server) == []


async def test_a_bad_body_is_a_400(server: RunningServer, http: aiohttp.ClientSession) -> None:
    async with http.post(server.base_url + "/tickgate/faults/rest", data=b"[1]") as response:
        assert response.status == 400
        assert "JSON object" in (await response.json())["error"]


# --- heartbeat stall ------------------------------------------------------------------------------
async def test_a_stalled_heartbeat_sends_no_hb_nor_tic_answer_until_cleared(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(heartbeat_seconds=0.05)
    api = await api_socket(server, http, ws_connect)
    await api.recv_until(lambda f: "hb" in f)
    fault = await inject(http, server, "heartbeat", seconds=600)
    await _drain(api)
    await api.send("tic")
    await api.no_frame(within=0.3)
    await call(http, "DELETE", f"{server.base_url}/tickgate/faults/{fault['id']}")
    await api.recv_until(lambda f: "hb" in f)
    await api.send("tic")
    await api.recv_until(is_topic("tic"))


async def test_a_stalled_heartbeat_resumes_when_its_time_runs_out(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(heartbeat_seconds=0.05)
    api = await api_socket(server, http, ws_connect)
    stalled = time.monotonic()
    await inject(http, server, "heartbeat", seconds=0.4)
    await _drain(api)
    await api.recv_until(lambda f: "hb" in f)
    assert time.monotonic() - stalled >= 0.35
    await inject(http, server, "heartbeat", expect=400)


async def _drain(client: WsClient) -> None:
    """Read what is already on its way (at most a turn of frames)."""
    while True:
        try:
            await client.recv(timeout=0.1)
        except TimeoutError:
            return


# --- latency --------------------------------------------------------------------------------------
async def test_rest_latency_delays_the_chosen_route_for_its_calls(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    fault = await inject(http, server, "latency", path="/tickle", ms=300, calls=1)
    assert fault["ms"] == 300 and fault["kind"] == "rest-latency"
    await call(http, "GET", server.base_url + "/v1/api/iserver/auth/status")
    # Another route is not delayed: the fault's one call is still there to use. (Told by the
    # count, not by timing the call, which a loaded machine can make as slow as a delay.)
    assert [f["callsLeft"] for f in await faults(http, server)] == [1]
    began = time.monotonic()
    await call(http, "POST", server.base_url + "/v1/api/tickle")
    assert time.monotonic() - began >= 0.3
    assert await faults(http, server) == []  # its one call is used


async def test_websocket_latency_delays_frames_in_order_and_ends_when_cleared(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    api = await api_socket(server, http, ws_connect)
    await _drain(api)
    fault = await inject(http, server, "latency", target="ws", minMs=200, maxMs=400, seed=3)
    assert fault == {
        "id": fault["id"],
        "kind": "ws-latency",
        "minMs": 200,
        "maxMs": 400,
        "seed": 3,
        "callsLeft": None,
        "secondsLeft": None,
    }
    late = await api_socket(server, http, ws_connect)  # opened during the fault: delayed too
    for client in (api, late):
        began = time.monotonic()
        for _ in range(5):
            await client.send("tic")
        answers = [await client.recv_until(is_topic("tic")) for _ in range(5)]
        assert time.monotonic() - began >= 0.2
        stamps = [answer["lastAccessed"] for answer in answers]  # strictly increasing per tic
        assert stamps == sorted(stamps) and len(set(stamps)) == 5
    await inject(http, server, "latency", expect=409, target="ws", ms=10)
    await inject(http, server, "clear")
    # Cleared, a fault delays nothing more: a 60 s delay is far beyond the 15 s this waits (a
    # bound no scheduling delay reaches), unlike a bound near the 200-400 ms above.
    await inject(http, server, "latency", target="ws", ms=60_000)
    await inject(http, server, "clear")
    await api.send("tic")
    await api.recv_until(is_topic("tic"), timeout=15)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, 'latency needs {"ms": N}'),
        ({"ms": -1}, "ms must be between 0"),
        ({"ms": 5, "minMs": 1}, "either ms, or minMs and maxMs"),
        ({"minMs": 9, "maxMs": 3}, "minMs (9) must not exceed maxMs (3)"),
        ({"target": "udp", "ms": 5}, "target must be rest or ws"),
        ({"target": "ws", "ms": 5, "calls": 3}, "path and calls go with target rest"),
    ],
)
async def test_latency_refuses_bad_input(
    server: RunningServer, http: aiohttp.ClientSession, body: Frame, error: str
) -> None:
    answer = await inject(http, server, "latency", expect=400, **body)
    assert error in answer["error"]
