"""`/metrics` scraped from a real server after real traffic, read with Prometheus' own parser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import StartServer, call
from tests.server.test_rest_orders import ACCT, place_confirmed
from tests.server.test_ws_portal import Connect, is_md, primed_socket

from tickgate.server.app import RunningServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: aiohttp.ClientSession, server: RunningServer) -> Samples:
    """Every sample of `/metrics`, keyed by sample name and labels."""
    async with http.get(server.base_url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_metrics_move_with_streaming_rest_and_orders(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start(ticks_per_second=2000.0)
    before = await scrape(http, server)
    assert value(before, "tickgate_connections", dialect="legacy") == 0

    ws = await primed_socket(server, http, ws_connect)
    await ws.send('s+md+756733+{"fields":"31,84,86"}')
    for _ in range(3):
        await ws.recv_until(is_md(756733))
    base = server.base_url + "/v1/api"
    ack = await place_confirmed(
        http,
        base,
        {"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 5, "tif": "DAY"},
    )
    status = await call(http, "GET", f"{base}/iserver/account/order/status/{ack[0]['order_id']}")
    assert status["order_status"] == "Filled"
    await call(http, "GET", f"{base}/no/such/route/4711", status=404)

    during = await scrape(http, server)
    assert value(during, "tickgate_connections", dialect="legacy") == 1
    assert value(during, "tickgate_connections", dialect="current") == 0
    assert value(during, "tickgate_subscriptions") == 1
    assert value(during, "tickgate_channels") == 1
    assert value(during, "tickgate_frames_sent_total") >= 3
    assert value(during, "tickgate_bytes_sent_total") > value(before, "tickgate_bytes_sent_total")
    assert value(during, "tickgate_frames_encoded_total") >= 3
    assert value(during, "tickgate_outbox_write_bytes_count") >= 1
    assert value(during, "tickgate_ticks_total", source="simulator") > value(
        before, "tickgate_ticks_total", source="simulator"
    )
    assert value(during, "tickgate_source_running", source="simulator") == 1
    assert value(during, "tickgate_tick_to_write_seconds_count") >= 1
    assert value(during, "tickgate_trading_events_total", kind="OrderAccepted") == 1
    assert value(during, "tickgate_trading_events_total", kind="OrderFilled") == 1
    assert value(during, "tickgate_store_commit_seconds_count") >= 2
    assert value(during, "tickgate_component_healthy", component="streaming") == 1
    assert value(during, "tickgate_component_failures_total", component="streaming") == 0
    orders_route = "/v1/api/iserver/account/{account}/orders"
    assert (
        value(
            during, "tickgate_http_requests_total", method="POST", route=orders_route, status="200"
        )
        == 1
    )
    assert (
        value(
            during,
            "tickgate_http_requests_total",
            method="GET",
            route="/v1/api/iserver/account/order/status/{order_id}",
            status="200",
        )
        == 1
    )
    # The raw path of a request never becomes a label: the catch-all's pattern stands for it.
    assert (
        value(during, "tickgate_http_requests_total", method="GET", route="/{tail}", status="404")
        == 1
    )
    labels = {v for (_, pairs) in during for (_, v) in pairs}
    assert not any("4711" in v or ACCT in v or "756733" in v for v in labels), labels

    frames_sent = value(during, "tickgate_frames_sent_total")
    await ws.close()
    await wait_until(lambda: not server.gateway.connections)
    after = await scrape(http, server)
    assert value(after, "tickgate_connections", dialect="legacy") == 0
    assert value(after, "tickgate_subscriptions") == 0
    # A closed connection's frames stay counted.
    assert value(after, "tickgate_frames_sent_total") >= frames_sent


async def test_each_gateway_counts_only_its_own_traffic(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    busy, quiet = await start(), await start()
    for _ in range(3):
        await call(http, "GET", busy.base_url + "/v1/api/iserver/accounts")
    route = "/v1/api/iserver/accounts"
    key = (
        "tickgate_http_requests_total",
        frozenset({("method", "GET"), ("route", route), ("status", "200")}),
    )
    assert (await scrape(http, busy))[key] == 3
    assert key not in await scrape(http, quiet)


async def test_slow_reader_closes_are_counted(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start()
    ws = await primed_socket(server, http, ws_connect)
    await wait_until(lambda: len(server.gateway.connections) == 1)
    (connection,) = server.gateway.connections
    connection.outbox.overflow(10 * connection.outbox.limit_bytes)
    message = await ws.ws.receive(timeout=5)
    assert message.type is aiohttp.WSMsgType.CLOSE
    samples = await scrape(http, server)
    assert value(samples, "tickgate_slow_reader_closes_total") == 1
