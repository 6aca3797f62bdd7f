"""Order answers carry IBKR's fields: bracket children name their parent; the live-orders
`filters` parameter is read however clients spell it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.conftest import call
from tests.server.fixed_market import FixedMarket, start_fixed
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.server.app import RunningServer

AAPL = 265598


@pytest.fixture
async def fixed(tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_fixed(tmp_path, FixedMarket({AAPL: ("199.98", "200.02", "200.00")}))
    yield server
    await server.stop()


def bracket() -> list[dict[str, object]]:
    leg = {"conid": AAPL, "quantity": 10, "tif": "GTC"}
    return [
        {**leg, "cOID": "entry-1", "side": "BUY", "orderType": "LMT", "price": 198},
        {**leg, "parentId": "entry-1", "side": "SELL", "orderType": "LMT", "price": 203},
        {**leg, "parentId": "entry-1", "side": "SELL", "orderType": "STP", "price": 196},
    ]


async def test_bracket_children_carry_parent_order_id(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    acks = await call(http, "POST", f"{base}/iserver/account/{ACCT}/orders",
                      json={"orders": bracket()})  # fmt: skip
    parent = acks[0]["order_id"]
    assert "parent_order_id" not in acks[0]
    assert [a["parent_order_id"] for a in acks[1:]] == [parent, parent]
    for ack in acks:
        status = await call(http, "GET", f"{base}/iserver/account/order/status/{ack['order_id']}")
        assert status["parent_order_id"] == ack.get("parent_order_id")


async def test_filters_comma_separated_repeated_and_any_case(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    resting = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 199, "quantity": 1}
    await place_confirmed(http, base, resting)
    await place_confirmed(http, base, {**resting, "orderType": "MKT", "price": None})
    url = f"{base}/iserver/account/orders"

    async def statuses(query: str) -> list[str]:
        body = await call(http, "GET", f"{url}?{query}")
        return sorted(o["status"] for o in body["orders"])

    both = ["Filled", "Submitted"]
    assert await statuses("filters=Filled") == ["Filled"]
    assert await statuses("Filters=submitted") == ["Submitted"]
    assert await statuses("FILTERS=filled,submitted") == both
    assert await statuses("filters=filled&filters=Submitted") == both
    assert await statuses("filters=filled&FILTERS=submitted") == both
    assert await statuses("filters=cancelled") == []
