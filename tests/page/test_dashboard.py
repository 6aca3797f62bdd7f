"""The page at `/` in a real Chromium: console, watchlist, chart, ticket, blotter, reconnects."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from playwright.async_api import Page, expect
from tests.conftest import StartServer
from tests.page.conftest import ARTIFACTS, ConsoleLog
from tests.page.dashboard import (
    AAPL,
    PRICE,
    last_cell,
    open_dashboard,
    order_row,
    submit_ticket,
)

from tickgate.server.app import RunningServer

LOADED = re.compile(r"^(loaded|missing)$")
#: The server's words for conid 1, which does not exist (IBKR says "Invalid conid").
NO_SUCH_CONID = re.compile(r"(invalid|unknown) conid 1\b", re.IGNORECASE)


def missing_endpoint_note(path: str) -> str:
    """Where the page tells the user that the endpoint at `path` is missing."""
    if path.startswith("/v1/api/portfolio/"):
        return "#blotter-positions-note"
    notes = {
        "/v1/api/iserver/marketdata/history": "#chart-note",
        "/v1/api/iserver/account/orders": "#blotter-orders-note",
        "/v1/api/iserver/account/trades": "#blotter-trades-note",
        "/v1/api/iserver/account/pnl/partitioned": "#blotter-pnl-note",
    }
    assert path in notes, f"the page needs {path}, which the server lacks"
    return notes[path]


async def route_is_missing(http: aiohttp.ClientSession, url: str) -> bool:
    """True when the server has no route at all for GET `url` (an endpoint not built yet)."""
    async with http.get(url) as response:
        if response.status != 404:
            return False
        body = await response.json()
    return str(body.get("error", "")).startswith("no route")


async def test_page_loads_without_console_errors(
    page: Page, console: ConsoleLog, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await open_dashboard(page, server)
    blotter = page.locator("#blotter-panel")
    for name in ("orders", "trades", "positions", "pnl"):
        await expect(blotter).to_have_attribute(f"data-{name}", LOADED)
    await expect(page.locator("#chart-panel")).to_have_attribute("data-history", LOADED)
    # An endpoint the server does not have yet is shown on the page as "not available"; the
    # browser logs its 404 too, which is not a page error. Anything else is.
    missing = {url for url in console.failed_urls if await route_is_missing(http, url)}
    errors = [error for error in console.errors if not any(url in error for url in missing)]
    assert errors == []
    for url in missing:
        note = page.locator(missing_endpoint_note(urlsplit(url).path))
        await expect(note).to_contain_text(re.compile("not available|no history endpoint"))
    assert await page.title() == "tickgate · console and paper trading"


async def test_console_command_produces_frames(page: Page, server: RunningServer) -> None:
    await open_dashboard(page, server)
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    await page.get_by_role("button", name='s+md+265598+{"tempo":1000').click()
    await page.click("#console-send")
    frame = page.locator('#console-frames .frame.in[data-topic="md+265598"]').first
    await expect(frame).to_contain_text('"31":')
    await expect(page.locator("#console-frames .frame.out").first).to_contain_text("s+md+265598")

    # A bad command gets an error frame in plain words, and the socket stays usable.
    await page.fill("#console-input", 's+md+1+{"fields":"31"}')
    await page.press("#console-input", "Enter")
    await expect(page.locator("#console-frames .frame.error").first).to_contain_text(NO_SUCH_CONID)

    # Filter by topic hides other rows; clear empties the log.
    await page.fill("#console-filter", "md+265598")
    visible = page.locator("#console-frames .frame:visible")
    await expect(visible.first).to_be_visible()
    for topic in await visible.evaluate_all("rows => rows.map(r => r.dataset.topic)"):
        assert topic == "md+265598"
    await page.click("#console-clear")
    await expect(page.locator("#console-count")).to_have_text(re.compile(r"^\d+ frames$"))


async def test_console_pause_holds_frames_until_resumed(page: Page, server: RunningServer) -> None:
    await open_dashboard(page, server)
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    await page.fill("#console-input", "s+md+265598")
    await page.click("#console-send")
    rows = page.locator('#console-frames .frame.in[data-topic="md+265598"]')
    await expect(rows.first).to_be_visible()
    await page.click("#console-pause")
    shown = await rows.count()
    await expect(page.locator("#console-count")).to_contain_text("held while paused")
    assert await rows.count() == shown
    await page.click("#console-pause")
    await expect(page.locator("#console-count")).not_to_contain_text("held")
    await expect(rows).not_to_have_count(shown)


#: The four instruments the pause test streams, alone in the catalogue and each pinned at a rate
#: that fills the console's hold within a second, while the whole market stays small enough that
#: a loaded machine still serves the page promptly (a 20 k ticks/s market of every instrument
#: made page loads time out when the machine was busy).
FAST_FOUR = """conid,symbol,sec_type,reference_price,ticks_per_second
265598,AAPL,STK,190.00,300
272093,MSFT,STK,410.00,300
756733,SPY,STK,520.00,300
8314,IBM,STK,180.00,300
"""


async def test_console_says_how_many_frames_a_long_pause_dropped(
    page: Page, start: StartServer, tmp_path: Path
) -> None:
    catalogue = tmp_path / "fast-four.csv"
    catalogue.write_text(FAST_FOUR)
    server = await start(catalogue=catalogue, catalogue_mode="replace")
    await open_dashboard(page, server)
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    for conid in (265598, 272093, 756733, 8314):
        await page.fill("#console-input", f's+md+{conid}+{{"tempo":0}}')
        await page.click("#console-send")
    last_topic = page.locator('#console-frames .frame.in[data-topic="md+8314"]')
    await expect(last_topic.first).to_be_visible()
    await page.click("#console-pause")
    dropped = page.locator("#console-dropped")
    await expect(dropped).to_be_visible()
    await expect(dropped).to_have_text(
        re.compile(r"^\d+ older frames dropped while paused: only the newest 500 are held\.$")
    )
    await expect(page.locator("#console-count")).to_contain_text("500 held while paused")
    # The count stays on show after resuming (the log itself cannot hold more), until cleared.
    await page.click("#console-pause")
    await expect(dropped).to_have_text(
        re.compile(r"^\d+ older frames were dropped during the last pause \(only the newest 500")
    )
    await page.click("#console-clear")
    await expect(dropped).to_be_hidden()


async def test_current_dialect_console_gets_the_connect_burst(
    page: Page, server: RunningServer
) -> None:
    await open_dashboard(page, server)
    await page.select_option("#console-dialect", "/v1/api/ws")
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    await expect(page.locator('#console-frames .frame.in[data-topic="sts"]').first).to_be_visible()
    await page.fill("#console-input", 'smd+265598+{"fields":["31","84","86"]}')
    await page.click("#console-send")
    await expect(
        page.locator('#console-frames .frame.in[data-topic="smd+265598"]').first
    ).to_contain_text('"31"')


async def test_watchlist_price_changes_and_flashes(page: Page, server: RunningServer) -> None:
    await open_dashboard(page, server)
    cell = last_cell(page, AAPL)
    first = await cell.inner_text()
    await expect(cell).not_to_have_text(first)
    await expect(
        page.locator('#watch-rows tr[data-conid="265598"] td[data-flash]').first
    ).to_be_attached()


async def test_watchlist_search_adds_and_remove_drops(page: Page, server: RunningServer) -> None:
    await open_dashboard(page, server)
    spy = page.locator('#watch-rows tr[data-conid="756733"]')
    await spy.get_by_role("button", name="Remove SPY from the watchlist").click()
    await expect(spy).to_have_count(0)
    await page.fill("#watch-search", "SPY")
    await page.locator("#watch-results button", has_text="SPY").first.click()
    await expect(spy.locator("td.last")).to_have_text(PRICE)
    await expect(spy).to_have_class(re.compile("selected"))
    await expect(page.locator("#ticket-instrument")).to_have_text("SPY · 756733")
    await expect(page.locator("#chart-title")).to_contain_text("SPY")
    # The hours come from /trsrv/secdef/schedule (13:00 and 17:00 on an early-close day).
    hours = re.compile(r"regular 09:30–1[36]:00, trading 04:00–(20|17):00 America/New_York")
    await expect(page.locator("#chart-hours")).to_contain_text(hours)


async def test_stream_errors_are_shown_in_plain_words(page: Page, server: RunningServer) -> None:
    await page.add_init_script(
        "localStorage.setItem('tickgate.watchlist',"
        " JSON.stringify([{conid: 1, symbol: 'BOGUS', name: ''}, {conid: 265598}]))"
    )
    await page.goto(server.base_url + "/")
    notice = page.locator("#notices .notice.error").first
    await expect(notice).to_contain_text("Market data for BOGUS: ")
    await expect(notice).to_contain_text(NO_SUCH_CONID)
    await expect(page.locator('#watch-rows tr[data-conid="1"]')).to_have_class(re.compile("failed"))


async def test_order_from_ticket_appears_in_blotter_and_fills(
    page: Page, server: RunningServer
) -> None:
    await open_dashboard(page, server)
    await page.locator(f'#watch-rows tr[data-conid="{AAPL}"]').click()
    await page.select_option("#ticket-type", "MKT")
    await page.fill("#ticket-qty", "10")
    # The server may ask questions first (a market order usually does); say yes to each.
    row = order_row(page, await submit_ticket(page, line="BUY 10 AAPL Market DAY"))
    await expect(row).to_be_visible()
    await expect(row).to_have_attribute("data-status", "Filled")
    await page.click("#tab-fills")
    await expect(page.locator("#blotter-fills tr").first).to_contain_text("AAPL")


async def test_page_reconnects_after_server_restart(page: Page, start: StartServer) -> None:
    server = await start()
    await open_dashboard(page, server)
    await server.stop()
    pill = page.locator("#conn")
    await expect(pill).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
    await expect(pill).to_contain_text(re.compile("Reconnecting|Connecting"))
    restarted = await start(port=server.port)
    await expect(pill).to_have_attribute("data-state", "live")
    cell = last_cell(page, AAPL)
    await expect(cell).to_have_text(PRICE)
    before = await cell.inner_text()
    await expect(cell).not_to_have_text(before)
    await expect(page.locator("#notices")).to_contain_text("Reconnected")
    assert restarted.port == server.port


async def test_dashboard_screenshot(page: Page, server: RunningServer) -> None:
    await open_dashboard(page, server)
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    await page.get_by_role("button", name='s+md+265598+{"tempo":1000').click()
    await page.click("#console-send")
    await expect(
        page.locator('#console-frames .frame.in[data-topic="md+265598"]')
    ).not_to_have_count(0)
    await expect(page.locator("#chart-panel")).to_have_attribute("data-history", LOADED)
    # Clicking an example focuses the input, which scrolls; the sticky header would then float.
    await page.evaluate("window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "dashboard.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_screenshots_are_not_committed() -> None:
    ignore = ARTIFACTS.parent / ".gitignore"
    assert "artifacts/" in ignore.read_text().split()
