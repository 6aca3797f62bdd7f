"""An instrument added while serving: every consumer knows it, over real sockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from tests.conftest import WsClient, call
from tests.instruments import stock
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.errors import CatalogueError
from tickgate.server.app import RunningServer

ACME = stock(1_900_000_001, "ACME", "ACME WIDGETS INC", price="42.00")


async def snapshot(http: aiohttp.ClientSession, base: str, conid: int) -> dict[str, Any]:
    url = f"{base}/iserver/marketdata/snapshot?conids={conid}&fields=31,84,86,55"
    await call(http, "GET", url)  # the pre-flight
    return dict((await call(http, "GET", url))[0])


async def test_an_added_instrument_is_served_everywhere(
    server: RunningServer,
    http: aiohttp.ClientSession,
    ws_connect: Callable[..., Awaitable[WsClient]],
) -> None:
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    assert await call(http, "GET", f"{base}/iserver/secdef/search?symbol=ACME") == []
    version = server.gateway.catalogue.version
    server.gateway.catalogue.add([ACME])
    assert server.gateway.catalogue.version == version + 1

    rows = await call(http, "GET", f"{base}/iserver/secdef/search?symbol=ACME")
    assert [(r["conid"], r["companyName"]) for r in rows] == [("1900000001", "ACME WIDGETS INC")]
    stocks = await call(http, "GET", f"{base}/trsrv/stocks?symbols=ACME")
    assert stocks["ACME"][0]["contracts"][0]["conid"] == ACME.conid
    info = await call(http, "GET", f"{base}/iserver/contract/{ACME.conid}/info")
    assert info["symbol"] == "ACME"

    values = await snapshot(http, base, ACME.conid)
    bid, ask = Decimal(values["84"]), Decimal(values["86"])
    assert values["55"] == "ACME" and 0 < bid < ask
    assert abs(bid - Decimal(42)) < 3

    ws = await ws_connect(server.ws_base + "/v1/portal/ws")
    await ws.send(f's+md+{ACME.conid}+{{"snapshot":true,"fields":"31,84,86"}}')
    frame = await ws.recv_until(lambda f: f.get("topic") == f"md+{ACME.conid}")
    assert "error" not in frame and {"84", "86"} <= frame.keys()
    await ws.close()

    await place_confirmed(
        http, base, {"conid": ACME.conid, "side": "BUY", "orderType": "MKT", "quantity": 5}
    )
    positions = await call(http, "GET", f"{base}/portfolio/{ACCT}/positions/0")
    assert [(p["conid"], p["position"]) for p in positions] == [(ACME.conid, 5.0)]

    halted = await call(http, "POST", f"{server.base_url}/tickgate/market/{ACME.conid}/halt")
    assert halted
    status = await call(http, "GET", f"{server.base_url}/tickgate/status")
    assert status["instruments"] == len(server.gateway.catalogue)


async def test_a_bad_addition_changes_nothing_the_clients_see(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    with pytest.raises(CatalogueError, match="already in use"):
        server.gateway.catalogue.add([ACME, stock(265598, "AAPL")])
    assert await call(http, "GET", f"{base}/iserver/secdef/search?symbol=ACME") == []
    assert not server.gateway.market.knows(ACME.conid)
