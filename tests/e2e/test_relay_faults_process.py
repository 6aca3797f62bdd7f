"""A relay in front of a real upstream tickgate process, the upstream's own fault routes driving
every path of the relay: dropped sockets (with and without a close frame), a competing
session, a logout and the login after it, expired streams, 429s on snapshots, and the line
budget. Downstream clients of both dialects never act: they keep their subscriptions and get
values again. The upstream's catalogue has an instrument the relay's lacks (ZETA)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from tests.conftest import StartServer, WsClient, call
from tests.e2e.gateway_process import launch
from tests.server.test_rest_orders import place_confirmed
from tests.sources.relay.test_relay import Connect, is_sts, session_status, until

from tickgate.server.app import RunningServer
from tickgate.server.relay_control import RELAY

pytestmark = pytest.mark.timeout(120)

AAPL, MSFT, ZETA = 265598, 272093, 990_001
CATALOGUE = f"""\
conid,symbol,name,sec_type,reference_price,listing_exchange
{AAPL},AAPL,APPLE INC,STK,190.00,NASDAQ
{MSFT},MSFT,MICROSOFT CORP,STK,410.00,NASDAQ
{ZETA},ZETA,ZETA QUANTUM CORP,STK,42.00,NASDAQ
"""
Frame = dict[str, Any]


@pytest.fixture(scope="module")
def upstream_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One upstream gateway process for the module: three instruments ticking fast."""
    root = tmp_path_factory.mktemp("upstream")
    catalogue = root / "catalogue.csv"
    catalogue.write_text(CATALOGUE)
    proc, base = launch(
        root / "data",
        "--catalogue",
        str(catalogue),
        "--catalogue-mode",
        "replace",
        "--ticks-per-second",
        "60",
    )
    try:
        yield base.removesuffix("/v1/api")
    finally:
        proc.kill()
        proc.communicate()


@pytest.fixture
async def upstream(upstream_process: str, http: aiohttp.ClientSession) -> AsyncIterator[str]:
    """The module's upstream, cleared of faults and logged in after each test."""
    yield upstream_process
    await call(http, "POST", upstream_process + "/tickgate/faults/clear", json={})
    await call(http, "POST", upstream_process + "/v1/api/iserver/auth/ssodh/init")


async def relay_of(start: StartServer, upstream: str, **changes: Any) -> RunningServer:
    relay = await start(source="relay", upstream=upstream, **changes)
    await until(lambda: relay.runner.app[RELAY].serving, timeout=30)
    return relay


async def clients(
    relay: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect, conid: int
) -> tuple[WsClient, WsClient]:
    """An api and a portal client of `relay`, both streaming `conid` and past its first value."""
    tickle = await call(http, "POST", relay.base_url + "/v1/api/tickle")
    cookie = "api=" + json.dumps({"session": tickle["session"]})
    api = await ws_connect(relay.ws_base + "/v1/api/ws", headers={"Cookie": cookie})
    await api.recv_until(lambda f: f.get("topic") == "sts")
    await call(http, "GET", relay.base_url + "/v1/api/iserver/accounts")
    portal = await ws_connect(relay.ws_base + "/v1/portal/ws")
    await api.send(f'smd+{conid}+{{"fields":["31","84","86"]}}')
    await portal.send(f's+md+{conid}+{{"fields":"31,84,86"}}')
    await values(api, portal, conid)
    return api, portal


async def values(api: WsClient, portal: WsClient, conid: int) -> None:
    """Both clients get a value of `conid` (field 31): the stream flows."""

    def has_last(topic: str) -> Callable[[Frame], bool]:
        return lambda f: f.get("topic") == topic and "31" in f

    await api.recv_until(has_last(f"smd+{conid}"), timeout=30)
    await portal.recv_until(has_last(f"md+{conid}"), timeout=30)


async def upstream_lines(http: aiohttp.ClientSession, upstream: str) -> int:
    return int((await call(http, "GET", upstream + "/tickgate/status"))["marketDataLines"])


async def fault(http: aiohttp.ClientSession, upstream: str, kind: str, **body: Any) -> Any:
    return await call(http, "POST", f"{upstream}/tickgate/faults/{kind}", json=body)


async def test_dropped_upstream_sockets_are_reconnected_and_streams_resume(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, upstream: str
) -> None:
    relay = await relay_of(start, upstream)
    status = relay.runner.app[RELAY]
    api, portal = await clients(relay, http, ws_connect, AAPL)
    for body in ({"code": 1011, "reason": "upstream restarting"}, {"abort": True}):
        before = status.reconnects
        assert (await fault(http, upstream, "drop", **body))["dropped"] >= 1
        await api.recv_until(is_sts(False), timeout=30)
        await until(lambda: status.reconnects > before and status.serving, timeout=30)  # noqa: B023
        await api.recv_until(is_sts(True), timeout=30)
        await values(api, portal, AAPL)  # neither client subscribed again
        assert await upstream_lines(http, upstream) == 1


