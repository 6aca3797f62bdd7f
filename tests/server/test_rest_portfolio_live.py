"""`GET /portfolio2/{acct}/positions` over a real socket: the same positions as the paged
`/portfolio/{acct}/positions`, in IBKR's newer unpaged shape, sortable."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, StartServer, call

from tickgate.server.app import RunningServer

AAPL, IBM = 265598, 8314
ACCT = "DU1234567"


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    # the test servers' shifted clock: the timestamps below are read from it
    return await start(market_hours="always")


async def buy(http: aiohttp.ClientSession, base: str, conid: int, quantity: int) -> None:
    order = {"conid": conid, "side": "BUY", "orderType": "MKT", "quantity": quantity, "tif": "DAY"}
    answer = await call(http, "POST", f"{base}/iserver/account/{ACCT}/orders",
                        json={"orders": [order]})  # fmt: skip
    while isinstance(answer, list) and "message" in answer[0]:
        answer = await call(
            http, "POST", f"{base}/iserver/reply/{answer[0]['id']}", json={"confirmed": True}
        )
    assert answer[0]["order_status"] == "Filled", answer


@pytest.mark.parametrize("prefix", ["/v1/api", "/v1/portal"])
async def test_live_positions_are_the_paged_positions_in_the_newer_shape(
    server: RunningServer, http: aiohttp.ClientSession, prefix: str
) -> None:
    base = server.base_url + prefix
    url = f"{base}/portfolio2/{ACCT}/positions"
    assert await call(http, "GET", url) == []
    await buy(http, base, IBM, 20)
    await buy(http, base, AAPL, 10)
    paged = {
        row["conid"]: row for row in await call(http, "GET", f"{base}/portfolio/{ACCT}/positions/0")
    }
    live = await call(http, "GET", url)
    assert [row["conid"] for row in live] == [str(IBM), str(AAPL)]
    for row in live:
        old = paged[int(row["conid"])]
        assert row == {
            "position": old["position"], "conid": str(old["conid"]),
            "avgCost": old["avgCost"], "avgPrice": old["avgPrice"],
            "currency": "USD", "description": old["contractDesc"], "isLastToLoq": False,
            "marketPrice": old["mktPrice"], "marketValue": old["mktValue"],
            "realizedPnl": old["realizedPnl"], "secType": "STK",
            "timestamp": row["timestamp"], "unrealizedPnl": old["unrealizedPnl"],
            "assetClass": "STK", "sector": row["sector"], "group": "", "model": "",
        }  # fmt: skip
        # the server's (shifted) clock, seconds after its start
        assert 0 <= row["timestamp"] - SERVER_EPOCH_NS // 1_000_000_000 < 3600
    assert {row["position"] for row in live} == {20.0, 10.0}

    by_size = await call(http, "GET", url, params={"sort": "position"})
    assert [row["position"] for row in by_size] == [10.0, 20.0]
    by_size = await call(http, "GET", url, params={"sort": "position", "direction": "d"})
    assert [row["position"] for row in by_size] == [20.0, 10.0]
    by_value = await call(http, "GET", url, params={"sort": "marketValue", "direction": "a"})
    assert [row["marketValue"] for row in by_value] == sorted(r["marketValue"] for r in live)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"sort": "timestamp"}, 400, "sort must be one of position"),
        ({"sort": "position", "direction": "up"}, 400, "direction must be a or d"),
        ({"model": "MP.TECH"}, 400, "model is not supported"),
    ],
)
async def test_bad_live_position_queries_are_refused(
    server: RunningServer,
    http: aiohttp.ClientSession,
    params: dict[str, Any],
    status: int,
    message: str,
) -> None:
    url = f"{server.base_url}/v1/api/portfolio2/{ACCT}/positions"
    answer = await call(http, "GET", url, params=params, status=status)
    assert message in answer["error"]


async def test_an_unknown_account_is_a_404(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await call(http, "GET", f"{server.base_url}/v1/api/portfolio2/DU999/positions", status=404)
