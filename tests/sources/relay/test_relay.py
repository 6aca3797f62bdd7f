"""The relay source end to end: a real upstream tickgate on 127.0.0.1, a relay gateway in
front of it (`source="relay"`), and real downstream WebSocket clients of both dialects."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, StartServer, WsClient, call
from tests.server.test_rest_orders import place_confirmed

from tickgate.clock import NS_PER_S, FakeClock
from tickgate.model.ticks import Tick
from tickgate.server.app import RunningServer
from tickgate.server.relay_control import RELAY, RELAY_SOURCE
from tickgate.server.ws import close_all
from tickgate.sources.relay.lines import DEFAULT_RENEW_SECONDS

Connect = Callable[..., Awaitable[WsClient]]
Frame = dict[str, Any]
AAPL, MSFT, IBM = 265598, 272093, 8314

pytestmark = pytest.mark.timeout(60)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) for `condition`, looking again every few ms."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def relay_pair(start: StartServer, **relay: Any) -> tuple[RunningServer, RunningServer]:
    """An upstream tickgate and a relay in front of it, the relay connected."""
    upstream = await start()
    downstream = await start(source="relay", upstream=upstream.base_url, **relay)
    await until(lambda: relay_status(downstream)["state"] == "up")
    return upstream, downstream


def relay_status(server: RunningServer) -> dict[str, Any]:
    return server.runner.app[RELAY].as_json()


async def api_socket(server: RunningServer, http: aiohttp.ClientSession, ws: Connect) -> WsClient:
    tickle = await call(http, "POST", server.base_url + "/v1/api/tickle")
    cookie = json.dumps({"session": tickle["session"]})
    client = await ws(server.ws_base + "/v1/api/ws", headers={"Cookie": "api=" + cookie})
    await client.recv_until(lambda f: f.get("topic") == "sts")
    return client


async def portal_socket(
    server: RunningServer, http: aiohttp.ClientSession, ws: Connect
) -> WsClient:
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    return await ws(server.ws_base + "/v1/portal/ws")


def smd(conid: int) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("topic") == f"smd+{conid}"


def md(conid: int) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("topic") == f"md+{conid}" and "error" not in frame


async def both_dialects(
    relay: RunningServer, http: aiohttp.ClientSession, ws: Connect
) -> tuple[WsClient, WsClient]:
    """An api and a portal client of `relay`, once its upstream session is authenticated."""
    await until(lambda: relay_status(relay)["authenticated"])
    return await api_socket(relay, http, ws), await portal_socket(relay, http, ws)


async def test_many_clients_of_both_dialects_cost_one_upstream_line_per_conid(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start)
    hub = upstream.gateway.hub
    apis = [await api_socket(relay, http, ws_connect) for _ in range(3)]
    portals = [await portal_socket(relay, http, ws_connect) for _ in range(2)]
    for client in apis:
        await client.send(f'smd+{AAPL}+{{"fields":["31","84"]}}')
        await client.recv_until(smd(AAPL))
    for client in portals:
        await client.send(f's+md+{AAPL}+{{"fields":"31,86"}}')
        await client.send(f's+md+{MSFT}+{{"fields":"31"}}')
        await client.recv_until(md(MSFT))
    # Values flow from upstream through the relay's engine to every client.
    for client in apis:
        frame = await client.recv_until(lambda f: smd(AAPL)(f) and "31" in f)
        assert float(frame["31"].lstrip("C")) > 0
    await until(lambda: hub.lines_in_use() == 2)
    assert hub.interest(AAPL) == (31, 84, 86)  # one line, the union of the fields
    assert hub.interest(MSFT) == (31,)
    status = await call(http, "GET", upstream.base_url + "/tickgate/status")
    assert status["marketDataLines"] == 2
    assert relay_status(relay)["lines"] == 2

    # A client asking for more fields widens the one upstream line.
    await apis[0].send(f'smd+{AAPL}+{{"fields":["31","84","7295"]}}')
    await until(lambda: hub.interest(AAPL) == (31, 84, 86, 7295))
    assert hub.lines_in_use() == 2

    # The line is released only when the last downstream interest in it ends.
    for client in apis:
        await client.send(f"umd+{AAPL}+{{}}")
    await portals[0].send(f"u+md+{AAPL}")
    await until(lambda: relay.gateway.hub.interest(AAPL) == (31, 86))  # portals[1]'s alone
    assert hub.interest(AAPL) == (31, 84, 86, 7295)  # still held, still as wide
    await portals[1].close()
    await until(lambda: hub.interest(AAPL) == ())
    assert hub.lines_in_use() == 1  # MSFT, still wanted by portal[0]
    await portals[0].close()
    await until(lambda: hub.lines_in_use() == 0)


async def test_downstream_sees_exactly_the_upstream_values(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start)
    await call(http, "POST", upstream.base_url + f"/tickgate/market/{IBM}/halt")
    client = await api_socket(relay, http, ws_connect)
    await client.send(f'smd+{IBM}+{{"fields":["31","84","86"]}}')
    await client.recv_until(smd(IBM))
    upstream.gateway.bus.publish(
        Tick(IBM, {31: "123.45", 84: "123.40", 86: "123.50"}, SERVER_EPOCH_NS)
    )
    frame = await client.recv_until(lambda f: smd(IBM)(f) and f.get("31") == "123.45")
    await until(
        lambda: relay.gateway.market.snapshot(IBM, (84, 86)) == {84: "123.40", 86: "123.50"}
    )
    assert relay.gateway.market.snapshot(IBM, (31, 84, 86)) == upstream.gateway.market.snapshot(
        IBM, (31, 84, 86)
    )
    assert frame["31"] == "123.45"


async def test_past_the_upstream_line_budget_the_request_is_refused(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start, upstream_md_lines=2)
    client = await api_socket(relay, http, ws_connect)
    for conid in (AAPL, MSFT):
        await client.send(f'smd+{conid}+{{"fields":["31"]}}')
        await client.recv_until(smd(conid))
    portal = await portal_socket(relay, http, ws_connect)
    await client.send(f'smd+{IBM}+{{"fields":["31"]}}')
    await portal.send(f's+md+{IBM}+{{"fields":"31"}}')
    # Both dialects in the real gateway's words, naming the relay's upstream budget as the cause.
    refusal = "Max number of market data lines reached (2, the relay's upstream budget); "
    api_error = await client.recv_until(lambda f: "error" in f)
    portal_error = await portal.recv_until(lambda f: "error" in f)
    assert api_error["error"] == portal_error["error"] == refusal + "unsubscribe one first"
    assert (api_error["topic"], portal_error["topic"]) == ("error", f"md+{IBM}")
    await until(lambda: upstream.gateway.hub.lines_in_use() == 2)
    assert upstream.gateway.hub.interest(IBM) == ()


async def test_a_line_the_upstream_itself_refuses_is_refused_downstream_in_each_dialect(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    # The upstream allows 2 lines, fewer than the relay's budget (100) assumes.
    upstream = await start(md_lines=2)
    relay = await start(source="relay", upstream=upstream.base_url)
    client, portal = await both_dialects(relay, http, ws_connect)
    for conid in (AAPL, MSFT):
        await client.send(f'smd+{conid}+{{"fields":["31"]}}')
        await client.recv_until(smd(conid), timeout=30)
    await client.send(f'smd+{IBM}+{{"fields":["31"]}}')
    await portal.send(f's+md+{IBM}+{{"fields":"31"}}')
    refusal = (
        "Max number of market data lines reached (2); unsubscribe one first"
        " (refused by the relay's upstream)"
    )
    api_error = await client.recv_until(lambda f: "error" in f, timeout=30)
    portal_error = await portal.recv_until(lambda f: "error" in f, timeout=30)
    assert api_error == {"topic": "error", "error": refusal, "request": f"smd+{IBM}"}
    assert portal_error == {"error": refusal, "topic": f"md+{IBM}"}
    assert relay_status(relay)["refusals"] >= 1
    # Both streams of IBM ended, so the relay wants no line for it; the others still flow.
    await until(lambda: relay.gateway.hub.interest(IBM) == ())
    await until(lambda: upstream.gateway.hub.lines_in_use() == 2)
    await client.recv_until(smd(AAPL), timeout=30)


async def test_not_ready_while_the_upstream_is_unreachable(
    start: StartServer, http: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    relay = await start(source="relay", upstream=f"http://127.0.0.1:{unused_tcp_port}")
    await until(lambda: relay_status(relay)["reconnects"] >= 1)
    ready = await call(http, "GET", relay.base_url + "/readyz", status=503)
    assert any(f"upstream http://127.0.0.1:{unused_tcp_port} down" in r for r in ready["reasons"])
    status = await call(http, "GET", relay.base_url + "/tickgate/status")
    assert status["relay"]["state"] == "down" and status["source"] == "relay"
    async with http.get(relay.base_url + "/metrics") as response:
        text = await response.text()
    assert "tickgate_relay_upstream_up 0.0" in text


async def test_reconnects_count_outages_and_failed_attempts_count_each_try(
    start: StartServer, http: aiohttp.ClientSession, unused_tcp_port: int
) -> None:
    relay = await start(source="relay", upstream=f"http://127.0.0.1:{unused_tcp_port}")
    await until(lambda: relay_status(relay)["failedAttempts"] >= 3)
    assert relay_status(relay)["reconnects"] == 1  # one outage, however many tries
    async with http.get(relay.base_url + "/metrics") as response:
        text = await response.text()
    assert "tickgate_relay_reconnects_total 1.0" in text
    assert re.search(r"^tickgate_relay_failed_attempts_total ([3-9]|\d\d+)\.0$", text, re.M)

    upstream = await start(port=unused_tcp_port)
    await until(lambda: relay_status(relay)["authenticated"], timeout=30)
    failed = relay_status(relay)["failedAttempts"]
    await close_all(upstream.gateway)  # the second outage
    await until(lambda: relay_status(relay)["failedAttempts"] > failed)
    await until(lambda: relay_status(relay)["authenticated"], timeout=30)
    assert relay_status(relay)["reconnects"] == 2


async def session_status(server: RunningServer, http: aiohttp.ClientSession) -> list[Any]:
    """What the gateway says of its brokerage session on REST: /iserver/auth/status, /tickle
    and /tickgate/status (authenticated and competing of each)."""
    auth = await call(http, "GET", server.base_url + "/v1/api/iserver/auth/status")
    tickle = (await call(http, "POST", server.base_url + "/v1/api/tickle"))["iserver"]
    brokerage = (await call(http, "GET", server.base_url + "/tickgate/status"))["brokerage"]
    return [
        (answer["authenticated"], answer["competing"])
        for answer in (auth, tickle["authStatus"], brokerage)
    ]


async def test_a_client_is_never_told_authenticated_while_the_upstream_is_down(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, unused_tcp_port: int
) -> None:
    relay = await start(source="relay", upstream=f"http://127.0.0.1:{unused_tcp_port}")
    await until(lambda: relay_status(relay)["reconnects"] >= 1)
    tickle = await call(http, "POST", relay.base_url + "/v1/api/tickle")
    cookie = "api=" + json.dumps({"session": tickle["session"]})
    api = await ws_connect(relay.ws_base + "/v1/api/ws", headers={"Cookie": cookie})
    burst = await api.recv_until(lambda f: f.get("topic") == "sts")
    assert burst["args"]["authenticated"] is False
    assert await session_status(relay, http) == [(False, False)] * 3
    portal = await portal_socket(relay, http, ws_connect)

    # The upstream comes up: every client is told, and REST says the same.
    await start(port=unused_tcp_port)
    await api.recv_until(is_sts(True))
    await portal.recv_until(is_sts(True))
    assert await session_status(relay, http) == [(True, False)] * 3
    later = await ws_connect(relay.ws_base + "/v1/api/ws", headers={"Cookie": cookie})
    assert (await later.recv_until(lambda f: f.get("topic") == "sts"))["args"]["authenticated"]


async def test_a_dropped_upstream_socket_is_reconnected_and_streams_resume(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start)
    api = await api_socket(relay, http, ws_connect)
    portal = await portal_socket(relay, http, ws_connect)
    await api.send(f'smd+{AAPL}+{{"fields":["31","84"]}}')
    await portal.send(f's+md+{MSFT}+{{"fields":"31,86"}}')
    await api.recv_until(smd(AAPL))
    await portal.recv_until(md(MSFT))
    await until(lambda: upstream.gateway.hub.lines_in_use() == 2)

    await close_all(upstream.gateway)  # every upstream WebSocket goes away
    await until(lambda: relay_status(relay)["reconnects"] == 1)
    await until(lambda: relay_status(relay)["state"] == "up")
    await until(lambda: upstream.gateway.hub.lines_in_use() == 2)
    assert upstream.gateway.hub.interest(AAPL) == (31, 84)
    assert upstream.gateway.hub.interest(MSFT) == (31, 86)
    # Neither client subscribed again, and both get what upstream sends on the new connection.
    for conid in (AAPL, MSFT):
        await call(http, "POST", upstream.base_url + f"/tickgate/market/{conid}/halt")
    upstream.gateway.bus.publish(Tick(AAPL, {31: "111.11"}, SERVER_EPOCH_NS))
    upstream.gateway.bus.publish(Tick(MSFT, {31: "222.22"}, SERVER_EPOCH_NS))
    await api.recv_until(lambda f: smd(AAPL)(f) and f.get("31") == "111.11")
    await portal.recv_until(lambda f: md(MSFT)(f) and f.get("31") == 222.22)  # a number there


def is_sts(authenticated: bool) -> Callable[[Frame], bool]:
    return lambda f: f.get("topic") == "sts" and f["args"].get("authenticated") is authenticated


async def test_an_upstream_logout_reaches_every_client_and_streams_resume_after_login(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start)
    api, portal = await both_dialects(relay, http, ws_connect)
    await api.send(f'smd+{AAPL}+{{"fields":["31"]}}')
    await portal.send(f's+md+{MSFT}+{{"fields":"31"}}')
    await api.recv_until(smd(AAPL))
    await portal.recv_until(md(MSFT))
    await until(lambda: upstream.gateway.hub.lines_in_use() == 2)

    await call(http, "POST", upstream.base_url + "/v1/api/logout")
    await api.recv_until(is_sts(False))
    await portal.recv_until(is_sts(False))
    ready = await call(http, "GET", relay.base_url + "/readyz", status=503)
    assert any("not authenticated" in reason for reason in ready["reasons"])
    assert await session_status(relay, http) == [(False, False)] * 3
    assert upstream.gateway.hub.lines_in_use() == 0  # the upstream ended them
    # Downstream keeps its subscriptions meanwhile.
    assert relay.gateway.hub.interest(AAPL) == (31,) and relay.gateway.hub.interest(MSFT) == (31,)

    await call(http, "POST", upstream.base_url + "/v1/api/iserver/auth/ssodh/init")
    await api.recv_until(is_sts(True))
    await portal.recv_until(is_sts(True))
    await until(lambda: upstream.gateway.hub.lines_in_use() == 2)
    for conid in (AAPL, MSFT):
        await call(http, "POST", upstream.base_url + f"/tickgate/market/{conid}/halt")
    upstream.gateway.bus.publish(Tick(AAPL, {31: "111.11"}, SERVER_EPOCH_NS))
    upstream.gateway.bus.publish(Tick(MSFT, {31: "222.22"}, SERVER_EPOCH_NS))
    await api.recv_until(lambda f: smd(AAPL)(f) and f.get("31") == "111.11")
    await portal.recv_until(lambda f: md(MSFT)(f) and f.get("31") == 222.22)  # a number there
    await call(http, "GET", relay.base_url + "/readyz")


async def test_each_upstream_line_is_renewed_before_the_upstream_expires_it_or_after_it_did(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    clock = FakeClock(SERVER_EPOCH_NS)  # both gateways' time, moved only by the test
    upstream = await start(clock=clock)
    # The downstream client never renews its own smd while the test moves the shared clock
    # 40 minutes on: with the relay's expiry on, its stream would end at 900 s, now or later
    # depending on when its session next looks at the clock, and take the upstream line with it.
    relay = await start(
        clock=clock, source="relay", upstream=upstream.base_url, smd_expiry_seconds=0
    )
    await until(lambda: relay_status(relay)["authenticated"])
    client = await api_socket(relay, http, ws_connect)
    await client.send(f'smd+{AAPL}+{{"fields":["31"]}}')
    await client.recv_until(smd(AAPL))
    hub = upstream.gateway.hub
    await until(lambda: hub.lines_in_use() == 1)
    (link,) = upstream.gateway.connections  # the relay's one socket
    expiry_ns = upstream.gateway.config.smd_expiry_seconds * NS_PER_S
    assert hub.next_expiry_ns(link.outbox, "api") == clock.monotonic_ns() + expiry_ns
    for _ in range(3):  # 1803 s in all: twice the upstream's expiry
        clock.advance(seconds=DEFAULT_RENEW_SECONDS + 1)
        relay.runner.app[RELAY_SOURCE].wake()
        renewed = clock.monotonic_ns() + expiry_ns
        await until(lambda: hub.next_expiry_ns(link.outbox, "api") == renewed)  # noqa: B023
    assert hub.lines_in_use() == 1
    # The upstream ends every smd early (its expire fault): the next renewal brings it back.
    await call(http, "POST", upstream.base_url + "/tickgate/faults/expire", json={})
    await until(lambda: hub.lines_in_use() == 0)
    clock.advance(seconds=DEFAULT_RENEW_SECONDS + 1)
    relay.runner.app[RELAY_SOURCE].wake()
    await until(lambda: hub.lines_in_use() == 1)
    assert hub.interest(AAPL) == (31,)


async def test_a_paper_order_fills_at_the_relayed_quote_and_never_reaches_upstream(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start)
    await call(http, "POST", upstream.base_url + f"/tickgate/market/{IBM}/halt")
    client = await api_socket(relay, http, ws_connect)
    await client.send(f'smd+{IBM}+{{"fields":["31","84","85","86","88"]}}')
    quote = {31: "150.00", 84: "149.98", 85: "700", 86: "150.02", 88: "800"}
    upstream.gateway.bus.publish(Tick(IBM, quote, SERVER_EPOCH_NS))
    await until(lambda: relay.gateway.market.snapshot(IBM, tuple(quote)) == quote)

    ack = await place_confirmed(
        http,
        relay.base_url + "/v1/api",
        {"conid": IBM, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"},
    )
    base = relay.base_url + "/v1/api"
    status = await call(http, "GET", f"{base}/iserver/account/order/status/{ack[0]['order_id']}")
    assert status["order_status"] == "Filled"
    trades = await call(http, "GET", f"{base}/iserver/account/trades?days=1")
    assert [(int(t["conid"]), t["price"]) for t in trades] == [(IBM, "150.02")]
    upstream_orders = await call(
        http, "GET", upstream.base_url + "/v1/api/iserver/account/orders?force=True"
    )
    assert upstream_orders["orders"] == []


async def test_a_competing_session_upstream_is_told_to_clients_of_both_dialects(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    upstream, relay = await relay_pair(start)
    api, portal = await both_dialects(relay, http, ws_connect)
    await api.send(f'smd+{AAPL}+{{"fields":["31"]}}')
    await api.recv_until(smd(AAPL))
    await call(http, "POST", upstream.base_url + "/tickgate/faults/competing", json={})

    def competing(frame: Frame) -> bool:
        return frame.get("topic") == "sts" and frame["args"].get("competing") is True

    # As the real gateway says it: another login took the session.
    assert (await api.recv_until(competing))["args"]["authenticated"] is False
    assert (await portal.recv_until(competing))["args"]["authenticated"] is False
    assert relay_status(relay)["competing"] is True
    assert await session_status(relay, http) == [(False, True)] * 3
    assert relay.gateway.hub.interest(AAPL) == (31,)  # the client's stream stays
