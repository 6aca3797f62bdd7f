"""Market data snapshots over REST: priming, the pre-flight rule, limits and unsubscribes."""

from __future__ import annotations

import asyncio

import aiohttp
from tests.conftest import call

from tickgate.protocol.fields import KNOWN_FIELDS
from tickgate.server.app import RunningServer


async def test_snapshot_needs_priming(server: RunningServer, http: aiohttp.ClientSession) -> None:
    body = await call(
        http,
        "GET",
        server.base_url + "/v1/api/iserver/marketdata/snapshot?conids=265598",
        status=500,
    )
    assert body == {"error": "Please query /accounts first"}


async def test_snapshot_preflight_then_values(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    await call(http, "GET", base + "/iserver/accounts")
    url = base + "/iserver/marketdata/snapshot?conids=265598,8314&fields=31,84,86,55"
    first = await call(http, "GET", url)
    assert first == [{"conid": 265598, "conidEx": "265598"}, {"conid": 8314, "conidEx": "8314"}]
    second = await call(http, "GET", url)
    aapl = second[0]
    assert aapl["conid"] == 265598 and aapl["55"] == "AAPL"
    assert float(aapl["84"]) < float(aapl["86"])
    assert (
        aapl["server_id"] == aapl["6119"] and "6509" in aapl and isinstance(aapl["_updated"], int)
    )
    assert set(aapl) <= {
        "conid",
        "conidEx",
        "_updated",
        "server_id",
        "6119",
        "6509",
        "31",
        "84",
        "86",
        "55",
    }


async def test_snapshot_values_move(server: RunningServer, http: aiohttp.ClientSession) -> None:
    base = server.base_url + "/v1/api"
    await call(http, "GET", base + "/iserver/accounts")
    url = base + "/iserver/marketdata/snapshot?conids=756733&fields=84,86,31"
    await call(http, "GET", url)
    first = (await call(http, "GET", url))[0]
    async with asyncio.timeout(10):
        while True:
            current = (await call(http, "GET", url))[0]
            if current["_updated"] != first["_updated"]:
                break
            await asyncio.sleep(0.05)  # polling a live market, not waiting for state to settle


async def test_snapshot_limits_and_bad_input(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api/iserver/marketdata/snapshot"
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    too_many = ",".join(str(n) for n in range(1, 102))
    assert (
        "at most 100" in (await call(http, "GET", f"{base}?conids={too_many}", status=400))["error"]
    )
    fields = ",".join(str(f) for f in sorted(KNOWN_FIELDS)[:51])
    assert (
        "at most 50"
        in (await call(http, "GET", f"{base}?conids=265598&fields={fields}", status=400))["error"]
    )
    assert (
        "unknown field id 99999"
        in (await call(http, "GET", f"{base}?conids=265598&fields=99999", status=400))["error"]
    )
    assert "Invalid conid 42" in (await call(http, "GET", f"{base}?conids=42", status=400))["error"]
    assert "conids" in (await call(http, "GET", base, status=400))["error"]


async def test_unsubscribe_one_and_all(server: RunningServer, http: aiohttp.ClientSession) -> None:
    base = server.base_url + "/v1/api/iserver/marketdata"
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    await call(http, "GET", f"{base}/snapshot?conids=265598")
    assert await call(http, "POST", f"{base}/unsubscribe", json={"conid": 265598}) == {
        "success": True
    }
    assert await call(http, "POST", f"{base}/unsubscribe", json={"conid": 265598}, status=404) == {
        "error": "unknown"
    }
    # After an unsubscribe the next snapshot is a pre-flight again.
    assert await call(http, "GET", f"{base}/snapshot?conids=265598") == [
        {"conid": 265598, "conidEx": "265598"}
    ]
    assert await call(http, "GET", f"{base}/unsubscribeall") == {"unsubscribed": True}
    assert (
        "conid" in (await call(http, "POST", f"{base}/unsubscribe", json={}, status=400))["error"]
    )


async def test_history_bars(server: RunningServer, http: aiohttp.ClientSession) -> None:
    base = server.base_url + "/v1/api/iserver/marketdata/history"
    body = await call(http, "GET", f"{base}?conid=265598&bar=5min&period=1d&outsideRth=True")
    assert body["symbol"] == "AAPL" and body["barLength"] == 300
    bars = body["data"]
    assert len(bars) > 10
    assert all(b["l"] <= min(b["o"], b["c"]) <= max(b["o"], b["c"]) <= b["h"] for b in bars)
    assert [b["t"] for b in bars] == sorted(b["t"] for b in bars)
    again = await call(http, "GET", f"{base}?conid=265598&bar=5min&period=1d&outsideRth=True")
    assert again["data"][:-1] == bars[:-1]  # deterministic; only the live bar may move
    weekly = await call(http, "GET", f"{base}?conid=756733&period=1y&bar=1w")
    assert weekly["barLength"] == 604800 and len(weekly["data"]) >= 50


async def test_history_bad_input(server: RunningServer, http: aiohttp.ClientSession) -> None:
    base = server.base_url + "/v1/api/iserver/marketdata/history"
    assert (
        "Invalid conid 5"
        in (await call(http, "GET", f"{base}?conid=5&bar=1d", status=400))["error"]
    )
    assert "conid" in (await call(http, "GET", f"{base}?bar=1d", status=400))["error"]
    assert (await call(http, "GET", f"{base}?conid=265598&bar=7min", status=400))["error"]
    assert (await call(http, "GET", f"{base}?conid=265598&period=1y&bar=1min", status=400))["error"]
    assert (await call(http, "GET", f"{base}?conid=265598&period=1d&outsideRth=maybe", status=400))[
        "error"
    ]
    # A period past its unit's range is told the range, not that its spelling is wrong.
    far = await call(http, "GET", f"{base}?conid=265598&period=99999d", status=400)
    assert far["error"] == "invalid period '99999d': d periods go from 1d to 1000d"


async def test_more_than_five_concurrent_history_requests_get_429(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api/iserver/marketdata/history"
    urls = [f"{base}?conid={c}&period=15y&bar=1w" for c in (265598, 8314, 272093, 756733) * 2]

    async def status(url: str) -> int:
        async with http.get(url) as response:
            await response.read()
            return response.status

    statuses = await asyncio.gather(*(status(url) for url in urls))
    assert statuses.count(200) >= 5 and 429 in statuses, statuses
