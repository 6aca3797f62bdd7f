"""Another currency over a real socket: Apple's Swiss listing (EBS, CHF, IBKR's conid
273982664) bought from a USD account, valued through USD.CHF (12087820), and a currency
conversion on EUR.USD (12087792); the ledger, positions, summaries and P&L show it in IBKR's
shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import call
from tests.server.fixed_market import FixedMarket, start_fixed

from tickgate.server.app import RunningServer

AAPL_EBS, USDCHF, EURUSD = 273982664, 12087820, 12087792
ACCT = "DU1234567"
D = Decimal
RATE = D("1.25")  # dollars a franc: USD.CHF at a mid of 0.8000


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    market = FixedMarket({
        AAPL_EBS: ("204.99", "205.00", "205.00"),
        USDCHF: ("0.79990", "0.80010", "0.80000"),
        EURUSD: ("1.19990", "1.20010", "1.20000"),
    })  # fmt: skip
    running = await start_fixed(tmp_path, market, market_hours="always")
    yield running
    await running.stop()


async def place(http: aiohttp.ClientSession, base: str, order: dict[str, Any]) -> Any:
    answer = await call(http, "POST", f"{base}/iserver/account/{ACCT}/orders",
                        json={"orders": [order]})  # fmt: skip
    while isinstance(answer, list) and "message" in answer[0]:
        answer = await call(
            http, "POST", f"{base}/iserver/reply/{answer[0]['id']}", json={"confirmed": True}
        )
    return answer


@pytest.mark.parametrize("prefix", ["/v1/api", "/v1/portal"])
async def test_a_franc_listing_settles_in_francs_and_every_view_shows_it(
    server: RunningServer, http: aiohttp.ClientSession, prefix: str
) -> None:
    base = server.base_url + prefix
    [ack] = await place(http, base, {"conid": AAPL_EBS, "side": "BUY", "orderType": "MKT",
                                     "quantity": 10, "tif": "DAY"})  # fmt: skip
    assert ack["order_status"] == "Filled", ack
    # The USD 1.00 minimum commission is CHF 0.80 at 0.8000 francs a dollar.
    paid = D("2050.00") + D("0.80")
    ledger = await call(http, "GET", f"{base}/portfolio/{ACCT}/ledger")
    assert list(ledger) == ["USD", "CHF", "BASE"]
    chf, total = ledger["CHF"], ledger["BASE"]
    assert chf["cashbalance"] == chf["settledcash"] == float(-paid)
    assert chf["exchangerate"] == float(RATE) and chf["stockmarketvalue"] == 2050.0
    assert chf["commissions"] == 0.8 and chf["currency"] == chf["secondkey"] == "CHF"
    assert total["cashbalance"] == float(D(1_000_000) - paid * RATE)
    assert total["stockmarketvalue"] == float(D(2050) * RATE)
    assert total["secondkey"] == "BASE"

    [row] = await call(http, "GET", f"{base}/portfolio/{ACCT}/positions/0")
    assert row["currency"] == "CHF" and row["mktValue"] == 2050.0
    assert row["baseMktValue"] == float(D(2050) * RATE)
    assert row["baseAvgPrice"] == float(paid / 10 * RATE)

    summary = await call(http, "GET", f"{base}/portfolio/{ACCT}/summary")
    nav = D(1_000_000) - paid * RATE + D(2050) * RATE
    assert summary["netliquidation"]["amount"] == float(nav)
    assert summary["netliquidation"]["currency"] == "USD"
    assert summary["totalcashvalue"]["amount"] == total["cashbalance"]
    pnl = await call(http, "GET", f"{base}/iserver/account/pnl/partitioned")
    assert pnl["upnl"][f"{ACCT}.Core"]["nl"] == float(nav)

    flat = await call(http, "GET", f"{base}/iserver/account/{ACCT}/summary")
    cash = {r["currency"]: r["balance"] for r in flat["cashBalances"]}
    assert cash == {"USD": 1_000_000.0, "CHF": float(-paid),
                    "Total (in USD)": total["cashbalance"]}  # fmt: skip
    values = await call(http, "GET", f"{base}/iserver/account/{ACCT}/summary/market_value")
    assert list(values) == ["USD", "CHF", "Total (in USD)"]
    assert values["CHF"]["stock"] == "2,050" and values["CHF"]["Exchange Rate"] == "1.25"
    assert values["Total (in USD)"]["stock"] == "2,562"  # 2,562.5 in whole dollars
    margins = await call(http, "GET", f"{base}/iserver/account/{ACCT}/summary/margins")
    assert margins["total"]["current_initial"] == "1,281 USD"  # 50% of 2,562.5


async def test_a_currency_conversion_order_moves_cash_at_the_simulated_quote(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    conversion = {"conid": EURUSD, "side": "BUY", "orderType": "MKT", "quantity": 1000,
                  "tif": "DAY", "isCcyConv": True}  # fmt: skip
    [ack] = await place(http, base, conversion)
    assert ack["order_status"] == "Filled", ack
    ledger = await call(http, "GET", f"{base}/portfolio/{ACCT}/ledger")
    assert ledger["EUR"]["cashbalance"] == 1000.0 and ledger["EUR"]["exchangerate"] == 1.2
    assert ledger["USD"]["cashbalance"] == float(D(1_000_000) - D("1200.10") - D("5.00"))
    assert await call(http, "GET", f"{base}/portfolio/{ACCT}/positions/0") == []
    refused = await call(http, "POST", f"{base}/iserver/account/{ACCT}/orders", json={
        "orders": [{"conid": EURUSD, "side": "BUY", "orderType": "MKT", "quantity": 1,
                    "isCcyConv": "perhaps"}]}, status=400)  # fmt: skip
    assert "isCcyConv" in refused["error"]
