"""Order preview (`.../orders/whatif`) over a real socket: the documented shape, numbers from the
paper engine's own commission and margin models, and nothing placed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import call
from tests.server.fixed_market import FixedMarket, start_fixed
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.server.app import RunningServer

AAPL, BID, ASK = 265598, "199.98", "200.02"
MKT_BUY = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 300, "tif": "DAY"}


@pytest.fixture
async def fixed(tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = await start_fixed(tmp_path, FixedMarket({AAPL: (BID, ASK, "200.00")}))
    yield server
    await server.stop()


def amount(text: str) -> Decimal:
    """The number at the start of a preview text such as "1,234.50 USD"."""
    return Decimal(text.split()[0].replace(",", ""))


def assert_documented_shape(body: dict[str, Any]) -> None:
    # IBKR's example: every measure is display text, warn/error a string or null.
    assert set(body) == {"amount", "equity", "initial", "maintenance", "position", "warn", "error"}
    assert set(body["amount"]) == {"amount", "commission", "total"}
    for key in ("equity", "initial", "maintenance", "position"):
        assert set(body[key]) == {"current", "change", "after"}
        assert all(isinstance(v, str) for v in body[key].values())
    assert all(isinstance(v, str) for v in body["amount"].values())
    assert body["warn"] is None or isinstance(body["warn"], str)
    assert body["error"] is None or isinstance(body["error"], str)


async def whatif(http: aiohttp.ClientSession, base: str, order: dict[str, Any], **kw: Any) -> Any:
    url = f"{base}/iserver/account/{ACCT}/orders/whatif"
    return await call(http, "POST", url, json={"orders": [order]}, **kw)


async def summary(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    """The account summary's amounts by key (timestamps left out)."""
    body = await call(http, "GET", f"{base}/portfolio/{ACCT}/summary")
    return {key: value.get("amount") for key, value in body.items() if isinstance(value, dict)}


