"""Account topics of the api dialect (sor, str, spl, ssd, sld) over a real socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from tests.conftest import WsClient
from tests.server.test_rest_orders import place_confirmed
from tests.server.test_ws_api import authed

from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]
ACCT = "DU1234567"


async def test_orders_trades_pnl_summary_and_ledger(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send("sor+{}")
    await ws.send("str+{}")
    assert (await ws.recv_until(lambda f: f.get("topic") == "str")) == {"topic": "str", "args": []}
    await ws.send("spl")
    pnl = await ws.recv_until(lambda f: f.get("topic") == "spl")
    assert pnl["args"][f"{ACCT}.Core"]["nl"] == 1_000_000.0
    await ws.send(f"ssd+{ACCT}+{{}}")
    summary = await ws.recv_until(lambda f: f.get("topic") == f"ssd+{ACCT}")
    assert summary["result"][0] == {**summary["result"][0], "key": "AccountCode", "value": ACCT}
    assert all("key" in e and "timestamp" in e for e in summary["result"])
    await ws.send(f"sld+{ACCT}+{{}}")
    ledger = await ws.recv_until(lambda f: f.get("topic") == f"sld+{ACCT}")
    assert any(e.get("acctCode") == ACCT and e["key"] == "LedgerListBASE" for e in ledger["result"])

    ack = await place_confirmed(
        http,
        server.base_url + "/v1/api",
        {"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 4},
    )
    order_id = int(ack[0]["order_id"])
    wanted = {
        "sor": lambda f: any(
            o["orderId"] == order_id and o["status"] == "Filled" for o in f["args"]
        ),
        "str": lambda f: bool(f["args"]),
        "spl": lambda f: f["args"][f"{ACCT}.Core"]["mv"] != 0.0,
        "ntf": lambda f: True,
    }
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < len(wanted):
        frame = await ws.recv()
        topic = frame.get("topic")
        if topic in wanted and topic not in seen and wanted[topic](frame):
            seen[topic] = frame
    assert seen["sor"]["args"][0]["acct"] == ACCT
    trade = seen["str"]["args"][0]
    assert trade["size"] == 4 and str(trade["conid"]) == "265598"
    notice = seen["ntf"]["args"]
    assert isinstance(notice, list) and notice[0]["text"].startswith("Bought 4 AAPL @")

    await ws.send(f"usd+{ACCT}")
    assert await ws.recv_until(lambda f: "result" in f and "topic" not in f) == {
        "result": "unsubscribed from summary"
    }
    await ws.send(f"uld+{ACCT}")
    assert await ws.recv_until(lambda f: "result" in f and "topic" not in f) == {
        "result": "unsubscribed from ledger"
    }


async def test_unknown_account_gets_an_error_frame(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send("ssd+U000+{}")
    frame = await ws.recv_until(lambda f: "error" in f)
    assert "U000" in frame["error"]


async def test_session_close_is_announced_as_a_bulletin(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    server.gateway.trading.close_session()
    bulletin = await ws.recv_until(lambda f: f.get("topic") == "blt")
    assert "session closed" in bulletin["args"]["message"] and bulletin["args"]["id"]


async def test_summary_and_ledger_honour_fields_and_spell_ledger_keys_as_the_reference(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send(f'ssd+{ACCT}+{{"fields":["monetaryValue"]}}')
    summary = await ws.recv_until(lambda f: f.get("topic") == f"ssd+{ACCT}")
    for entry in summary["result"]:
        assert set(entry) <= {"key", "timestamp", "monetaryValue"}
    await ws.send(f"sld+{ACCT}+{{}}")
    ledger = await ws.recv_until(lambda f: f.get("topic") == f"sld+{ACCT}")
    base = next(e for e in ledger["result"] if e["key"] == "LedgerListBASE")
    assert {"settledCash", "netLiquidationValue", "exchangeRate", "secondKey"} <= set(base)
    await ws.send(f'sld+{ACCT}+{{"fields":["cashBalance"]}}')
    cut = await ws.recv_until(lambda f: f.get("topic") == f"sld+{ACCT}")
    assert all(set(e) <= {"key", "timestamp", "acctCode", "cashbalance"} for e in cut["result"])
