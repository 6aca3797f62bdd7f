"""Databento DBN and CSV tick files replay through both dialects into paper-trading fills."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import databento_dbn
import pytest
from tests.conftest import WsClient, call
from tests.server.test_replay import CRAWL, Servers, finished, replay_state
from tests.sources.replay_files import START_NS, mbp1, trade, write_dbn

from tickgate.errors import ConfigError
from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]
ACCT = "DU1234567"
AAPL, MSFT = 265598, 272093
SECOND = 1_000_000_000


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    made = Servers(tmp_path)
    yield made
    for server in made.running:
        await server.stop()


async def streams(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect, conid: int
) -> tuple[WsClient, WsClient]:
    """A seed-dialect and a current-dialect subscription to `conid`'s ask."""
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    legacy = await ws_connect(server.ws_base + "/v1/portal/ws")
    await legacy.send(f's+md+{conid}+{{"fields":"86"}}')
    session = (await call(http, "POST", server.base_url + "/v1/api/tickle"))["session"]
    current = await ws_connect(
        server.ws_base + "/v1/api/ws", headers={"Cookie": f'api={{"session":"{session}"}}'}
    )
    await current.recv_until(lambda f: f.get("topic") == "sts")
    await current.send(f'smd+{conid}+{{"fields":["86"]}}')
    return legacy, current


async def buy_limit(
    http: aiohttp.ClientSession, server: RunningServer, conid: int, price: float
) -> int:
    order = {
        "conid": conid,
        "side": "BUY",
        "orderType": "LMT",
        "price": price,
        "quantity": 10,
        "tif": "DAY",
    }
    url = f"{server.base_url}/v1/api/iserver/account/{ACCT}/orders"
    ack = await call(http, "POST", url, json={"orders": [order]})
    return int(ack[0]["order_id"])


async def replay_into_a_fill(
    server: RunningServer,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
    conid: int,
    *,
    limit: float,
    fill_ask: str,
) -> dict[str, Any]:
    """Place a resting buy below the first replayed ask, play the rest, return its status."""
    legacy, current = await streams(server, http, ws_connect, conid)
    order_id = await buy_limit(http, server, conid, limit)
    status_url = f"{server.base_url}/v1/api/iserver/account/order/status/{order_id}"
    assert (await call(http, "GET", status_url))["order_status"] == "Submitted"
    await call(http, "POST", server.base_url + "/tickgate/replay/speed", json={"speed": "max"})
    await legacy.recv_until(lambda f: f.get("86") == float(fill_ask))  # a number there
    await legacy.recv_until(lambda f: f.get("topic") == "replay+end")
    # Today's dialect batches market data every 500 ms, so the end bulletin may come first.
    wanted = {"ask", "end"}
    while wanted:
        frame = await current.recv()
        if frame.get("topic") == f"smd+{conid}" and frame.get("86") == fill_ask:
            wanted.discard("ask")
        elif frame.get("topic") == "blt":
            assert frame["args"]["id"] == "tickgate-replay-end"
            wanted.discard("end")
    await finished(http, server)
    return dict(await call(http, "GET", status_url))


@pytest.mark.parametrize("name", ["mbp1.dbn", "mbp1.dbn.zst"])
async def test_an_mbp1_file_fills_a_resting_limit_at_the_replayed_ask(
    servers: Servers, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path, name: str
) -> None:
    path = write_dbn(
        tmp_path / name,
        databento_dbn.Schema.MBP_1,
        {"AAPL": 38, "ZZZZ": 99},
        [
            mbp1(38, START_NS, "189.48", "189.52", trade="189.50"),
            mbp1(99, START_NS + SECOND // 2, "1.00", "1.01"),
            mbp1(99, START_NS + SECOND // 2, "1.00", "1.02"),
            mbp1(38, START_NS + SECOND, "189.30", "189.35"),
        ],
    )
    server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
    status = await replay_into_a_fill(
        server, http, ws_connect, AAPL, limit=189.40, fill_ask="189.35"
    )
    assert status["order_status"] == "Filled"
    assert float(status["average_price"]) == 189.35  # bought at the ask, not at the limit
    state = await replay_state(http, server)
    assert state["unmapped"] == ["ZZZZ"]  # reported once, its records skipped
    assert state["ticks"] == 2
    assert server.gateway.clock.now_ns() == START_NS + SECOND


async def test_tbbo_and_trades_files_replay_together_in_time_order(
    servers: Servers, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    tbbo = write_dbn(
        tmp_path / "msft.tbbo.dbn",
        databento_dbn.Schema.TBBO,
        {"MSFT": 7},
        [
            mbp1(7, START_NS, "420.00", "420.10", trade="420.05"),
            mbp1(7, START_NS + 2 * SECOND, "419.50", "419.60", trade="419.55"),
        ],
    )
    trades = write_dbn(
        tmp_path / "msft.trades.dbn.zst",
        databento_dbn.Schema.TRADES,
        {"MSFT": 7},
        [trade(7, START_NS + SECOND, "420.01", 300)],
    )
    server = await servers.start(source="replay", replay=(tbbo, trades), replay_speed=CRAWL)
    status = await replay_into_a_fill(
        server, http, ws_connect, MSFT, limit=419.80, fill_ask="419.60"
    )
    assert status["order_status"] == "Filled" and float(status["average_price"]) == 419.60
    values = server.gateway.market.snapshot(MSFT, [31, 7059, 7762])
    # Each file counts its own trades: the TBBO file's two trades of 10 each.
    assert values == {31: "419.55", 7059: "10", 7762: "20"}


async def test_a_csv_of_ticks_by_symbol_and_conid_fills_a_resting_limit(
    servers: Servers, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(
        "time,symbol,conid,bid,ask,bid_size,ask_size,last,last_size,volume\n"
        "2026-01-02T15:00:00Z,AAPL,,189.48,189.52,500,400,189.5,10,1000\n"
        "2026-01-02T15:00:00.5Z,NOPE,,1,2,1,1,,,\n"
        f"{START_NS + SECOND},,{AAPL},189.3,189.35,300,200,,,\n",
        encoding="utf-8",
    )
    server = await servers.start(source="replay", replay=(path,), replay_speed=CRAWL)
    assert server.gateway.market.snapshot(AAPL, [84, 86, 87, 88]) == {
        84: "189.48",
        86: "189.52",
        87: "1.00K",
        88: "500",
    }
    status = await replay_into_a_fill(
        server, http, ws_connect, AAPL, limit=189.40, fill_ask="189.35"
    )
    assert status["order_status"] == "Filled" and float(status["average_price"]) == 189.35
    assert (await replay_state(http, server))["unmapped"] == ["NOPE"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("when,conid,bid\n1,265598,1\n", "needs a time column"),
        ("time,conid,colour\n1,265598,red\n", "unknown column 'colour'"),
        ("time,conid,bid\n1,265598,cheap\n", ":2: bid must be a number"),
        ("time,conid,bid\nnoon,265598,1\n", ":2: not a time"),
    ],
)
async def test_bad_csv_files_are_refused_at_start_with_file_and_line(
    servers: Servers, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        await servers.start(source="replay", replay=(path,), replay_speed="max")
