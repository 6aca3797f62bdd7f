"""The page's layout at laptop and phone widths: nothing wider than the window, nothing cut off."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.async_api import Locator, Page, expect
from tests.page.conftest import ARTIFACTS
from tests.page.dashboard import AAPL, last_price, open_dashboard, order_row, submit_ticket

from tickgate.server.app import RunningServer

CENT = Decimal("0.01")
#: True when `el` is wholly inside the window and every scrolling or clipping box around it, and
#: its text is not cut short by an ellipsis.
FULLY_SHOWN = """el => {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return "not rendered";
  const root = document.documentElement;
  if (box.left < 0 || box.right > root.clientWidth + 0.5) {
    return `outside the window: ${box.left}..${box.right}`;
  }
  for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
    if (getComputedStyle(up).overflowX === "visible") continue;
    const clip = up.getBoundingClientRect();
    if (box.left < clip.left - 0.5 || box.right > clip.right + 0.5) {
      const where = `${box.left}..${box.right} in ${clip.left}..${clip.right}`;
      return `clipped by ${up.id || up.className}: ${where}`;
    }
  }
  if (el.scrollWidth > el.clientWidth + 1) return `text cut: ${el.scrollWidth} > ${el.clientWidth}`;
  return "shown";
}"""


async def assert_fully_shown(locator: Locator) -> None:
    await expect(locator).to_be_visible()
    # Found and measured in one call: `locator.evaluate` takes a handle first and measures it
    # in a second round trip, and the blotter redraws its rows on every order event, so on a
    # busy machine that handle could be a row already replaced (detached, measuring 0 x 0).
    [(shown, html)] = await locator.evaluate_all(
        f"els => els.map(el => [({FULLY_SHOWN})(el), el.outerHTML])"
    )
    assert shown == "shown", html


async def fill_the_page(page: Page) -> list[str]:
    """The blotter's widest rows (a working stop-limit, a filled 3,000 and a working limit) and a
    few frames in the console; returns the order ids, working orders first."""
    await page.locator(f'#watch-rows tr[data-conid="{AAPL}"]').click()
    last = await last_price(page, AAPL)
    await page.click("#ticket-form label.sell")
    await page.select_option("#ticket-type", "STOP_LIMIT")
    await page.fill("#ticket-qty", "1000")
    await page.fill("#ticket-price", str((last * Decimal("0.975")).quantize(CENT)))
    await page.fill("#ticket-stop", str((last * Decimal("0.98")).quantize(CENT)))
    stop_limit = await submit_ticket(page)
    await page.click("#ticket-form label.buy")
    await page.select_option("#ticket-type", "LMT")
    await page.fill("#ticket-price", "1")
    resting = await submit_ticket(page, line="BUY 1000 AAPL Limit 1 DAY")
    await page.fill("#ticket-qty", "3000")
    await page.fill("#ticket-price", str((last * Decimal("1.02")).quantize(CENT)))
    filled = await submit_ticket(page)
    await expect(order_row(page, filled)).to_have_attribute("data-status", "Filled")
    await page.click("#console-connect")
    await expect(page.locator("#console-state")).to_have_attribute("data-state", "live")
    await page.get_by_role("button", name='s+md+265598+{"tempo":1000').click()
    await page.click("#console-send")
    await expect(page.locator("#console-frames .frame.in").first).to_be_visible()
    await page.evaluate("window.scrollTo(0, 0)")
    return [stop_limit, resting, filled]


@pytest.mark.parametrize(
    ("width", "height"), [(1280, 720), (1366, 768), (400, 800)], ids=["1280", "1366", "400"]
)
async def test_nothing_overflows_or_is_cut_off(
    page: Page, server: RunningServer, width: int, height: int
) -> None:
    await page.set_viewport_size({"width": width, "height": height})
    await open_dashboard(page, server)
    *working, filled = await fill_the_page(page)

    sizes = await page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    assert sizes["scroll"] <= sizes["client"], sizes
    for order_id in [*working, filled]:
        await assert_fully_shown(order_row(page, order_id).locator("td.status"))
        await assert_fully_shown(order_row(page, order_id).locator("td.num").nth(1))
    for order_id in working:
        await assert_fully_shown(order_row(page, order_id).get_by_role("button", name="Cancel"))
    quote = page.locator(f'#watch-rows tr[data-conid="{AAPL}"]')
    for column in ("last", "bid", "ask"):
        await assert_fully_shown(quote.locator(f"td.{column}"))
    for figure in await page.locator(".pnl dd").all():
        await assert_fully_shown(figure)
    for example in await page.locator("#console-examples .example").all():
        await assert_fully_shown(example)
    # Each frame's text has room to be read, beside or under its time and topic.
    text = page.locator("#console-frames .frame.in code").first
    [text_width] = await text.evaluate_all("els => els.map(e => e.getBoundingClientRect().width)")
    assert text_width >= 0.6 * min(width - 60, 600)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{width}.png"), full_page=True)


async def test_narrow_blotter_drops_minor_columns_and_shortens_ids(
    page: Page, server: RunningServer
) -> None:
    await page.set_viewport_size({"width": 400, "height": 800})
    await open_dashboard(page, server)
    stop_limit, resting, _ = await fill_the_page(page)
    order = order_row(page, resting)
    head = page.locator("#pane-orders thead")
    await expect(head.get_by_text("Avg", exact=True)).to_be_hidden()
    await expect(head.get_by_text("Type", exact=True)).to_be_hidden()
    # The type and side still show, as tags by the price and under the symbol.
    await expect(order.locator(".type-tag")).to_have_text("LMT")
    await expect(order_row(page, stop_limit).locator(".type-tag")).to_have_text("STP LMT")
    await expect(order_row(page, stop_limit).locator(".side-tag")).to_have_text("SELL")
    await expect(head.get_by_text("Side", exact=True)).to_be_hidden()

    await page.set_viewport_size({"width": 1100, "height": 800})
    await expect(head.get_by_text("Avg", exact=True)).to_be_visible()
    short = order.locator("td.col-id .id-short")
    await expect(short).to_be_visible()
    await expect(short).to_have_text("…" + (await order.get_attribute("data-order-id") or "")[-4:])

    await page.set_viewport_size({"width": 1440, "height": 900})
    await expect(order.locator("td.col-id .id-long")).to_be_visible()
