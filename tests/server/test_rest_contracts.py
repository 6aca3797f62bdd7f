"""Contract lookup flows over REST: stocks, futures, and the seed's option lookup chain."""

from __future__ import annotations

from typing import Any

import aiohttp

from tickgate.server.app import RunningServer


async def get(http: aiohttp.ClientSession, url: str, *, status: int = 200) -> Any:
    async with http.get(url) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def test_search_finds_aapl_with_an_option_section(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    rows = await get(http, server.base_url + "/v1/api/iserver/secdef/search?symbol=AAPL")
    assert rows[0]["conid"] == "265598" and rows[0]["symbol"] == "AAPL"
    sections = {section["secType"]: section for section in rows[0]["sections"]}
    assert "STK" in sections and sections["OPT"]["months"]


async def test_search_also_accepts_post_with_a_json_body(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(
        server.base_url + "/v1/api/iserver/secdef/search", json={"symbol": "MSFT"}
    ) as response:
        rows = await response.json()
    assert rows[0]["conid"] == "272093"


async def test_option_lookup_flow_search_strikes_info(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    rows = await get(http, f"{base}/iserver/secdef/search?symbol=SPY")
    opt = next(s for s in rows[0]["sections"] if s["secType"] == "OPT")
    month = opt["months"].split(";")[0]
    strikes = await get(
        http, f"{base}/iserver/secdef/strikes?conid=756733&sectype=OPT&month={month}"
    )
    assert strikes["call"] and strikes["put"]
    strike = strikes["call"][len(strikes["call"]) // 2]
    info = await get(
        http,
        f"{base}/iserver/secdef/info?conid=756733&sectype=OPT&month={month}&strike={strike}&right=C",
    )
    assert len(info) == 1
    option = info[0]
    assert option["right"] == "C" and option["strike"] == strike and option["multiplier"] == "100"
    secdef = await get(http, f"{base}/trsrv/secdef?conids={option['conid']}")
    assert secdef["secdef"][0]["conid"] == option["conid"]


async def test_futures_lookup(server: RunningServer, http: aiohttp.ClientSession) -> None:
    body = await get(http, server.base_url + "/v1/api/trsrv/futures?symbols=ES,CL")
    for root in ("ES", "CL"):
        chain = body[root]
        assert len(chain) >= 4
        assert len({c["conid"] for c in chain}) == len(chain)
        expiries = [c["expirationDate"] for c in chain]
        assert expiries == sorted(expiries)


async def test_stocks_by_symbol(server: RunningServer, http: aiohttp.ClientSession) -> None:
    body = await get(http, server.base_url + "/v1/api/trsrv/stocks?symbols=AAPL,NOSUCH")
    assert body["AAPL"][0]["contracts"][0] == {"conid": 265598, "exchange": "NASDAQ", "isUS": True}
    assert body["NOSUCH"] == []


async def test_secdef_by_conids_get_and_post(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    body = await get(http, server.base_url + "/v1/api/trsrv/secdef?conids=265598,8314")
    assert [row["ticker"] for row in body["secdef"]] == ["AAPL", "IBM"]
    assert [row["hasOptions"] for row in body["secdef"]] == [True, False]
    async with http.post(
        server.base_url + "/v1/api/trsrv/secdef", json={"conids": [756733]}
    ) as response:
        assert (await response.json())["secdef"][0]["ticker"] == "SPY"


async def test_bad_lookups_get_specific_errors(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    assert "symbol" in (await get(http, f"{base}/iserver/secdef/search", status=400))["error"]
    assert (
        "Invalid conid 1" in (await get(http, f"{base}/trsrv/secdef?conids=1", status=400))["error"]
    )
    assert "integer" in (await get(http, f"{base}/trsrv/secdef?conids=abc", status=400))["error"]
    assert (
        "month"
        in (await get(http, f"{base}/iserver/secdef/strikes?conid=265598&sectype=OPT", status=400))[
            "error"
        ]
    )
    assert (
        "right"
        in (
            await get(
                http,
                f"{base}/iserver/secdef/info?conid=265598&sectype=OPT&month=JAN27&right=X",
                status=400,
            )
        )["error"]
    )
