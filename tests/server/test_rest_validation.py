"""Issue 10's REST reproducers over a real socket: each is a 400 naming the field, logged once
without a traceback, and the market and the order book carry on as if it never came."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tests.conftest import StartServer, WsClient, call

from tickgate.server.app import RunningServer

ACCT = "DU1234567"
AAPL = 265598
Connect = Callable[..., Awaitable[WsClient]]


@pytest.fixture
async def busy(
    start: StartServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[RunningServer]:
    """A server with a lively market, primed, market-order and price questions suppressed; at
    the end no log record may be an error or carry a traceback."""
    caplog.set_level(logging.INFO, logger="tickgate")
    server = await start(ticks_per_second=2000.0)
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    suppress = {"messageIds": ["o10151", "o163"]}
    await call(http, "POST", f"{base}/iserver/questions/suppress", json=suppress)
    yield server
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


async def post_orders(
    http: aiohttp.ClientSession, server: RunningServer, order: dict[str, Any], status: int
) -> Any:
    url = f"{server.base_url}/v1/api/iserver/account/{ACCT}/orders"
    return await call(http, "POST", url, json={"orders": [order]}, status=status)


def trail(amount: Any) -> dict[str, Any]:
    return {"conid": AAPL, "side": "SELL", "orderType": "TRAIL", "quantity": 1,
            "trailingAmt": amount, "tif": "GTC"}  # fmt: skip


def limit(**changes: Any) -> dict[str, Any]:
    return {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 1, "quantity": 1,
            "tif": "GTC", **changes}  # fmt: skip


async def assert_market_flows(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    """Quotes of AAPL keep streaming at the simulator's pace and a market order still fills."""
    ws = await ws_connect(server.ws_base + "/v1/portal/ws")
    await ws.send(f's+md+{AAPL}+{{"fields":"31,84,86"}}')
    for _ in range(10):  # a crashing market-data task restarts once a second: ~1 frame/s
        await ws.recv_until(lambda f: f.get("topic") == f"md+{AAPL}" and "error" not in f, 5)
    await ws.close()
    ack = await post_orders(
        http, server, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1}, 200
    )
    assert ack[0]["order_status"] == "Filled"


