"""The seed's WebSocket dialect on /v1/portal/ws, end to end over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from tests.conftest import StartServer, WsClient
from tests.server.fixed_market import FixedMarket, start_fixed

from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]
AAPL = 265598


async def primed_socket(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> WsClient:
    async with http.get(server.base_url + "/v1/api/iserver/accounts") as response:
        assert response.status == 200
    return await ws_connect(server.ws_base + "/v1/portal/ws")


def is_md(conid: int) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("topic") == f"md+{conid}" and "error" not in frame


@pytest.mark.parametrize("tls", [False, True])
async def test_subscribe_receive_and_unsubscribe(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, tls: bool
) -> None:
    server = await start(tls=tls, ticks_per_second=2000.0)
    ws = await primed_socket(server, http, ws_connect)
    await ws.send('s+md+756733+{"fields":"31,84,86"}')
    frame = await ws.recv_until(is_md(756733))
    assert set(frame) - {"topic"} <= {"31", "84", "86"} and len(frame) > 1
    # Prices are JSON numbers; only a last price shown with its C (prior close) or H (halted)
    # prefix stays text.
    for key, value in frame.items():
        if key != "topic":
            assert isinstance(value, float | int) or value[0] in "CH", (key, value)
    await ws.send("u+md+756733")
    # Whatever was in flight may still arrive; after it, the stream is silent.
    await ws.send("s+md+99999999+{}")
    await ws.recv_until(lambda f: "error" in f)
    await ws.no_frame(0.5)


async def test_snapshot_sends_everything_known_at_once(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await primed_socket(server, http, ws_connect)
    await ws.send('s+md+265598+{"tempo":60000,"snapshot":true,"fields":"55,84,86,7051"}')
    frame = await ws.recv(timeout=2)
    assert frame["topic"] == "md+265598"
    assert frame["55"] == "AAPL" and frame["7051"] and float(frame["84"]) < float(frame["86"])


async def test_prices_and_sizes_are_json_numbers_with_the_exact_value(
    tmp_path: Path, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    market = FixedMarket({AAPL: ("189.50", "189.52", "189.50")}, size=1300)
    server = await start_fixed(tmp_path, market)
    try:
        ws = await primed_socket(server, http, ws_connect)
        await ws.send('s+md+265598+{"snapshot":true,"fields":"31,55,84,85,86,88"}')
        message = await asyncio.wait_for(ws.ws.receive(), 30)
        assert message.data == (
            '{"31":189.5,"55":"AAPL","84":189.5,"85":1300,"86":189.52,"88":1300,'
            '"topic":"md+265598"}'
        )
        # The same values as the REST snapshot's text, as decimals.
        url = server.base_url + "/v1/api/iserver/marketdata/snapshot?conids=265598&fields=84,86"
        for _ in range(2):  # the first call is IBKR's pre-flight
            async with http.get(url) as response:
                rest = (await response.json())[0]
        frame = orjson.loads(message.data)
        assert [rest["84"], rest["86"]] == ["189.50", "189.52"]
        assert [Decimal(repr(frame[f])) for f in ("84", "86")] == [
            Decimal(rest["84"]),
            Decimal(rest["86"]),
        ]
    finally:
        await server.stop()


async def frames_within(
    ws: WsClient, predicate: Callable[[dict[str, Any]], bool], window_s: float
) -> int:
    """How many frames satisfying `predicate` arrive in `window_s` seconds from the first one."""
    loop_time = asyncio.get_running_loop().time
    await ws.recv_until(predicate, timeout=5)
    end, count = loop_time() + window_s, 1
    while (left := end - loop_time()) > 0:
        try:
            await ws.recv_until(predicate, timeout=left)
        except TimeoutError:
            break
        count += 1
    return count


async def test_tempo_merges_changes_into_one_frame_per_interval(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(ticks_per_second=5000.0)
    ws = await primed_socket(server, http, ws_connect)
    await ws.send('s+md+756733+{"tempo":400,"fields":["84","86","31","85","88"]}')
    # Count frames over a window rather than timing gaps between them: on a busy machine one
    # frame can leave late and the next on time, which shortens a gap without any merging
    # having failed. Lateness only ever removes frames from a window, so the count is a bound
    # that load cannot break, while an unmerged stream (hundreds of SPY changes) breaks it.
    window_s, tempo_s = 2.0, 0.4
    count = await frames_within(ws, is_md(756733), window_s)
    assert 2 <= count <= window_s / tempo_s + 2, count


async def test_fields_list_and_string_forms_and_duplicate_subscribe_updates(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await primed_socket(server, http, ws_connect)
    await ws.send('s+md+265598+{"snapshot":true,"fields":[55]}')
    assert (await ws.recv_until(is_md(265598))) == {"55": "AAPL", "topic": "md+265598"}
    await ws.send('s+md+265598+{"snapshot":true,"fields":"7051"}')
    frame = await ws.recv_until(lambda f: is_md(265598)(f) and "7051" in f)
    assert set(frame) == {"7051", "topic"}
    assert server.gateway.hub.lines_in_use() == 1


async def test_streaming_before_priming_is_refused(
    server: RunningServer, ws_connect: Connect
) -> None:
    ws = await ws_connect(server.ws_base + "/v1/portal/ws")
    await ws.send("s+md+265598")
    frame = await ws.recv()
    assert frame["topic"] == "md+265598" and "/iserver/accounts" in frame["error"]


BAD_INPUTS = [
    ("s+foo+1", None, "unknown topic"),
    ('s+md+265598+{"tempo":', "md+265598", "JSON"),
    ("s+md+12345", "md+12345", "Invalid conid 12345"),
    ('s+md+265598+{"fields":"31,99999"}', "md+265598", "99999"),
    ('s+md+265598+{"tempo":-5}', "md+265598", "tempo"),
    ('s+md+265598+{"tempo":99999999999}', "md+265598", "tempo"),
    ("u+md+265598", "md+265598", "not subscribed"),
]


@pytest.mark.parametrize(("command", "topic", "needle"), BAD_INPUTS)
async def test_bad_input_gets_an_error_frame_and_the_socket_stays_usable(
    server: RunningServer,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
    command: str,
    topic: str | None,
    needle: str,
) -> None:
    ws = await primed_socket(server, http, ws_connect)
    await ws.send(command)
    frame = await ws.recv()
    assert needle.lower() in frame["error"].lower()
    assert frame.get("topic") == topic
    await ws.send('s+md+265598+{"snapshot":true,"fields":"55"}')
    assert (await ws.recv_until(is_md(265598)))["55"] == "AAPL"


async def test_oversized_frame_is_refused_with_an_error(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(max_frame_bytes=256)
    ws = await primed_socket(server, http, ws_connect)
    await ws.send("s+md+265598+" + "{" + " " * 400 + "}")
    assert "exceeds the limit of 256 bytes" in (await ws.recv())["error"]
    await ws.send('s+md+265598+{"snapshot":true,"fields":"55"}')
    assert (await ws.recv_until(is_md(265598)))["55"] == "AAPL"


async def test_market_data_lines_limit(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(md_lines=2)
    ws = await primed_socket(server, http, ws_connect)
    other = await ws_connect(server.ws_base + "/v1/portal/ws")

    async def subscribe(client: WsClient, conid: int) -> dict[str, Any]:
        # A snapshot answers every accepted subscription, so each step is confirmed in order.
        await client.send(f's+md+{conid}+{{"tempo":60000,"snapshot":true,"fields":"55"}}')
        return await client.recv_until(lambda f: f.get("topic") == f"md+{conid}")

    assert "55" in await subscribe(ws, 265598)
    assert "55" in await subscribe(other, 8314)
    assert "55" in await subscribe(other, 265598)  # already streamed in the session: no new line
    refused = await subscribe(ws, 272093)
    assert refused["error"].startswith("Max number of market data lines reached (2)")
    assert server.gateway.hub.lines_in_use() == 2
    await ws.send("u+md+265598")
    await other.send("u+md+8314")
    await other.send("u+md+265598")
    await other.close()
    assert (await subscribe(ws, 272093))["55"] == "MSFT"


async def test_command_flood_is_rate_limited(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(commands_per_second=1.0, command_burst=5)
    ws = await primed_socket(server, http, ws_connect)
    for _ in range(8):
        await ws.send('s+md+265598+{"tempo":60000}')
    frame = await ws.recv_until(lambda f: "error" in f)
    assert "too many commands" in frame["error"]


async def test_logout_ends_market_data_with_an_error_frame(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await primed_socket(server, http, ws_connect)
    await ws.send('s+md+265598+{"snapshot":true,"fields":"55"}')
    await ws.recv_until(is_md(265598))
    async with http.post(server.base_url + "/v1/api/logout"):
        pass
    frame = await ws.recv_until(lambda f: "error" in f)
    assert "logged out" in frame["error"] and "topic" not in frame
    assert server.gateway.hub.lines_in_use() == 0
