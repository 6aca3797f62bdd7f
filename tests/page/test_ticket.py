"""Stop and stop-limit orders from the ticket, end to end: placed, working, shown, cancelled."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import aiohttp
from playwright.async_api import Page, expect
from tests.conftest import call
from tests.page.dashboard import (
    AAPL,
    display_price,
    last_price,
    open_dashboard,
    order_row,
    submit_ticket,
)

from tickgate.server.app import RunningServer

WORKING = re.compile(r"^(PreSubmitted|Submitted)$")
CENT = Decimal("0.01")


async def order_status(
    http: aiohttp.ClientSession, server: RunningServer, order_id: str
) -> dict[str, Any]:
    url = f"{server.base_url}/v1/api/iserver/account/order/status/{order_id}"
    status: dict[str, Any] = await call(http, "GET", url)
    return status


async def sell_ticket(page: Page, order_type: str, quantity: int) -> Decimal:
    """Fill the ticket in for a SELL of AAPL; returns the last price it was based on."""
    await page.locator(f'#watch-rows tr[data-conid="{AAPL}"]').click()
    await page.click("#ticket-form label.sell")
    await page.select_option("#ticket-type", order_type)
    await page.fill("#ticket-qty", str(quantity))
    return await last_price(page, AAPL)


def js_number(value: Decimal) -> str:
    """How the ticket's confirmation writes a price (a JavaScript number: no trailing zeros)."""
    return format(value.normalize(), "f")


async def test_sell_stop_below_the_market_is_working_in_the_blotter(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await open_dashboard(page, server)
    last = await sell_ticket(page, "STP", 10)
    await expect(page.locator("#ticket-price-label")).to_have_text("Stop price")
    stop = (last * Decimal("0.98")).quantize(CENT)
    await page.fill("#ticket-price", str(stop))
    order_id = await submit_ticket(page, line=f"SELL 10 AAPL Stop {js_number(stop)} DAY")

    row = order_row(page, order_id)
    await expect(row).to_have_attribute("data-status", WORKING)
    await expect(row).to_contain_text("Stop")
    await expect(row.locator("td.num").nth(1)).to_contain_text(display_price(stop))
    status = await order_status(http, server, order_id)
    assert (status["order_type"], Decimal(status["stop_price"])) == ("Stop", stop)
    assert status["cum_fill"] == "0"

    await row.get_by_role("button", name="Cancel order").click()
    await expect(row).to_have_attribute("data-status", "Cancelled")


async def test_sell_stop_limit_sends_limit_in_price_and_stop_in_aux_price(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await open_dashboard(page, server)
    await expect(page.locator("#ticket-stop-field")).to_be_hidden()
    last = await sell_ticket(page, "STOP_LIMIT", 7)
    await expect(page.locator("#ticket-stop-field")).to_be_visible()
    await expect(page.locator("#ticket-price-label")).to_have_text("Limit price")
    stop = (last * Decimal("0.98")).quantize(CENT)
    limit = (last * Decimal("0.975")).quantize(CENT)
    await page.fill("#ticket-price", str(limit))
    await page.fill("#ticket-stop", str(stop))
    line = f"SELL 7 AAPL Stop limit {js_number(limit)} stop {js_number(stop)} DAY"
    order_id = await submit_ticket(page, line=line)

    row = order_row(page, order_id)
    await expect(row).to_have_attribute("data-status", WORKING)
    price = row.locator("td.num").nth(1)
    await expect(price).to_contain_text(display_price(limit))
    await expect(price).to_contain_text(f"stop {display_price(stop)}")
    status = await order_status(http, server, order_id)
    assert status["order_type"] == "Stop Limit"
    assert (Decimal(status["limit_price"]), Decimal(status["stop_price"])) == (limit, stop)


async def test_stop_limit_needs_a_stop_price(page: Page, server: RunningServer) -> None:
    await open_dashboard(page, server)
    await sell_ticket(page, "STOP_LIMIT", 1)
    await page.fill("#ticket-stop", "")
    await page.click("#ticket-submit")
    await expect(page.locator("#ticket-status")).to_have_text("Stop price must be above zero.")
    await expect(page.locator("#confirm")).not_to_be_visible()
