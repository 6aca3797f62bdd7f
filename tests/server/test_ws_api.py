"""The api dialect on /v1/api/ws, end to end over real sockets (reference §3.3-§5)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from tests.conftest import StartServer, WsClient

from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]
Frame = dict[str, Any]
AAPL, MSFT = 265598, 272093


async def session_id(server: RunningServer, http: aiohttp.ClientSession) -> str:
    async with http.post(server.base_url + "/v1/api/tickle") as response:
        body = await response.json()
    assert isinstance(body["session"], str)
    return body["session"]


async def authed(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> WsClient:
    """A socket opened exactly as ibind opens it, past its connect burst."""
    # json.dumps style, exactly as ibind builds it: a space after the colon.
    cookie = json.dumps({"session": await session_id(server, http)})
    ws = await ws_connect(server.ws_base + "/v1/api/ws", headers={"Cookie": "api=" + cookie})
    await ws.recv_until(lambda f: f.get("topic") == "sts")
    return ws


def smd(conid: int) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("topic") == f"smd+{conid}"


def is_error(frame: Frame) -> bool:
    return frame.get("topic") == "error"


async def test_cookie_session_gets_the_connect_burst_in_order(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    sid = await session_id(server, http)
    ws = await ws_connect(
        server.ws_base + "/v1/api/ws", headers={"Cookie": f'api={{"session": "{sid}"}}'}
    )
    system, act, sts = await ws.recv(), await ws.recv(), await ws.recv()
    assert system["topic"] == "system" and system["success"]
    assert act["topic"] == "act" and act["args"]["accounts"] == ["DU1234567"]
    assert sts == {"topic": "sts", "args": sts["args"]} and sts["args"]["authenticated"] is True
    hb = await ws.recv_until(lambda f: "hb" in f)
    now_ms = server.gateway.clock.host_ns() / 1e6  # the machine's time, which clients compare
    assert hb["topic"] == "system" and abs(hb["hb"] - now_ms) < 5000


async def test_raw_cookie_also_authenticates(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    sid = await session_id(server, http)
    ws = await ws_connect(server.ws_base + "/v1/api/ws", headers={"Cookie": f"api={sid}"})
    assert (await ws.recv())["topic"] == "system"


async def test_without_cookie_waits_for_session_message(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await ws_connect(server.ws_base + "/v1/api/ws", headers={"Cookie": "api=wrong"})
    assert await ws.recv() == {"message": "waiting for session"}
    await ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')
    assert await ws.recv() == {"message": "waiting for session"}
    await ws.send('{"session":"not-it"}')
    assert await ws.recv() == {"message": "waiting for session"}
    await ws.send(orjson.dumps({"session": await session_id(server, http)}).decode())
    assert (await ws.recv())["topic"] == "system"
    assert (await ws.recv())["topic"] == "act"
    assert (await ws.recv())["args"]["authenticated"] is True


async def test_smd_sends_a_full_frame_at_once_and_resending_adds_fields(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send(f'smd+{AAPL}+{{"fields":["55","84"]}}')
    first = await ws.recv_until(smd(AAPL), timeout=1)
    assert first["conid"] == AAPL and first["conidEx"] == str(AAPL)
    assert isinstance(first["_updated"], int) and first["server_id"] == first["6119"]
    assert first["55"] == "AAPL" and "84" in first and "6509" in first and "error" not in first
    await ws.send(f'smd+{AAPL}+{{"fields":[86, 7051]}}')
    full = await ws.recv_until(lambda f: smd(AAPL)(f) and "7051" in f, timeout=1)
    assert {"55", "84", "86", "7051"} <= set(full)


async def test_changes_arrive_at_most_every_500_ms(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(ticks_per_second=5000.0)
    ws = await authed(server, http, ws_connect)
    # Counted, not timed between arrivals: a loaded machine may deliver two frames back to
    # back, but every frame was sent after the smd and by the time it is read, and the tempo
    # grid allows one frame per 500 ms of that span (plus the full frame at once). Unpaced,
    # AAPL's hundreds of changes a second would be far above the bound.
    subscribed = time.monotonic()
    await ws.send(f'smd+{AAPL}+{{"fields":["31","84","86","85","88"]}}')
    frames = [await ws.recv_until(smd(AAPL))]
    while len(frames) < 5:
        frames.append(await ws.recv_until(smd(AAPL), timeout=10))
    allowed = 2 + int((time.monotonic() - subscribed) / 0.5)
    assert len(frames) <= allowed, (len(frames), allowed)


async def test_umd_ends_the_stream_without_reply(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send(f'smd+{AAPL}+{{"fields":["31","84","86"]}}')
    await ws.recv_until(smd(AAPL))
    await ws.send(f"umd+{AAPL}+{{}}")
    await _past_every_earlier_frame(ws)
    await _no_market_frame(ws, within=1.2)


async def _past_every_earlier_frame(ws: WsClient) -> None:
    """Read up to the reply to a `tic` sent now. Commands are handled in order and no frame
    leaves before one pushed earlier, so every frame pushed before the server handled what
    was sent before has been read (a frame already in flight cannot show up later)."""
    await ws.send("tic")
    await ws.recv_until(lambda f: f.get("topic") == "tic", timeout=10)


async def _no_market_frame(ws: WsClient, within: float) -> None:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await ws.recv(timeout=left)
        except TimeoutError:
            return
        assert not frame.get("topic", "").startswith("smd+"), frame


async def test_market_data_lines_are_shared_with_the_portal_dialect(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(md_lines=1)
    async with http.get(server.base_url + "/v1/api/iserver/accounts") as response:
        assert response.status == 200
    portal = await ws_connect(server.ws_base + "/v1/portal/ws")
    await portal.send(f's+md+{MSFT}+{{"fields":"31"}}')
    await portal.recv_until(lambda f: f.get("topic") == f"md+{MSFT}")
    ws = await authed(server, http, ws_connect)
    await ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')
    error = await ws.recv_until(is_error)
    assert "market data lines" in error["error"] and error["request"] == f"smd+{AAPL}"
    await _no_market_frame(ws, within=1.0)
    await ws.send(f'smd+{MSFT}+{{"fields":["31"]}}')  # a conid already streamed costs no line
    assert (await ws.recv_until(smd(MSFT)))["conid"] == MSFT


async def test_smd_expires_unless_renewed(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(smd_expiry_seconds=1, ticks_per_second=5000.0)
    ws = await authed(server, http, ws_connect)
    sent = time.monotonic()  # the server reads the smd, and starts its 1 s, after this
    await ws.send(f'smd+{AAPL}+{{"fields":["31","84","86"]}}')
    await ws.recv_until(smd(AAPL))
    # The line is in use until its 1 s runs out; on a loaded machine the first frame may only
    # be read after that, so the count is checked only while the 1 s cannot have passed.
    in_use, elapsed = server.gateway.hub.lines_in_use(), time.monotonic() - sent
    assert in_use == 1 or elapsed >= 1.0, (in_use, elapsed)
    async with asyncio.timeout(10):
        while server.gateway.hub.lines_in_use():
            await asyncio.sleep(0.01)
    assert time.monotonic() - sent >= 1.0
    await _past_every_earlier_frame(ws)
    await _no_market_frame(ws, within=1.0)
    await ws.send(f'smd+{AAPL}+{{"fields":["31"]}}')  # what ibind does after its expiry
    assert (await ws.recv_until(smd(AAPL)))["conid"] == AAPL


async def test_unknown_conid_and_bad_commands_get_error_frames_and_keep_the_socket(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send('smd+99999999+{"fields":["31"]}')
    assert (await ws.recv_until(is_error))["error"] == "Invalid conid 99999999"
    await ws.send("hello")
    assert "Unknown topic" in (await ws.recv_until(is_error))["error"]
    await ws.send('smd+1+{"fields":["x"]}')
    assert (await ws.recv_until(is_error))["request"] == "smd+1"
    await ws.send("tic")
    assert (await ws.recv_until(lambda f: f.get("topic") == "tic"))["alive"] is True


async def test_tic_returns_a_fresh_last_accessed_each_time(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    sid = server.gateway.session.id
    seen = []
    for _ in range(3):
        await ws.send("tic")
        frame = await ws.recv_until(lambda f: f.get("topic") == "tic")
        assert frame["id"] == sid
        seen.append(frame["lastAccessed"])
    assert seen == sorted(set(seen))


async def test_ech_is_echoed_as_text(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send("ech+hb")
    async with asyncio.timeout(3):
        while True:
            message = await ws.ws.receive()
            if message.data == "ech+hb":
                break


async def test_heartbeat_follows_the_configured_interval(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(heartbeat_seconds=0.2)
    ws = await authed(server, http, ws_connect)
    beats = [(await ws.recv_until(lambda f: "hb" in f))["hb"] for _ in range(3)]
    assert beats == sorted(beats) and beats[-1] - beats[0] >= 300


async def test_price_ladder_rows_around_the_quote(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send(f"sbd+DU1234567+{AAPL}+NASDAQ")
    frame = await ws.recv_until(
        lambda f: f.get("topic") == f"sbd+DU1234567+{AAPL}+NASDAQ" and bool(f["data"]), timeout=3
    )
    focus = [row for row in frame["data"] if row["focus"] == 1]
    assert len(focus) == 1 and "bid" in focus[0]
    await ws.send("ubd+DU1234567")


@pytest.mark.parametrize(
    ("subscribe", "command", "result"),
    [
        ("ssd+DU1234567+{}", "usd+DU1234567", "unsubscribed from summary"),
        ("sld+DU1234567+{}", "uld+DU1234567+{}", "unsubscribed from ledger"),
    ],
)
async def test_summary_and_ledger_unsubscribes_are_confirmed_only_when_subscribed(
    server: RunningServer,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
    subscribe: str,
    command: str,
    result: str,
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send(command)
    refused = await ws.recv_until(is_error)
    assert refused["error"] == f"not subscribed to s{command[1:3]}+DU1234567"
    await ws.send(subscribe)
    await ws.recv_until(lambda f: f.get("topic") == f"s{command[1:3]}+DU1234567")
    await ws.send(command)
    assert (await ws.recv_until(lambda f: "result" in f))["result"] == result


async def test_history_bars_once_then_umh_is_confirmed(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send(f'smh+{AAPL}+{{"period":"1d","bar":"5min","outside_rth":true,"source":"trades"}}')
    frame = await ws.recv_until(lambda f: f.get("topic") == f"smh+{AAPL}")
    assert frame["serverId"] and frame["symbol"] == "AAPL" and frame["data"]
    assert {"o", "c", "h", "l", "v", "t"} <= set(frame["data"][0])
    await ws.send(f"umh+{frame['serverId']}")
    assert await ws.recv_until(lambda f: "message" in f) == {
        "message": f"Unsubscribed {frame['serverId']}"
    }


async def test_at_most_five_history_requests_at_once(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    for _ in range(5):
        await ws.send(f"smh+{AAPL}+{{}}")
        frame = await ws.recv_until(lambda f: f.get("topic") == f"smh+{AAPL}")
    await ws.send(f"smh+{AAPL}")
    assert "at most 5" in (await ws.recv_until(is_error))["error"]
    await ws.send(f"umh+{frame['serverId']}")
    await ws.recv_until(lambda f: "message" in f)
    await ws.send(f'smh+{AAPL}+{{"period":"1d","bar":"7min"}}')
    assert "7min" in (await ws.recv_until(is_error))["error"]


async def test_smd_is_confirmed_by_a_frame_even_when_no_field_has_a_value(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send('smd+8314+{"fields":["7308","7633"]}')  # option greeks on a stock: never set
    frame = await ws.recv_until(smd(8314), timeout=2)
    assert frame["conid"] == 8314 and "_updated" in frame and "7308" not in frame
