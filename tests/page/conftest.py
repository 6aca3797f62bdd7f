"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, in the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
#: How long an action or an `expect` waits for the page before failing the test. A hang guard,
#: not a speed check: on a loaded 2-core machine Chromium may take several seconds to load the
#: page, open its WebSocket and show a first price (Playwright's own 5 s `expect` default made
#: the login and layout tests fail there while nothing was wrong).
PAGE_TIMEOUT_MS = 30_000
expect.set_options(timeout=PAGE_TIMEOUT_MS)


@dataclass
class ConsoleLog:
    """Everything the page reported as an error: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)
    failed_urls: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource"):
            self.failed_urls.append(message.location.get("url", ""))
        self.errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
async def page(browser: Browser, console: ConsoleLog) -> AsyncIterator[Page]:
    """A fresh page (empty storage) on a laptop-sized viewport, its errors recorded in `console`."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    opened = await context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT_MS)
    opened.on("console", console.on_console)
    opened.on("pageerror", console.on_page_error)
    try:
        yield opened
    finally:
        await context.close()
