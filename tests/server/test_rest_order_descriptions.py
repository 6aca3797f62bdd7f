"""Order answers name the contract as IBKR does: the status and live-order rows carry
`order_description_with_contract` and the other documented fields, and a question about an
option order names the option (expiry, strike, right), not only its underlying."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, call, make_config
from tests.server.fixed_market import FixedMarket
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.clock import NS_PER_S, FakeClock
from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.model.instruments import Instrument, SecType
from tickgate.server.app import RunningServer, build_app, start_server

AAPL = 265598
TODAY = datetime.datetime.fromtimestamp(SERVER_EPOCH_NS / NS_PER_S, datetime.UTC).date()


def an_aapl_call() -> Instrument:
    """The first AAPL call of the built-in chain on the test server's date."""
    calls = [i for i in default_catalogue(today=TODAY)
             if i.sec_type is SecType.OPT and i.underlying_conid == AAPL and i.right]  # fmt: skip
    return next(i for i in calls if i.right is not None and i.right.value == "C")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    option = an_aapl_call()
    market = FixedMarket({AAPL: ("199.99", "200.00", "200.00"),
                          option.conid: ("5.00", "5.10", "5.05")})  # fmt: skip
    app = build_app(make_config(tmp_path), source=market.for_gateway,
                    clock=FakeClock(SERVER_EPOCH_NS))  # fmt: skip
    running = await start_server(app)
    await asyncio.wait_for(market.ready.wait(), 10)
    yield running
    await running.stop()


def option_name(option: Instrument) -> str:
    assert option.expiry is not None and option.strike is not None
    month = datetime.date(int(option.expiry[:4]), int(option.expiry[4:6]), 1).strftime("%b")
    return (f"AAPL {month.upper()} {option.expiry[6:]} '{option.expiry[2:4]} "
            f"{option.strike.normalize():f} Call")  # fmt: skip


async def test_status_and_rows_describe_the_order_with_its_contract(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 199, "quantity": 10}
    [ack] = await place_confirmed(http, base, order)
    status = await call(http, "GET", f"{base}/iserver/account/order/status/{ack['order_id']}")
    assert status["order_description"] == "Buy 10 Limit 199.00, DAY"
    assert status["order_description_with_contract"] == "Buy 10 AAPL Limit 199.00, DAY"
    assert status["order_status_description"] == "Order Submitted"
    assert status["contract_description_1"] == "AAPL" and status["company_name"] == "APPLE INC"
    assert (status["size"], status["total_size"], status["size_and_fills"]) == ("10", "10", 0)
    assert status["cannot_cancel_order"] is False and status["conidex"] == str(AAPL)
    assert len(status["order_time"]) == 12  # yyMMddHHmmss

    filled = await place_confirmed(http, base, {**order, "orderType": "MKT", "price": None})
    done = await call(http, "GET", f"{base}/iserver/account/order/status/{filled[0]['order_id']}")
    assert done["order_description_with_contract"] == "Bought 10 AAPL Market, DAY"
    assert done["size"] == "0" and done["cum_fill"] == "10" and done["cannot_cancel_order"]
    assert done["order_status_description"] == "Order Filled"

    rows = (await call(http, "GET", f"{base}/iserver/account/orders"))["orders"]
    assert {r["order_description_with_contract"] for r in rows} == {
        "Buy 10 AAPL Limit 199.00, DAY", "Bought 10 AAPL Market, DAY",
    }  # fmt: skip
    assert all(r["exchange"] and r["bgColor"] and r["fgColor"] for r in rows)


async def test_an_option_order_names_the_option(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    option = an_aapl_call()
    far = {"conid": option.conid, "side": "BUY", "orderType": "LMT", "price": 7, "quantity": 1}
    [question] = await call(
        http, "POST", f"{base}/iserver/account/{ACCT}/orders", json={"orders": [far]}
    )
    assert question["messageIds"] == ["o163"]
    assert f"BUY 1 {option_name(option)} SMART @ 7" in question["message"][0]
    [ack] = await call(http, "POST", f"{base}/iserver/reply/{question['id']}",
                       json={"confirmed": True})  # fmt: skip
    status = await call(http, "GET", f"{base}/iserver/account/order/status/{ack['order_id']}")
    bought = f"Bought 1 {option_name(option)} Limit 7.00, DAY"
    assert status["order_description_with_contract"] == bought
    [row] = (await call(http, "GET", f"{base}/iserver/account/orders"))["orders"]
    assert row["description1"] == "AAPL" and row["description2"] in option_name(option)
