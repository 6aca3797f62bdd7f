"""The faults panel: inject a fault from the page, see it listed with what is left, clear it."""

from __future__ import annotations

from playwright.async_api import Page, expect
from tests.page.conftest import ConsoleLog
from tests.page.dashboard import open_dashboard

from tickgate.server.app import RunningServer
from tickgate.server.faults.rest import FAULTS


async def test_a_rest_fault_from_the_panel_is_listed_and_cleared(
    page: Page, server: RunningServer, console: ConsoleLog
) -> None:
    await open_dashboard(page, server)
    panel = page.locator("#faults-panel")
    await expect(panel.locator("#fault-empty")).to_be_visible()
    await panel.locator("#fault-rest-status").select_option("503")
    await panel.get_by_role("button", name="Fail REST").click()
    row = panel.locator("#fault-list li")
    await expect(row).to_have_text("/iserver/marketdata/snapshot → 503 · 3 callsClear")
    (listed,) = server.runner.app[FAULTS].describe()
    assert (listed["status"], listed["callsLeft"]) == (503, 3)
    await row.get_by_role("button", name="Clear").click()
    await expect(panel.locator("#fault-empty")).to_be_visible()
    assert server.runner.app[FAULTS].describe() == []
    assert console.errors == []


async def test_dropped_sockets_from_the_panel_and_the_page_reconnects(
    page: Page, server: RunningServer
) -> None:
    await open_dashboard(page, server)
    await page.locator("#faults-panel").get_by_role("button", name="Drop sockets").click()
    await expect(page.locator("#fault-said")).to_contain_text('"dropped":1')
    await expect(page.locator("#notices")).to_contain_text("Lost the connection")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await page.locator("#fault-timed-seconds").fill("30")
    await page.locator("#faults-panel").get_by_role("button", name="Inject").click()
    await expect(page.locator("#fault-list li")).to_contain_text("heartbeat stalled · 30 s")
    await page.locator("#faults-panel").get_by_role("button", name="Clear all").click()
    await expect(page.locator("#fault-empty")).to_be_visible()