async def test_a_poison_trailing_order_is_refused_and_market_data_keeps_flowing(
    busy: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    for amount in ("1e999999", "1e-999999", 1e300):
        body = await post_orders(http, busy, trail(amount), 400)
        assert body["error"].startswith("Invalid trailingAmt:"), body
    orders = await call(http, "GET", f"{busy.base_url}/v1/api/iserver/account/orders")
    assert orders["orders"] == [] and busy.gateway.trading.state.orders == {}
    await assert_market_flows(busy, http, ws_connect)


async def test_a_poison_modify_is_refused_and_the_order_keeps_working(
    busy: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    [ack] = await post_orders(http, busy, trail(5), 200)
    url = f"{busy.base_url}/v1/api/iserver/account/{ACCT}/order/{ack['order_id']}"
    for change, field in [
        ({"trailingAmt": "1e999999"}, "trailingAmt"),
        ({"price": 1e26}, "price"),
        ({"auxPrice": "1e26"}, "auxPrice"),
        ({"quantity": "1e999999"}, "quantity"),
        ({"outsideRTH": "no"}, "outsideRTH"),
    ]:
        body = await call(http, "POST", url, json=change, status=400)
        assert body["error"].startswith(f"Invalid {field}:"), body
    order = busy.gateway.trading.state.orders[int(ack["order_id"])]
    assert order.trailing_amount == 5 and order.is_working
    await assert_market_flows(busy, http, ws_connect)


@pytest.mark.parametrize(
    ("order", "field"),
    [
        (limit(price=1e26), "price"),
        (limit(price="1e27"), "price"),
        (limit(orderType="STOP_LIMIT", auxPrice=1e28), "auxPrice"),
        (limit(quantity="1e999999"), "quantity"),
        (limit(parentId="²"), "parentId"),
        (limit(parentId="1" * 4301), "parentId"),
        (limit(parentId="١"), "parentId"),
        (limit(outsideRTH="no"), "outsideRTH"),
        (limit(outsideRTH=-1), "outsideRTH"),
        (limit(cOID={}), "cOID"),
        (limit(cOID="x" * 100_000), "cOID"),
        (limit(conid="٢٦٥٥٩٨"), "conid"),
    ],
)
async def test_each_reproducer_is_a_400_naming_the_field(
    busy: RunningServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    order: dict[str, Any],
    field: str,
) -> None:
    caplog.clear()
    body = await post_orders(http, busy, order, 400)
    assert set(body) == {"error"} and body["error"].startswith(f"Invalid {field}"), body
    assert len(body["error"]) < 200
    logged = [r for r in caplog.records if "/orders" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.INFO  # once, no traceback
    assert busy.gateway.trading.state.orders == {}


async def test_outside_rth_false_is_stored_false(
    busy: RunningServer, http: aiohttp.ClientSession
) -> None:
    stored = {}
    for raw in ("false", False, "true", True):
        [ack] = await post_orders(http, busy, limit(outsideRTH=raw), 200)
        stored[str(raw)] = busy.gateway.trading.state.orders[int(ack["order_id"])].outside_rth
    assert stored == {"false": False, "False": False, "true": True, "True": True}


async def test_path_and_query_numbers_are_ascii_only(
    busy: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = busy.base_url + "/v1/api"
    [ack] = await post_orders(http, busy, limit(), 200)
    eastern = ack["order_id"].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for method, path, needle in [
        ("DELETE", f"iserver/account/{ACCT}/order/{eastern}", "orderId"),
        ("GET", f"iserver/account/order/status/{eastern}", "orderId"),
        ("GET", f"iserver/marketdata/snapshot?conids={AAPL:_}", "conids"),
        ("GET", "iserver/marketdata/history?conid=٢٦٥٥٩٨", "conid"),
        ("GET", f"iserver/marketdata/history?conid={AAPL}&period=١d", "period"),
        ("GET", f"iserver/secdef/info?conid={AAPL}&sectype=OPT&month=JAN27&strike=NaN", "strike"),
        ("GET", f"portfolio/{ACCT}/position/²", "conid"),
        ("GET", "iserver/account/trades?days=٣", "days"),
    ]:
        body = await call(http, method, f"{base}/{path}", status=400)
        assert needle in body["error"], (path, body)
    assert busy.gateway.trading.state.orders[int(ack["order_id"])].is_working


async def test_deeply_nested_values_are_refused_not_rendered(
    busy: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = busy.base_url + "/v1/api"
    [ack] = await post_orders(http, busy, limit(), 200)
    deep = "[" * 1000 + "]" * 1000  # orjson reads it; Python's repr of it raises RecursionError
    for path, body, status in [
        ("iserver/secdef/search", f'{{"symbol": {deep}}}', 400),
        ("iserver/secdef/search", f'{{"symbol": "AAPL", "secType": {deep}}}', 400),
        ("trsrv/secdef", f'{{"conids": {deep}}}', 400),
        (f"iserver/account/{ACCT}/order/{ack['order_id']}", f'{{"side": {deep}}}', 200),
        (f"iserver/account/{ACCT}/order/{ack['order_id']}", f'{{"conid": {deep}}}', 200),
        (f"iserver/account/{ACCT}/orders", f'{{"orders": [{{"conid": {deep}}}]}}', 400),
    ]:
        answer = await call(http, "POST", f"{base}/{path}", data=body, status=status)
        assert len(answer["error"]) < 200, (path, answer)


async def test_a_posted_search_honours_every_body_field(
    busy: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = f"{busy.base_url}/v1/api/iserver/secdef/search"
    rows = await call(http, "POST", url, json={"symbol": "AAPL", "secType": "STK"})
    assert rows and all(row["symbol"] == "AAPL" for row in rows)
    refused = await call(http, "POST", url, json={"symbol": "AAPL", "secType": "BOND"}, status=400)
    assert "secType" in refused["error"]


async def test_long_ids_are_echoed_short(busy: RunningServer, http: aiohttp.ClientSession) -> None:
    base = busy.base_url + "/v1/api"
    body = await call(
        http, "POST", f"{base}/iserver/reply/{'r' * 5000}", json={"confirmed": True}, status=400
    )
    assert body["error"] == f"reply id not found: '{'r' * 40}...'"
    body = await call(http, "POST", f"{base}/iserver/account", json={"acctId": "A" * 5000},
                      status=404)  # fmt: skip
    assert len(body["error"]) < 100


async def test_unknown_names_are_refusals_and_wrong_types_are_400s(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    # As README says: a side, orderType or tif the engine does not know is IBKR's 200 refusal;
    # a value of the wrong JSON type is a 400 naming the field. Neither stores anything.
    for change, words in (({"side": "HOLD"}, "Invalid side 'HOLD'"),
                          ({"orderType": "FOO"}, "Unsupported orderType 'FOO'"),
                          ({"tif": "XYZ"}, "Unsupported tif 'XYZ'")):  # fmt: skip
        assert await post_orders(http, server, limit(**change), 200) == {
            "error": f"{words}" + (": expected BUY or SELL" if "side" in change else "")
        }
    for change, field in (({"side": 5}, "side"), ({"tif": 1}, "tif"), ({"price": "abc"}, "price")):
        refused = await post_orders(http, server, limit(**change), 400)
        assert refused["error"].startswith(f"Invalid {field}: ")
    live = await call(http, "GET", f"{server.base_url}/v1/api/iserver/account/orders")
    assert live["orders"] == []
