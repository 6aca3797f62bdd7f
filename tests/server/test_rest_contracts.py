"""Contract lookup flows over REST: stocks, futures, and the seed's option lookup chain."""

from __future__ import annotations

from typing import Any

import aiohttp
from tests.conftest import StartServer

from tickgate.clock import FakeClock
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


async def test_search_by_a_conid_given_as_the_symbol_finds_that_contract(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = server.base_url + "/v1/api/iserver/secdef/search"
    rows = await get(http, url + "?symbol=265598")
    assert [(row["conid"], row["symbol"]) for row in rows] == [("265598", "AAPL")]
    # The same row as by its symbol (which also finds AAPL's other listings).
    assert rows[0] == (await get(http, url + "?symbol=AAPL"))[0]
    # A bot's JSON body with the conid as a number.
    async with http.post(url, json={"symbol": 265598}) as response:
        assert response.status == 200
        assert await response.json() == rows
    assert await get(http, url + "?symbol=999999999") == []


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
    # Every contract of the month, as IBKR answers: the monthly and the weeklies beside it.
    maturities = [option["maturityDate"] for option in info]
    assert len(info) > 1 and maturities == sorted(set(maturities))
    assert {m[:6] for m in maturities} == {maturities[0][:6]}
    for option in info:
        assert option["right"] == "C" and option["strike"] == strike
        assert option["multiplier"] == "100" and option["tradingClass"] == "SPY"
    option = info[0]
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


# Wednesday 2026-11-25 15:00 UTC: Thanksgiving follows, then an early close on Friday.
BEFORE_THANKSGIVING_NS = 1_795_618_800_000_000_000


async def test_trading_schedule_reads_the_market_calendar(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(clock=FakeClock(BEFORE_THANKSGIVING_NS))
    base = server.base_url + "/v1/api/trsrv/secdef/schedule"
    [stock] = await get(http, f"{base}?assetClass=STK&symbol=AAPL")
    assert stock["exchange"] == "NASDAQ" and stock["timezone"] == "America/New_York"
    days = {d["tradingScheduleDate"]: d for d in stock["schedules"]}
    assert list(days)[:3] == ["20261125", "20261127", "20261130"]  # no Thanksgiving
    assert days["20261125"]["tradingtimes"][0] | {"cancelDayOrders": "Y"} == {
        "openingTime": "0400", "closingTime": "2000", "cancelDayOrders": "Y"
    }  # fmt: skip
    assert days["20261125"]["sessions"] == [{"openingTime": "0930", "closingTime": "1600"}]
    assert days["20261127"]["sessions"] == [{"openingTime": "0930", "closingTime": "1300"}]
    assert days["20261127"]["earlyClose"] is True
    assert "20261128" not in days and len(days) == 21  # weekdays of 31 days, less 2 holidays
    [future] = await get(http, f"{base}?assetClass=FUT&symbol=ES")
    assert future["timezone"] == "America/Chicago"
    first = future["schedules"][0]
    assert first["tradingtimes"][0]["openingTime"] == "1700"  # the evening before
    assert first["tradingtimes"][0]["closingTime"] == "1600"
    assert first["sessions"] == [{"openingTime": "0830", "closingTime": "1500"}]
    [fx] = await get(http, f"{base}?assetClass=CASH&symbol=EUR")
    assert fx["schedules"][0]["sessions"][0]["prop"] == "LIQUID"
    assert "20261126" in {d["tradingScheduleDate"] for d in fx["schedules"]}  # FX trades


async def test_trading_schedule_refuses_bad_requests(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api/trsrv/secdef/schedule"
    missing = await get(http, f"{base}?symbol=AAPL", status=400)
    assert "missing required parameters 'assetClass' and 'symbol'" in missing["error"]
    wrong = await get(http, f"{base}?assetClass=XYZ&symbol=AAPL", status=400)
    assert "unknown assetClass" in wrong["error"]
    unknown = await get(http, f"{base}?assetClass=STK&symbol=NOPE", status=400)
    assert "no STK contract with symbol" in unknown["error"]
    elsewhere = await get(http, f"{base}?assetClass=STK&symbol=AAPL&exchange=LSE", status=400)
    assert "no STK contract" in elsewhere["error"]