async def test_whatif_matches_what_the_placement_then_does(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    before = await summary(http, base)
    body = await whatif(http, base, MKT_BUY)
    assert_documented_shape(body)
    value = Decimal(ASK) * 300
    assert body["amount"]["amount"] == f"{value:,.2f} USD (300 Shares)"
    assert body["amount"]["commission"] == "1.50 USD"  # 300 x 0.005, above the 1.00 minimum
    assert amount(body["amount"]["total"]) == value + Decimal("1.50")
    assert body["position"] == {"current": "0", "change": "300", "after": "300"}
    assert amount(body["initial"]["current"]) == 0
    assert amount(body["initial"]["after"]) == value / 2  # STK initial margin 50%
    assert amount(body["maintenance"]["after"]) == value / 4
    assert amount(body["equity"]["change"]) == Decimal("-1.50")  # bought at the mark: only fees
    assert "Market Order" in body["warn"] and body["error"] is None

    assert await summary(http, base) == before  # nothing was booked
    assert (await call(http, "GET", f"{base}/iserver/account/orders"))["orders"] == []
    assert await call(http, "GET", f"{base}/iserver/account/trades") == []

    await place_confirmed(http, base, MKT_BUY)
    trades = await call(http, "GET", f"{base}/iserver/account/trades")
    assert [Decimal(t["commission"]) for t in trades] == [amount(body["amount"]["commission"])]
    after = await summary(http, base)
    assert Decimal(str(after["initmarginreq"])) == amount(body["initial"]["after"])
    assert Decimal(str(after["maintmarginreq"])) == amount(body["maintenance"]["after"])
    assert Decimal(str(after["equitywithloanvalue"])) == amount(body["equity"]["after"])

    # A second preview starts from the position just bought: selling it all frees the margin.
    sell = await whatif(http, base, {**MKT_BUY, "side": "SELL"})
    assert sell["position"] == {"current": "300", "change": "-300", "after": "0"}
    assert amount(sell["initial"]["after"]) == 0
    assert amount(sell["amount"]["amount"]) == Decimal(BID) * 300


async def test_a_resting_limit_is_previewed_at_its_price(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/portal"  # both prefixes serve it
    order = {**MKT_BUY, "orderType": "LMT", "price": 195, "quantity": 100}
    body = await whatif(http, base, order)
    assert_documented_shape(body)
    assert body["amount"]["amount"] == "19,500.00 USD (100 Shares)"
    assert body["amount"]["commission"] == "1.00 USD"  # the per-order minimum
    assert "3%" not in (body["warn"] or "")  # 195 is within 3% of the market: no question


async def test_lack_of_funds_is_reported_not_refused(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    body = await whatif(http, base, {**MKT_BUY, "quantity": 100_000})
    assert_documented_shape(body)
    assert body["error"].startswith("Order rejected: insufficient buying power")
    assert amount(body["initial"]["change"]) == Decimal(ASK) * 100_000 / 2


async def test_invalid_orders_get_the_placement_errors(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    unknown = await whatif(http, base, {**MKT_BUY, "conid": 1})
    assert unknown == {"error": "Invalid conid 1: no such contract"}
    off_grid = await whatif(http, base, {**MKT_BUY, "orderType": "LMT", "price": "200.001"})
    assert "minimum price variation" in off_grid["error"]
    malformed = await whatif(http, base, {**MKT_BUY, "quantity": "ten"}, status=400)
    assert "quantity" in malformed["error"]
    url = f"{base}/iserver/account/{ACCT}/orders/whatif"
    empty = await call(http, "POST", url, json={"orders": []}, status=400)
    assert "at least one order" in empty["error"]
    missing = await call(http, "POST", f"{base}/iserver/account/DU999/orders/whatif",
                         json={"orders": [MKT_BUY]}, status=404)  # fmt: skip
    assert "DU999" in missing["error"]


async def test_the_older_single_order_routes(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    old = await call(http, "POST", f"{base}/iserver/account/{ACCT}/order/whatif", json=MKT_BUY)
    assert old == await whatif(http, base, MKT_BUY)
    question = await call(http, "POST", f"{base}/iserver/account/{ACCT}/order", json=MKT_BUY)
    assert question[0]["messageIds"] == ["o10151"]
    ack = await call(http, "POST", f"{base}/iserver/reply/{question[0]['id']}",
                     json={"confirmed": True})  # fmt: skip
    assert ack[0]["order_status"] == "Filled"
    wrapped = {"orders": [{**MKT_BUY, "orderType": "LMT", "price": 199}]}
    placed = await call(http, "POST", f"{base}/iserver/account/{ACCT}/order", json=wrapped)
    assert placed[0]["order_status"] == "Submitted"
    bad = await call(http, "POST", f"{base}/iserver/account/{ACCT}/order", json={}, status=400)
    assert "orders" in bad["error"]


def move(server: RunningServer, bid: str, ask: str, last: str) -> None:
    """The fixed market's next quote of AAPL, published as a source's tick is."""
    values = {F.BID: bid, F.ASK: ask, F.LAST: last}
    server.gateway.bus.publish(Tick(AAPL, values, server.gateway.clock.now_ns()))


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(30):
        while not await check():
            await asyncio.sleep(0.02)  # the engine books the quote's fill and marks


async def test_a_resting_limit_costs_its_commission_and_never_shows_a_gain(
    fixed: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = fixed.base_url + "/v1/api"
    buy = {**MKT_BUY, "orderType": "LMT", "price": 101, "quantity": 3}
    body = await whatif(http, base, buy)
    assert amount(body["equity"]["change"]) == Decimal("-1.00")  # the commission
    # Placed, it rests, and fills once the market comes down to it: the account then shows
    # the preview's "after" figures.
    await place_confirmed(http, base, buy)
    move(fixed, "100.98", "101.00", "101.00")

    async def filled() -> bool:
        return len(await call(http, "GET", f"{base}/iserver/account/trades")) == 1

    await until(filled)
    after = await summary(http, base)
    assert Decimal(str(after["equitywithloanvalue"])) == amount(body["equity"]["after"])
    assert Decimal(str(after["initmarginreq"])) == amount(body["initial"]["after"])

    # Held and marked back at 200: a buy far below and a sell far above the market are
    # previewed at what their fills would then be worth, never as a gain.
    move(fixed, BID, ASK, "200.00")
    held = Decimal(str(after["equitywithloanvalue"])) + 3 * (200 - 101)

    async def marked() -> bool:
        return Decimal(str((await summary(http, base))["equitywithloanvalue"])) == held

    await until(marked)
    for order in (buy, {**buy, "side": "SELL", "price": 400}):
        preview = await whatif(http, base, order)
        assert amount(preview["equity"]["current"]) == held
        assert amount(preview["equity"]["change"]) == -amount(preview["amount"]["commission"])
