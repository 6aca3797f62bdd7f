"""Account and portfolio routes over a real socket, with two accounts (one with a futures
position): the account summary and its views in IBKR's documented shapes, the selected and
dynamic account, account attributes, positions across accounts, the consolidated allocation,
the cache and combination routes; bad input gets a 4xx JSON error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import call, make_config
from tests.server.fixed_market import FixedMarket

from tickgate.model.accounts import AccountConfig
from tickgate.server.app import RunningServer, build_app, start_server

AAPL, ES = 265598, 495512563
FIRST, SECOND = "DU1111111", "DU2222222"
PREFIXES = ("/v1/api", "/v1/portal")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    market = FixedMarket({AAPL: ("199.99", "200.00", "200.00")})  # bought at 200.00, the mark
    accounts = (AccountConfig(FIRST), AccountConfig(SECOND, starting_cash=Decimal(500_000)))
    app = build_app(make_config(tmp_path, accounts=accounts), source=market.for_gateway)
    running = await start_server(app)
    await asyncio.wait_for(market.ready.wait(), 10)
    yield running
    await running.stop()


async def buy(http: aiohttp.ClientSession, base: str, account: str, quantity: int) -> None:
    order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": quantity}
    answer = await call(
        http, "POST", f"{base}/iserver/account/{account}/orders", json={"orders": [order]}
    )
    while isinstance(answer, list) and "message" in answer[0]:
        answer = await call(
            http, "POST", f"{base}/iserver/reply/{answer[0]['id']}", json={"confirmed": True}
        )


def whole(text: str) -> Decimal:
    """The amount of a display text such as "1,234 USD"."""
    return Decimal(text.split()[0].replace(",", ""))


async def test_summary_and_its_views_agree_with_the_portfolio(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    await buy(http, base, FIRST, 100)
    figures = await call(http, "GET", f"{base}/portfolio/{FIRST}/summary")
    nav = Decimal(str(figures["netliquidation"]["amount"]))
    for prefix in PREFIXES:
        body = await call(http, "GET", f"{server.base_url}{prefix}/iserver/account/{FIRST}/summary")
        assert {"accountType", "status", "balance", "SMA", "buyingPower", "availableFunds",
                "excessLiquidity", "netLiquidationValue", "equityWithLoanValue", "regTLoan",
                "securitiesGVP", "totalCashValue", "accruedInterest", "regTMargin",
                "initialMargin", "maintenanceMargin", "cashBalances"} <= set(body)  # fmt: skip
        assert all(isinstance(body[k], float) for k in ("balance", "netLiquidationValue"))
        assert Decimal(str(body["netLiquidationValue"])) == nav
        assert body["initialMargin"] == figures["initmarginreq"]["amount"] == 100 * 200 / 2
        assert body["buyingPower"] == figures["buyingpower"]["amount"]
        assert body["cashBalances"] == [
            {"currency": "USD", "balance": body["balance"], "settledCash": body["balance"]},
            {"currency": "Total (in USD)", "balance": body["balance"],
             "settledCash": body["balance"]},
        ]  # fmt: skip

    funds = await call(http, "GET", f"{base}/iserver/account/{FIRST}/summary/available_funds")
    assert set(funds) == {"securities", "commodities", "total"}
    total = funds["total"]
    assert {"current_available", "current_excess", "Prdctd Pst-xpry Excss", "Lk Ahd Avlbl Fnds",
            "Lk Ahd Excss Lqdty", "overnight_available", "overnight_excess", "buying_power",
            "leverage", "Lk Ahd Nxt Chng", "day_trades_left"} <= set(total)  # fmt: skip
    assert whole(total["current_available"]) == round(
        Decimal(str(figures["availablefunds"]["amount"]))
    )
    assert total["current_available"].endswith(" USD") and "," in total["current_available"]
    assert funds["commodities"]["current_available"] == "0 USD"  # no futures held
    assert funds["securities"]["leverage"] == f"{Decimal(20000) / nav:.2f}"

    balances = await call(http, "GET", f"{base}/iserver/account/{FIRST}/summary/balances")
    assert whole(balances["total"]["net_liquidation"]) == round(nav)
    assert whole(balances["securities"]["sec_gross_pos_val"]) == 20_000
    assert whole(balances["total"]["Prvs Dy Eqty Wth Ln Vl"]) == 1_000_000  # the day's start
    margins = await call(http, "GET", f"{base}/iserver/account/{FIRST}/summary/margins")
    assert whole(margins["total"]["current_initial"]) == 10_000
    assert whole(margins["total"]["current_maint"]) == 5_000
    assert margins["total"]["RegT Margin"] == margins["securities"]["RegT_margin"] == "10,000 USD"

    values = await call(http, "GET", f"{base}/iserver/account/{FIRST}/summary/market_value")
    assert list(values) == ["USD", "Total (in USD)"]
    usd = values["USD"]
    assert usd["stock"] == "20,000" and usd["futures"] == "0" and usd["Exchange Rate"] == "1.00"
    assert whole(usd["net_liquidation"]) == round(nav)
    assert values["Total (in USD)"]["stock"] == "20,000"


async def test_selected_and_dynamic_accounts(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    assert (await call(http, "GET", f"{base}/iserver/accounts"))["selectedAccount"] == FIRST
    assert await call(http, "GET", f"{base}/iserver/account") == {
        "acctId": FIRST, "selectedAccount": FIRST,
    }  # fmt: skip
    switched = await call(http, "POST", f"{base}/iserver/account", json={"acctId": SECOND})
    assert switched == {"set": True, "acctId": SECOND}
    assert (await call(http, "GET", f"{base}/iserver/accounts"))["selectedAccount"] == SECOND
    assert (await call(http, "GET", f"{base}/iserver/account"))["acctId"] == SECOND

    found = await call(http, "GET", f"{base}/iserver/account/search/du2")
    assert found == {
        "matchedAccounts": [{"accountId": SECOND, "alias": SECOND, "allocationId": SECOND}],
        "pattern": "du2",
    }
    none = await call(http, "GET", f"{base}/iserver/account/search/123")
    assert none == {"matchedAccounts": [], "pattern": "123"}
    dynamic = await call(http, "POST", f"{base}/iserver/dynaccount", json={"acctId": FIRST})
    assert dynamic == {"set": True, "acctId": FIRST}
    assert (await call(http, "GET", f"{base}/iserver/account"))["acctId"] == FIRST
    # A logout forgets the selection.
    await call(http, "POST", f"{base}/logout")
    await call(http, "POST", f"{base}/iserver/auth/ssodh/init", json={"publish": True})
    assert (await call(http, "GET", f"{base}/iserver/account"))["acctId"] == FIRST


async def test_portfolio_routes(server: RunningServer, http: aiohttp.ClientSession) -> None:
    base = server.base_url + "/v1/portal"
    await buy(http, base, FIRST, 100)
    await buy(http, base, SECOND, 30)
    meta = await call(http, "GET", f"{base}/portfolio/{SECOND}/meta")
    listed = await call(http, "GET", f"{base}/portfolio/accounts")
    assert meta == listed[1] and meta["accountId"] == SECOND and meta["currency"] == "USD"
    assert {"id", "accountVan", "displayName", "type", "tradingType", "clearingStatus", "parent",
            "desc", "PrepaidCrypto-Z", "noClientTrading"} <= set(meta)  # fmt: skip

    everywhere = await call(http, "GET", f"{base}/portfolio/positions/{AAPL}")
    assert list(everywhere) == [FIRST, SECOND]
    for account, quantity in ((FIRST, 100), (SECOND, 30)):
        [row] = everywhere[account]
        own = await call(http, "GET", f"{base}/portfolio/{account}/position/{AAPL}")
        assert row == own[0] and row["position"] == quantity and row["acctId"] == account
    assert await call(http, "GET", f"{base}/portfolio/positions/8314") == {}  # IBM: nobody

    together = await call(http, "POST", f"{base}/portfolio/allocation",
                          json={"acctIds": [FIRST, SECOND]})  # fmt: skip
    assert together["assetClass"] == {"long": {"STK": 130 * 200.0}, "short": {}}
    by_query = await call(http, "GET", f"{base}/portfolio/allocation?acctIds={FIRST}")
    assert by_query == await call(http, "GET", f"{base}/portfolio/{FIRST}/allocation")

    assert await call(http, "POST", f"{base}/portfolio/{FIRST}/positions/invalidate") == {
        "message": "success"
    }
    assert await call(http, "GET", f"{base}/portfolio/{FIRST}/combo/positions?nocache=true") == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("GET", "/iserver/account/DU0/summary", None, 404, "DU0"),
        ("GET", "/iserver/account/DU0/summary/margins", None, 404, "DU0"),
        ("POST", "/iserver/account", {"acctId": "DU0"}, 404, "DU0"),
        ("POST", "/iserver/account", {}, 400, "acctId"),
        ("POST", "/iserver/dynaccount", {"acctId": 7}, 400, "acctId"),
        ("GET", "/iserver/account/search/" + "x" * 65, None, 400, "pattern"),
        ("GET", "/portfolio/DU0/meta", None, 404, "DU0"),
        ("GET", "/portfolio/positions/abc", None, 400, "conid"),
        ("GET", "/portfolio/positions/1", None, 404, "Invalid conid 1"),
        ("POST", "/portfolio/DU0/positions/invalidate", None, 404, "DU0"),
        ("GET", f"/portfolio/{FIRST}/combo/positions?nocache=maybe", None, 400, "nocache"),
        ("POST", "/portfolio/allocation", {"acctIds": []}, 400, "acctIds"),
        ("POST", "/portfolio/allocation", {"acctIds": ["DU0"]}, 404, "DU0"),
    ],
)
async def test_bad_requests_get_a_specific_json_error(
    server: RunningServer, http: aiohttp.ClientSession, method: str, path: str, body: Any,
    status: int, needle: str,
) -> None:  # fmt: skip
    url = server.base_url + "/v1/api" + path
    answer = await call(http, method, url, json=body, status=status)
    assert needle in answer["error"]


async def test_portfolio_analyst_consolidates_several_accounts(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    await buy(http, base, FIRST, 100)  # 1.00 commission: the first account ends the day lower
    body = await call(http, "POST", f"{base}/pa/performance",
                      json={"acctIds": [FIRST, SECOND], "period": "1D"})  # fmt: skip
    [navs] = body["nav"]["data"]
    assert navs["id"] == "consolidated" and body["included"] == [FIRST, SECOND]
    assert navs["startNAV"]["val"] == 1_500_000 and navs["navs"] == [1_500_000 - 1]
    [cps] = body["cps"]["data"]
    assert cps["returns"] == pytest.approx([-1 / 1_500_000])
    periods = await call(http, "POST", f"{base}/pa/allperiods", json={"acctIds": [FIRST, SECOND]})
    assert periods[FIRST]["1D"]["nav"] == [1_000_000 - 1] and periods[SECOND]["1D"]["nav"] == [
        500_000
    ]
