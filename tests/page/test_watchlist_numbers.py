"""The watchlist shows the portal dialect's price numbers with each instrument's decimals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from tests.page.dashboard import AAPL
from tests.server.fixed_market import FixedMarket, start_fixed

from tickgate.server.app import RunningServer

EURUSD = 12087792
ROWS = [{"conid": AAPL, "symbol": "AAPL"}, {"conid": EURUSD, "symbol": "EUR.USD"}]


@pytest.fixture
async def fixed_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    # Quotes whose text ends in zeros: the numbers on the wire (189.5, 1.085) do not.
    quotes = {AAPL: ("189.50", "189.60", "189.50"), EURUSD: ("1.08500", "1.08505", "1.08500")}
    server = await start_fixed(tmp_path, FixedMarket(quotes, size=1300))
    try:
        yield server
    finally:
        await server.stop()


async def test_prices_keep_their_decimals_and_sizes_their_separators(
    page: Page, fixed_server: RunningServer
) -> None:
    await page.add_init_script(f"localStorage.setItem('tickgate.watchlist', '{json.dumps(ROWS)}')")
    await page.goto(fixed_server.base_url + "/")
    aapl = page.locator(f'#watch-rows tr[data-conid="{AAPL}"]')
    eur = page.locator(f'#watch-rows tr[data-conid="{EURUSD}"]')
    await expect(aapl).to_have_attribute("data-decimals", "2", timeout=30_000)
    await expect(eur).to_have_attribute("data-decimals", "5", timeout=30_000)
    for row, cells in (
        (aapl, {"last": "189.50", "bid": "189.50", "ask": "189.60"}),
        (eur, {"last": "1.08500", "bid": "1.08500", "ask": "1.08505"}),
    ):
        for css, text in {**cells, "bidsz": "1,300", "asksz": "1,300"}.items():
            await expect(row.locator(f"td.{css}")).to_have_text(text, timeout=30_000)
