"""The Operator tab in a real Chromium: it lists the gateway's WebSocket connections, live."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import aiohttp
from playwright.async_api import Page, expect
from tests.conftest import WsClient, call
from tests.page.conftest import ConsoleLog
from tests.page.dashboard import AAPL, open_dashboard

from tickgate.server.app import RunningServer


async def test_the_operator_tab_shows_connections_as_they_come_and_go(
    page: Page,
    console: ConsoleLog,
    server: RunningServer,
    http: aiohttp.ClientSession,
    ws_connect: Callable[..., Awaitable[WsClient]],
) -> None:
    await open_dashboard(page, server)
    rows = page.locator("#operator-rows tr")
    await page.click("#tab-operator")
    await expect(page.locator("#pane-operator")).to_be_visible()
    await expect(page.locator("#pane-console")).to_be_hidden()
    # The page's own data stream: the portal dialect, streaming the watchlist.
    own = page.locator('#operator-rows tr[data-dialect="portal"]')
    await expect(own).to_have_count(1)
    await expect(own.locator("td.streams")).to_contain_text(f"{AAPL}: ")
    await expect(page.locator('#operator-source dd[data-key="source"]')).to_have_text(
        "simulator · running"
    )

    session = (await call(http, "POST", server.base_url + "/v1/api/tickle"))["session"]
    client = await ws_connect(
        server.ws_base + "/v1/api/ws", headers={"Cookie": f'api={{"session":"{session}"}}'}
    )
    await client.recv_until(lambda f: f.get("topic") == "sts")
    await client.send(f'smd+{AAPL}+{{"fields":["84","86"]}}')
    row = page.locator('#operator-rows tr[data-dialect="api"]')
    await expect(row).to_have_count(1)
    await expect(row.locator("td.streams")).to_contain_text(
        re.compile(rf"^{AAPL}: 84,86 @ \d+ ms$")
    )
    await expect(page.locator("#operator-summary")).to_contain_text("2 connections")

    await client.close()
    await expect(row).to_have_count(0)
    await expect(rows).to_have_count(1)
    assert console.errors == []
