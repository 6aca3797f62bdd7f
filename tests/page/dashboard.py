"""The page as the browser tests drive it: open it, read a price, place an order from the ticket."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.async_api import Locator, Page, expect

from tickgate.server.app import RunningServer

PRICE = re.compile(r"^\d[\d,]*\.\d+$")
AAPL = 265598
ASKING_OR_DONE = """() => document.querySelector("#confirm").open
    || ["ok", "error"].includes(document.querySelector("#ticket-status").dataset.level)"""


async def open_dashboard(page: Page, server: RunningServer) -> None:
    """Open the page and wait until its data stream is live and AAPL has a last price."""
    await page.goto(server.base_url + "/")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(last_cell(page, AAPL)).to_have_text(PRICE)


def last_cell(page: Page, conid: int) -> Locator:
    return page.locator(f'#watch-rows tr[data-conid="{conid}"] td.last')


async def last_price(page: Page, conid: int) -> Decimal:
    """The watchlist's current last price of `conid`."""
    return Decimal((await last_cell(page, conid).inner_text()).replace(",", ""))


def display_price(value: Decimal | str) -> str:
    """A price as the page shows it: thousands separators, at least two decimals."""
    decimals = max(2, len(str(value).partition(".")[2]))
    return f"{Decimal(value):,.{decimals}f}"


async def submit_ticket(page: Page, *, line: str | None = None) -> str:
    """Submit the ticket as filled in, say yes to every question; returns the new order id.

    With `line`, the confirmation must show it. Fails the test when the order is not accepted.
    """
    await page.click("#ticket-submit")
    if line is not None:
        await expect(page.locator("#confirm")).to_contain_text(line)
    return await answer_yes(page)


async def answer_yes(page: Page) -> str:
    """Say yes to the open confirmation and every question after it; the new order's id."""
    dialog = page.locator("#confirm")
    status = page.locator("#ticket-status")
    for _ in range(6):
        await page.wait_for_function(ASKING_OR_DONE)
        if not await dialog.evaluate("dialog => dialog.open"):
            break
        await page.click("#confirm-yes")
    await expect(status).to_have_attribute("data-level", "ok")
    found = re.search(r"Order (\S+)", await status.inner_text())
    assert found is not None
    return found.group(1)


def order_row(page: Page, order_id: str) -> Locator:
    return page.locator(f'#blotter-orders tr[data-order-id="{order_id}"]')
