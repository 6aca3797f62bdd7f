"""The logged-out state: detected from 401s, `sts` frames and a light status check; login again."""

from __future__ import annotations

import aiohttp
from playwright.async_api import Page, Request, expect
from tests.conftest import call
from tests.page.dashboard import AAPL, answer_yes, last_cell, open_dashboard, order_row

from tickgate.server.app import RunningServer

CHECK_MS = 10_000


async def log_out(http: aiohttp.ClientSession, server: RunningServer) -> None:
    await call(http, "POST", server.base_url + "/v1/api/logout")


async def authenticated(http: aiohttp.ClientSession, server: RunningServer) -> bool:
    status = await call(http, "GET", server.base_url + "/v1/api/iserver/auth/status")
    return bool(status["authenticated"])


async def expect_logged_out(page: Page) -> None:
    pill = page.locator("#conn")
    await expect(pill).to_have_attribute("data-state", "loggedout")
    await expect(pill).to_have_text("Logged out")
    banner = page.locator("#session-banner")
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Logged out")
    await expect(banner.get_by_role("button", name="Log in again")).to_be_enabled()


async def log_in_and_expect_live(page: Page) -> None:
    await page.get_by_role("button", name="Log in again").click()
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(page.locator("#session-banner")).to_be_hidden()
    cell = last_cell(page, AAPL)
    before = await cell.inner_text()
    await expect(cell).not_to_have_text(before)


async def test_logout_elsewhere_is_shown_and_login_reconnects(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await page.clock.install()
    await open_dashboard(page, server)
    await log_out(http, server)
    # Within one status-check period the page knows (a 401 of a poll may tell it sooner).
    await page.clock.run_for(CHECK_MS)
    await expect_logged_out(page)
    await expect(page.locator("#notices")).not_to_contain_text("Lost the connection")

    await log_in_and_expect_live(page)
    assert await authenticated(http, server)
    await expect(page.locator("#blotter-panel")).to_have_attribute("data-orders", "loaded")


async def test_reload_while_logged_out_offers_login_instead_of_reconnecting(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await log_out(http, server)
    await page.goto(server.base_url + "/")
    await expect_logged_out(page)
    await expect(page.locator("#conn")).not_to_contain_text("Reconnecting")
    await log_in_and_expect_live(page)
    await expect(page.locator("#chart-panel")).to_have_attribute("data-history", "loaded")


async def test_sts_frame_on_the_console_socket_tells_the_page_at_once(
    page: Page, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await page.clock.install()
    await open_dashboard(page, server)
    await page.select_option("#console-dialect", "/v1/api/ws")
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    # No timer runs from here on: neither the polls nor the status check can tell the page.
    await page.clock.pause_at(await page.evaluate("Date.now() + 1000"))
    await log_out(http, server)
    await expect_logged_out(page)


async def test_status_check_is_light_and_never_splits_an_order_question(
    page: Page, server: RunningServer
) -> None:
    await page.clock.install()
    await open_dashboard(page, server)
    checks: list[str] = []
    page.on(
        "request",
        lambda request: checks.append(request.url) if "/auth/status" in request.url else None,
    )
    await page.clock.run_for(6 * CHECK_MS)
    assert 5 <= len(checks) <= 6, checks

    # A market order asks a question; while it is open, nothing else may reach the server.
    await page.locator(f'#watch-rows tr[data-conid="{AAPL}"]').click()
    await page.select_option("#ticket-type", "MKT")
    await page.fill("#ticket-qty", "5")
    await page.click("#ticket-submit")
    await page.click("#confirm-yes")
    await expect(page.locator("#confirm")).to_contain_text("The server asks you to confirm")
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request) if "/v1/api/" in request.url else None)
    await page.clock.run_for(3 * CHECK_MS)
    assert [request.url for request in sent] == []
    # The reply is still current: the order is accepted, not refused with a stale-reply 503.
    order_id = await answer_yes(page)
    await expect(order_row(page, order_id)).to_be_visible()
