"""tickgate's own control routes: halts and session close/open, seen through the API."""

from __future__ import annotations

import aiohttp
from tests.conftest import StartServer, call
from tests.instruments import EURUSD
from tests.server.test_rest_orders import place_confirmed, quote

from tickgate.clock import FakeClock
from tickgate.server.app import RunningServer

AAPL = 265598


async def last_price(http: aiohttp.ClientSession, base: str, conid: int) -> str:
    url = f"{base}/iserver/marketdata/snapshot?conids={conid}&fields=31"
    await call(http, "GET", url)
    return str((await call(http, "GET", url))[0]["31"])


async def test_halt_marks_the_last_price_and_resume_clears_it(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    body = await call(http, "POST", server.base_url + "/tickgate/market/265598/halt")
    assert body["halted"] is True
    assert (await last_price(http, base, 265598)).startswith("H")
    await call(http, "POST", server.base_url + "/tickgate/market/265598/resume")
    assert not (await last_price(http, base, 265598)).startswith("H")
    missing = await call(http, "POST", server.base_url + "/tickgate/market/1/halt", status=400)
    assert "Invalid conid 1" in missing["error"]


async def test_session_close_shows_prior_close_and_expires_day_orders(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    bid = float((await quote(http, base, 8314))["84"])
    order = {"conid": 8314, "side": "BUY", "orderType": "LMT", "price": round(bid * 0.98, 2),
             "quantity": 1, "tif": "DAY"}  # fmt: skip
    order_id = int((await place_confirmed(http, base, order))[0]["order_id"])
    assert (await call(http, "POST", server.base_url + "/tickgate/session/close")) == {
        "session": "closed"
    }
    assert (await last_price(http, base, 265598)).startswith("C")
    status = await call(http, "GET", f"{base}/iserver/account/order/status/{order_id}")
    assert status["order_status"] == "Cancelled"
    state = await call(http, "GET", server.base_url + "/tickgate/status")
    assert state["sessionOpen"] is False and state["source"] == "simulator"
    await call(http, "POST", server.base_url + "/tickgate/session/open")
    assert (await call(http, "GET", server.base_url + "/tickgate/status"))["sessionOpen"] is True


# Saturday 2026-12-05 15:00 UTC; FX reopens on Sunday at 17:00 New York time (22:00 UTC).
SATURDAY_NS = 1_796_482_800_000_000_000
SUNDAY_FX_OPEN_NS = SATURDAY_NS + 31 * 3600 * 1_000_000_000


async def test_exchange_hours_close_the_weekend_and_reopen_fx_on_sunday_evening(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    clock = FakeClock(SATURDAY_NS)
    server = await start(clock=clock, market_hours="exchange")
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    status = await call(http, "GET", server.base_url + "/tickgate/status")
    assert status["marketHours"] == "exchange"
    assert {m["name"]: m["phase"] for m in status["markets"]} == {
        "US equities": "closed",
        "US options and indices": "closed",
        "CME Globex": "closed",
        "FX": "closed",
    }
    fx = next(m for m in status["markets"] if m["name"] == "FX")
    assert fx["nextChange"] == SUNDAY_FX_OPEN_NS // 1_000_000
    assert (await last_price(http, base, AAPL)).startswith("C")
    assert (await last_price(http, base, EURUSD.conid)).startswith("C")
    gateway = server.gateway
    due = gateway.hours.next_transitions(clock.now_ns())
    assert {(t.calendar.name, t.boundary.value) for t in due} == {("FX", "start"), ("FX", "open")}
    clock.set(due[0].at_ns)
    for transition in due:
        gateway.days.apply(transition)
    assert not (await last_price(http, base, EURUSD.conid)).startswith("C")
    assert (await last_price(http, base, AAPL)).startswith("C")


async def test_always_hours_trade_on_a_saturday(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(clock=FakeClock(SATURDAY_NS))
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    status = await call(http, "GET", server.base_url + "/tickgate/status")
    assert status["marketHours"] == "always"
    assert not (await last_price(http, base, AAPL)).startswith("C")