async def test_a_competing_session_and_a_logout_upstream_reach_clients_who_then_resume(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, upstream: str
) -> None:
    relay = await relay_of(start, upstream)
    api, portal = await clients(relay, http, ws_connect, MSFT)

    def competing(frame: Frame) -> bool:
        return frame.get("topic") == "sts" and frame["args"].get("competing") is True

    await fault(http, upstream, "competing")
    await api.recv_until(competing, timeout=30)
    await portal.recv_until(competing, timeout=30)
    assert await session_status(relay, http) == [(False, True)] * 3
    await call(http, "POST", upstream + "/v1/api/iserver/auth/ssodh/init")  # taken back
    await api.recv_until(is_sts(True), timeout=30)
    await portal.recv_until(is_sts(True), timeout=30)
    await values(api, portal, MSFT)

    # A logout for two seconds: clients are told, the upstream ends the line, and after the
    # upstream's own login the relay subscribes it again.
    await fault(http, upstream, "logout", seconds=2)
    await api.recv_until(is_sts(False), timeout=30)
    await portal.recv_until(is_sts(False), timeout=30)
    assert await session_status(relay, http) == [(False, False)] * 3
    await api.recv_until(is_sts(True), timeout=30)
    await portal.recv_until(is_sts(True), timeout=30)
    await values(api, portal, MSFT)
    assert await session_status(relay, http) == [(True, False)] * 3
    assert await upstream_lines(http, upstream) == 1


async def test_snapshots_survive_upstream_429s(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, upstream: str
) -> None:
    relay = await relay_of(start, upstream)
    base = relay.base_url + "/v1/api"
    await call(http, "GET", base + "/iserver/accounts")
    url = base + f"/iserver/marketdata/snapshot?conids={AAPL},{ZETA}&fields=31"
    api, portal = await clients(relay, http, ws_connect, AAPL)  # AAPL is relayed, ZETA not
    async with asyncio.timeout(30):  # the upstream's pre-flight of ZETA, then its values
        while any("31" not in row for row in await call(http, "GET", url)):
            await asyncio.sleep(0.2)

    await fault(http, upstream, "rest", path="/iserver/marketdata/snapshot", status=429, seconds=60)
    # AAPL comes from the relay's own store, ZETA from the cache while it is young enough.
    rows = {row["conid"]: row for row in await call(http, "GET", url)}
    assert "31" in rows[AAPL] and "31" in rows[ZETA]
    assert relay.gateway.catalogue.find(ZETA) is not None  # learnt on the way
    # A conid never asked before has nothing cached: the upstream's 429 is passed on.
    async with http.get(base + f"/iserver/marketdata/snapshot?conids={MSFT}&fields=31") as r:
        assert r.status == 429 and r.headers["Retry-After"] == "1"
        assert "429" in (await r.json())["error"]
    await values(api, portal, AAPL)  # streams are untouched by REST refusals


async def test_past_the_upstream_line_budget_clients_are_refused_in_the_gateways_words(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, upstream: str
) -> None:
    relay = await relay_of(start, upstream, upstream_md_lines=1)
    api, portal = await clients(relay, http, ws_connect, AAPL)
    await api.send(f'smd+{MSFT}+{{"fields":["31"]}}')
    await portal.send(f's+md+{MSFT}+{{"fields":"31"}}')
    refusal = "Max number of market data lines reached (1, the relay's upstream budget)"
    assert (await api.recv_until(lambda f: "error" in f))["error"].startswith(refusal)
    assert (await portal.recv_until(lambda f: "error" in f))["error"].startswith(refusal)
    assert await upstream_lines(http, upstream) == 1
    await values(api, portal, AAPL)


async def test_an_instrument_only_the_upstream_process_knows_streams_and_trades_on_paper(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, upstream: str
) -> None:
    relay = await relay_of(start, upstream)
    base = relay.base_url + "/v1/api"
    assert relay.gateway.catalogue.find(ZETA) is None
    (row,) = await call(http, "GET", base + "/iserver/secdef/search?symbol=ZETA")
    assert int(row["conid"]) == ZETA and relay.gateway.catalogue.find(ZETA) is not None
    api, portal = await clients(relay, http, ws_connect, ZETA)
    await api.send(f'smd+{ZETA}+{{"fields":["31","84","85","86","88"]}}')  # sizes too: a quote
    await until(lambda: relay.gateway.market.quote(ZETA) is not None, timeout=30)
    order = {"conid": ZETA, "side": "BUY", "orderType": "MKT", "quantity": 5, "tif": "DAY"}
    await place_confirmed(http, base, order)
    (trade,) = await call(http, "GET", base + "/iserver/account/trades?days=1")
    assert int(trade["conid"]) == ZETA and float(trade["price"]) > 0
    orders = await call(http, "GET", upstream + "/v1/api/iserver/account/orders?force=True")
    assert orders["orders"] == []  # paper: nothing reached the upstream
    await values(api, portal, ZETA)
