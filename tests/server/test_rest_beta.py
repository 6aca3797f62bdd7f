"""The beta market-data routes over a real socket, checked against the `/iserver` ones."""

from __future__ import annotations

import aiohttp
import pytest
from tests.conftest import StartServer, call

from tickgate.clock import FakeClock
from tickgate.server.app import RunningServer

AAPL, IBM = 265598, 8314


async def frozen(start: StartServer) -> RunningServer:
    return await start(clock=FakeClock(), store="memory")


async def test_md_snapshot_answers_values_at_once(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await frozen(start)
    for prefix in ("/v1/api", "/v1/portal"):
        base = server.base_url + prefix
        url = f"{base}/md/snapshot?conids={AAPL},{IBM}&fields=31,84,86,55"
        rows = await call(http, "GET", url)
        assert [r["conid"] for r in rows] == [AAPL, IBM]
        aapl = rows[0]
        assert {"31", "84", "86", "55", "_updated", "server_id", "conidEx"} <= set(aapl)
        assert aapl["55"] == "AAPL" and aapl["conidEx"] == str(AAPL)
        assert float(aapl["84"]) < float(aapl["86"])
        # The same engine answers the /iserver snapshot (after its pre-flight) identically.
        await call(http, "GET", f"{base}/iserver/accounts")
        iserver = f"{base}/iserver/marketdata/snapshot?conids={AAPL}&fields=31,84,86,55"
        await call(http, "GET", iserver)
        (same,) = await call(http, "GET", iserver)
        assert {k: same[k] for k in ("31", "84", "86", "55", "_updated")} == {
            k: aapl[k] for k in ("31", "84", "86", "55", "_updated")
        }
    # A beta snapshot holds no market-data line: there is nothing to unsubscribe.
    unsubscribe = f"{server.base_url}/v1/api/iserver/marketdata/unsubscribe"
    await call(http, "POST", unsubscribe, json={"conid": IBM}, status=404)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "missing required parameter 'conids'"),
        ("conids=1", "Invalid conid 1"),
        (f"conids={AAPL}&fields=99999", "unknown field id 99999"),
        ("conids=abc", "conids"),
    ],
)
async def test_md_snapshot_bad_input(
    server: RunningServer, http: aiohttp.ClientSession, query: str, message: str
) -> None:
    answer = await call(http, "GET", f"{server.base_url}/v1/api/md/snapshot?{query}", status=400)
    assert message in answer["error"]


async def test_hmds_history_has_the_iserver_bars(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await frozen(start)
    query = {"conid": str(AAPL), "period": "2d", "bar": "1h", "outsideRth": "true"}
    iserver = await call(
        http, "GET", f"{server.base_url}/v1/api/iserver/marketdata/history", params=query
    )
    for prefix in ("/v1/api", "/v1/portal"):
        beta = await call(http, "GET", f"{server.base_url}{prefix}/hmds/history", params=query)
        assert beta["data"] == iserver["data"] and len(beta["data"]) > 1
        assert beta["symbol"] == "AAPL" and beta["startTime"] == iserver["startTime"]
        assert beta["startTimeVal"] == beta["data"][0]["t"]
        assert beta["endTimeVal"] == beta["data"][-1]["t"] > beta["startTimeVal"]
        assert len(beta["endTime"]) == len(beta["startTime"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"conid": str(AAPL), "period": "1d"}, "missing required parameter 'bar'"),
        ({"period": "1d", "bar": "1h"}, "missing required parameter 'conid'"),
        ({"conid": "1", "period": "1d", "bar": "1h"}, "Invalid conid 1"),
        ({"conid": str(AAPL), "period": "1d", "bar": "1h", "direction": "1"}, "direction"),
        ({"conid": str(AAPL), "period": "1x", "bar": "1h"}, "period"),
    ],
)
async def test_hmds_history_bad_input(
    server: RunningServer, http: aiohttp.ClientSession, query: dict[str, str], message: str
) -> None:
    url = f"{server.base_url}/v1/api/hmds/history"
    answer = await call(http, "GET", url, params=query, status=400)
    assert message in answer["error"]
