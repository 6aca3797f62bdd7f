"""A halted instrument trades nothing: orders on it are accepted and rest, none fills or
triggers (new, modified, bracket children, advisor group orders), and after the resume they
match the market by the normal rules. Over a real socket, with the simulator's halt route."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from tests.conftest import StartServer, call
from tests.server.test_rest_allocated_orders import add_group, place
from tests.server.test_rest_allocation import SUBS, advisor
from tests.server.test_rest_orders import ACCT, place_confirmed, quote

from tickgate.server.app import RunningServer

AAPL = 265598
MSFT = 272093
API = "/v1/api"


async def status_of(http: aiohttp.ClientSession, base: str, order_id: int) -> str:
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{order_id}")
    return str(status["order_status"])


async def all_filled(http: aiohttp.ClientSession, base: str, order_ids: list[int]) -> None:
    """Wait (bounded) until every order of `order_ids` reads Filled."""
    async with asyncio.timeout(30):
        while [await status_of(http, base, o) for o in order_ids] != ["Filled"] * len(order_ids):
            await asyncio.sleep(0.05)  # the fills come from the resumed market's quotes


async def position(http: aiohttp.ClientSession, base: str, account: str, conid: int) -> float:
    rows = await call(http, "GET", f"{base}{API}/portfolio/{account}/positions/0")
    return sum(float(p["position"]) for p in rows if p["conid"] == conid)


def order_id(ack: list[dict[str, Any]]) -> int:
    return int(ack[0]["order_id"])


async def test_orders_on_a_halted_stock_rest_until_the_resume(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url
    book = await quote(http, base + API, AAPL)
    bid, ask = float(book["84"]), float(book["86"])
    parent = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 2, "tif": "DAY",
              "cOID": "halt-parent"}  # fmt: skip
    child = {"conid": AAPL, "side": "SELL", "orderType": "LMT", "price": round(bid * 1.05, 2),
             "quantity": 2, "tif": "GTC", "parentId": "halt-parent"}  # fmt: skip
    bracket = await call(
        http, "POST", f"{base}{API}/iserver/account/{ACCT}/orders",
        json={"orders": [parent, child]},
    )  # fmt: skip
    while "message" in bracket[0]:
        bracket = await call(
            http, "POST", f"{base}{API}/iserver/reply/{bracket[0]['id']}", json={"confirmed": True}
        )
    parent_id, child_id = (int(a["order_id"]) for a in bracket)
    await all_filled(http, base, [parent_id])  # the parent filled before the halt
    assert await status_of(http, base, child_id) == "Submitted"

    halted = await call(http, "POST", f"{base}/tickgate/market/{AAPL}/halt")
    assert halted["halted"] is True
    buy = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1, "tif": "DAY"}
    market = order_id(await place_confirmed(http, base + API, buy))
    marketable = {**buy, "orderType": "LMT", "price": round(ask * 1.02, 2)}
    limit = order_id(await place_confirmed(http, base + API, marketable))
    # The bracket's take-profit made marketable while halted: still no fill.
    modified = await call(
        http, "POST", f"{base}{API}/iserver/account/{ACCT}/order/{child_id}",
        json={"price": round(bid * 0.95, 2)},
    )  # fmt: skip
    while isinstance(modified, list) and "message" in modified[0]:
        modified = await call(
            http, "POST", f"{base}{API}/iserver/reply/{modified[0]['id']}", json={"confirmed": True}
        )
    for waiting in (market, limit, child_id):
        assert await status_of(http, base, waiting) in ("Submitted", "PreSubmitted")
    assert await position(http, base, ACCT, AAPL) == 2

    await call(http, "POST", f"{base}/tickgate/market/{AAPL}/resume")
    await all_filled(http, base, [market, limit, child_id])
    assert await position(http, base, ACCT, AAPL) == 2  # +2, +1, +1, -2
    trades = await call(http, "GET", f"{base}{API}/iserver/account/trades")
    assert len([t for t in trades if t["conid"] == str(AAPL)]) == 4


async def test_an_advisor_group_order_on_a_halted_stock_waits_for_the_resume(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    body = {"name": "Equal3", "accounts": [{"name": a.account_id} for a in SUBS],
            "default_method": "E"}  # fmt: skip
    await add_group(http, base, body)
    await quote(http, base + API, MSFT)
    await call(http, "POST", f"{base}/tickgate/market/{MSFT}/halt")
    order = {"conid": MSFT, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"}
    (ack,) = await place(http, base, "Equal3", order)
    parent = int(ack["order_id"])
    assert await status_of(http, base, parent) == "Submitted"
    for account in SUBS:
        assert await position(http, base, account.account_id, MSFT) == 0
    await call(http, "POST", f"{base}/tickgate/market/{MSFT}/resume")
    await all_filled(http, base, [parent])
    held = [await position(http, base, a.account_id, MSFT) for a in SUBS]
    assert held == [4, 3, 3]
