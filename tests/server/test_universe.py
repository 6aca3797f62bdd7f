"""The built-in universe and instruments created on first search, over a real socket, in the
shapes of IBKR's documented examples."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import aiohttp
from tests.conftest import StartServer, call
from tests.server.test_catalogue_growth import snapshot
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.market.catalogue.generated import generated_conid
from tickgate.server.app import RunningServer

SPX = 416904

#: `/trsrv/stocks?symbols=AAPL` as IBKR's reference shows it (its `chineseName` aside, which
#: tickgate leaves null): one company with its listings, and a namesake instrument.
IBKR_AAPL_STOCKS = {
    "AAPL": [
        {
            "name": "APPLE INC",
            "chineseName": None,
            "assetClass": "STK",
            "contracts": [
                {"conid": 265598, "exchange": "NASDAQ", "isUS": True},
                {"conid": 38708077, "exchange": "MEXI", "isUS": False},
                {"conid": 273982664, "exchange": "EBS", "isUS": False},
            ],
        },
        {
            "name": "LS 1X AAPL",
            "chineseName": None,
            "assetClass": "STK",
            "contracts": [{"conid": 493546048, "exchange": "LSEETF", "isUS": False}],
        },
    ]
}
#: The keys of IBKR's documented `/iserver/secdef/info` row.
INFO_KEYS = {
    "conid", "symbol", "secType", "exchange", "listingExchange", "right", "strike", "currency",
    "cusip", "coupon", "desc1", "desc2", "maturityDate", "multiplier", "tradingClass",
    "validExchanges",
}  # fmt: skip


async def test_trsrv_stocks_groups_listings_under_their_company(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    body = await call(http, "GET", f"{base}/trsrv/stocks?symbols=AAPL,BRK B,NOSUCH")
    assert body["AAPL"] == IBKR_AAPL_STOCKS["AAPL"]
    assert body["NOSUCH"] == []
    [brk] = body["BRK B"]
    assert brk["contracts"] == [
        {"conid": generated_conid("BRK B"), "exchange": "NYSE", "isUS": True}
    ]
    secdef = await call(http, "GET", f"{base}/trsrv/secdef?conids={generated_conid('XOM')}")
    [xom] = secdef["secdef"]
    assert (xom["ticker"], xom["sector"], xom["isUS"], xom["listingExchange"]) == (
        "XOM", "Energy", True, "NYSE",
    )  # fmt: skip


async def test_search_ranks_the_primary_listing_first(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    rows = await call(http, "GET", server.base_url + "/v1/api/iserver/secdef/search?symbol=AAPL")
    assert [(r["conid"], r["description"]) for r in rows] == [
        ("265598", "NASDAQ"), ("38708077", "MEXI"), ("273982664", "EBS"), ("493546048", "LSEETF"),
    ]  # fmt: skip


async def test_spx_options_spx_and_spxw_every_contract_of_a_month(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    [spx] = await call(http, "GET", f"{base}/iserver/secdef/search?symbol=SPX")
    assert (spx["conid"], spx["secType"]) == (str(SPX), "IND")
    opt = next(s for s in spx["sections"] if s["secType"] == "OPT")
    month = opt["months"].split(";")[0]
    assert month == "JAN26"  # the test clock is Wednesday 14 January 2026
    strikes = await call(
        http, "GET", f"{base}/iserver/secdef/strikes?conid={SPX}&sectype=OPT&month={month}"
    )
    assert 6650.0 in strikes["call"] and all(s % 5 == 0 for s in strikes["put"])
    info = await call(
        http,
        "GET",
        f"{base}/iserver/secdef/info?conid={SPX}&sectype=OPT&month={month}&strike=6650&right=P",
    )
    assert all(set(row) == INFO_KEYS for row in info)
    assert [(row["tradingClass"], row["maturityDate"]) for row in info] == [
        ("SPX", "20260116"), ("SPXW", "20260116"), ("SPXW", "20260123"), ("SPXW", "20260130"),
    ]  # fmt: skip
    assert {(row["right"], row["strike"], row["multiplier"]) for row in info} == {
        ("P", 6650.0, "100")
    }
    assert info[1]["desc2"] == "JAN 16 '26 6650 Put"
    await call(http, "GET", f"{base}/iserver/accounts")
    values = await snapshot(http, base, info[1]["conid"])
    assert Decimal(values["84"]) < Decimal(values["86"])


async def test_a_bar_as_long_as_the_period_is_the_days_bar(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api/iserver/marketdata/history"
    body = await call(http, "GET", f"{base}?conid=265598&period=1d&bar=1d")
    assert body["barLength"] == 86400 and len(body["data"]) == 1
    [day] = body["data"]
    assert day["l"] <= min(day["o"], day["c"]) <= max(day["o"], day["c"]) <= day["h"]
    await call(http, "GET", f"{base}?conid=265598&period=1d&bar=1w", status=400)


async def test_unknown_symbols_stay_unknown_by_default(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    assert await call(http, "GET", f"{base}/iserver/secdef/search?symbol=ZQXW") == []
    assert await call(http, "GET", f"{base}/trsrv/stocks?symbols=ZQXW") == {"ZQXW": []}
    assert server.gateway.catalogue.find(generated_conid("ZQXW")) is None


async def test_auto_instruments_create_a_searched_symbol_that_then_trades(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = await start(auto_instruments=True, store="sqlite")
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    [row] = await call(http, "GET", f"{base}/iserver/secdef/search?symbol=zqxw")
    conid = generated_conid("ZQXW")
    assert (row["conid"], row["symbol"], row["companyName"]) == (
        str(conid),
        "ZQXW",
        "ZQXW (SIMULATED)",
    )
    assert await call(http, "GET", f"{base}/iserver/secdef/search?symbol=ZQXW") == [row]  # once
    stocks = await call(http, "GET", f"{base}/trsrv/stocks?symbols=QQXW")
    assert stocks["QQXW"][0]["contracts"] == [
        {"conid": generated_conid("QQXW"), "exchange": "NASDAQ", "isUS": True}
    ]
    values = await snapshot(http, base, conid)
    assert 10 <= Decimal(values["84"]) < Decimal(values["86"]) < 500
    await place_confirmed(
        http, base, {"conid": conid, "side": "BUY", "orderType": "MKT", "quantity": 3}
    )
    positions = await call(http, "GET", f"{base}/portfolio/{ACCT}/positions/0")
    assert [(p["conid"], p["position"]) for p in positions] == [(conid, 3.0)]
    # Names that are not tickers, or that the catalogue has, create nothing.
    before = len(server.gateway.catalogue)
    await call(http, "GET", f"{base}/iserver/secdef/search?symbol=EUR")
    await call(http, "GET", f"{base}/iserver/secdef/search?symbol=apple&name=true")
    await call(http, "GET", f"{base}/iserver/secdef/search?symbol=NOT A TICKER")
    assert len(server.gateway.catalogue) == before
    await server.stop()

    # Restarted on the same data: the same symbol gets the same conid, and the position held
    # in it is still there once the symbol is searched again.
    again = await start(auto_instruments=True, store="sqlite")
    base = again.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    positions = await call(http, "GET", f"{base}/portfolio/{ACCT}/positions/0")
    assert [(p["conid"], p["position"]) for p in positions] == [(conid, 3.0)]
    [row] = await call(http, "GET", f"{base}/iserver/secdef/search?symbol=ZQXW")
    assert row["conid"] == str(conid)
