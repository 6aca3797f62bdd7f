"""With `--auth-token`, the page sends Chromium to the login form; the token opens the page."""

from __future__ import annotations

from playwright.async_api import Page, expect
from tests.conftest import StartServer
from tests.page.dashboard import AAPL, PRICE, last_cell

TOKEN = "page-login-token-0123456789"


async def test_the_login_form_lets_the_browser_in_with_the_token(
    page: Page, start: StartServer
) -> None:
    server = await start(auth_token=TOKEN)
    await page.goto(server.base_url + "/")
    assert page.url == server.base_url + "/tickgate/login"
    await page.fill("input[name=token]", "not-the-token-but-long-enough")
    await page.click("button[type=submit]")
    await expect(page.locator(".login-error")).to_have_text("Wrong token.")
    await page.fill("input[name=token]", TOKEN)
    await page.click("button[type=submit]")
    # The form's POST carried the page's own Origin (not `null`), and the cookie opens the API
    # and the page's WebSocket.
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    await expect(last_cell(page, AAPL)).to_have_text(PRICE)
    cookies = {c["name"]: c for c in await page.context.cookies()}
    login = cookies["tickgate-login"]
    assert login["httpOnly"] and login["sameSite"] == "Strict" and TOKEN not in login["value"]
