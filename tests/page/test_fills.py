"""The Fills tab: one row per execution from /iserver/account/trades, live and after a reload."""

from __future__ import annotations

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

QUANTITY = 6_000  # more than the simulated ask shows at once (and within the margin)


async def executions(
    http: aiohttp.ClientSession, server: RunningServer, order_id: str
) -> list[dict[str, Any]]:
    trades = await call(http, "GET", server.base_url + "/v1/api/iserver/account/trades?days=1")
    return [trade for trade in trades if trade["order_ref"] == order_id]


async def expect_fill_rows(page: Page, trades: list[dict[str, Any]]) -> None:
    """The Fills tab shows exactly `trades`, each at its own size and price."""
    await page.click("#tab-fills")
    rows = page.locator("#blotter-fills tr")
    await expect(rows).to_have_count(len(trades))
    for trade in trades:
        row = page.locator(f'#blotter-fills tr[data-execution-id="{trade["execution_id"]}"]')
        await expect(row.locator("td.price")).to_have_text(display_price(trade["price"]))
        await expect(row.locator("td.num").first).to_have_text(f"{Decimal(trade['size']):,}")
        await expect(row).to_contain_text("BUY")


async def test_each_execution_is_a_row_priced_at_its_own_price(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await open_dashboard(page, server)
    await page.locator(f'#watch-rows tr[data-conid="{AAPL}"]').click()
    # A marketable limit within 3% of the market: no question, filled at the asks as they come.
    limit = (await last_price(page, AAPL) * Decimal("1.02")).quantize(Decimal("0.01"))
    await page.fill("#ticket-qty", str(QUANTITY))
    await page.fill("#ticket-price", str(limit))
    order_id = await submit_ticket(page)
    row = order_row(page, order_id)
    await expect(row).to_have_attribute("data-status", "Filled")

    trades = await executions(http, server, order_id)
    assert len(trades) >= 2, trades
    assert sum(Decimal(trade["size"]) for trade in trades) == QUANTITY
    await expect_fill_rows(page, trades)

    # After a reload the partial fills are still one row each.
    await open_dashboard(page, server)
    await expect(page.locator("#blotter-panel")).to_have_attribute("data-trades", "loaded")
    await expect_fill_rows(page, trades)
