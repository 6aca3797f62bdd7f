"""`realtime-account-data` on /v1/portal/ws: the day's orders, then every change and P&L."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from tests.conftest import WsClient

from tickgate.server.app import RunningServer

ACCT = "DU1234567"
TOPIC = f"realtime-account-data+{ACCT}"
Connect = Callable[..., Awaitable[WsClient]]


async def buy(server: RunningServer, http: aiohttp.ClientSession, conid: int, qty: int) -> int:
    base = server.base_url + "/v1/api"
    order = {"conid": conid, "side": "BUY", "orderType": "MKT", "quantity": qty, "tif": "DAY"}
    async with http.post(f"{base}/iserver/account/{ACCT}/orders", json={"orders": [order]}) as r:
        question = await r.json()
    async with http.post(
        f"{base}/iserver/reply/{question[0]['id']}", json={"confirmed": True}
    ) as r:
        return int((await r.json())[0]["order_id"])


async def account_socket(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> WsClient:
    async with http.get(server.base_url + "/v1/api/iserver/accounts"):
        pass
    return await ws_connect(server.ws_base + "/v1/portal/ws")


def orders_of(frame: dict[str, Any]) -> list[dict[str, Any]]:
    assert frame["topic"] == TOPIC
    return list(frame.get("orders", []))


async def test_day_orders_first_then_changes_and_pnl(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    earlier = await buy(server, http, 265598, 5)
    ws = await account_socket(server, http, ws_connect)
    await ws.send(f"s+realtime-account-data+{ACCT}")
    first = await ws.recv()
    assert [o["orderId"] for o in orders_of(first)] == [earlier]
    row = orders_of(first)[0]
    assert row["acct"] == ACCT and row["conid"] == 265598 and row["status"] == "Filled"
    for key in (
        "side",
        "orderType",
        "sizeAndFills",
        "filledQuantity",
        "remainingQuantity",
        "avgPrice",
        "ticker",
        "secType",
        "timeInForce",
        "lastExecutionTime_r",
    ):
        assert key in row, key
    pnl = await ws.recv()
    assert f"{ACCT}.Core" in pnl["pnl"] and pnl["topic"] == TOPIC
    later = await buy(server, http, 8314, 3)
    filled = await ws.recv_until(
        lambda f: any(
            o["orderId"] == later and o["status"] == "Filled" for o in f.get("orders", [])
        )
    )
    assert filled["topic"] == TOPIC
    await ws.send(f"u+realtime-account-data+{ACCT}")
    await ws.send(f"u+realtime-account-data+{ACCT}")
    assert "not subscribed" in (await ws.recv_until(lambda f: "error" in f))["error"]


async def test_reconnect_delivers_the_full_day_again(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ids = [await buy(server, http, 756733, 1) for _ in range(3)]
    for _ in range(2):
        ws = await account_socket(server, http, ws_connect)
        await ws.send(f"s+realtime-account-data+{ACCT}")
        assert [o["orderId"] for o in orders_of(await ws.recv())] == ids
        await ws.close()


async def test_unknown_account_is_an_error_frame(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await account_socket(server, http, ws_connect)
    await ws.send("s+realtime-account-data+U0000")
    frame = await ws.recv()
    assert (
        frame["topic"] == "realtime-account-data+U0000"
        and "unknown account U0000" in frame["error"]
    )
