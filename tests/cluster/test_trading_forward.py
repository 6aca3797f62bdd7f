"""Trading, portfolio and account REST calls through an edge, answered by the core over a real
nats-server: same answers as the core's own clients get, 503 instead of a hang when the core
cannot answer, nothing carried out twice or late."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.cluster.members import AAPL, PREFIX, Member, connect, nats, start_core, start_edge
from tests.conftest import SERVER_EPOCH_NS, call, make_config
from tests.server.fixed_market import FixedMarket
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.bus.nats_server import NatsServerProcess
from tickgate.clock import FakeClock
from tickgate.server.app import build_app, start_server
from tickgate.server.cluster import trading_forward
from tickgate.server.cluster.rest_envelope import (
    ForwardedRequest,
    decode_response,
    encode_request,
)
from tickgate.server.cluster.trading_forward import EDGE_LOCAL, forwarded, rest_subject
from tickgate.server.cluster.trading_serve import TradingResponder

__all__ = ["nats"]  # the fixture, imported for the tests below

MKT = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"}
LMT = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 90, "quantity": 5, "tif": "DAY"}


@pytest.fixture
async def cluster(nats: NatsServerProcess, tmp_path: Path) -> Any:
    core = await start_core(nats, tmp_path / "core")
    edge = await start_edge(nats, tmp_path / "edge")
    yield core, edge
    await edge.stop()
    await core.stop()


async def test_an_order_placed_through_an_edge_is_the_cores(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession
) -> None:
    core, edge = cluster
    ack = await place_confirmed(http, edge.api, MKT)
    order_id = int(ack[0]["order_id"])
    # The question, its reply and the order all lived on the core: it reports the fill.
    status = await call(http, "GET", f"{core.api}/iserver/account/order/status/{order_id}")
    assert status["order_status"] == "Filled"
    for path in (
        f"/iserver/account/order/status/{order_id}",
        f"/portfolio/{ACCT}/positions/0",
        "/iserver/account/trades?days=1",
        f"/portfolio/{ACCT}/ledger",
    ):
        through_edge = await call(http, "GET", edge.api + path)
        assert through_edge == await call(http, "GET", core.api + path), path
    positions = await call(http, "GET", f"{edge.api}/portfolio/{ACCT}/positions/0")
    assert [(p["conid"], p["position"]) for p in positions] == [(AAPL, 10.0)]
    # The edge's own engine never saw an order.
    assert edge.server.gateway.trading.views.todays_orders() == []


async def test_errors_statuses_and_headers_come_back_as_the_core_gave_them(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession
) -> None:
    core, edge = cluster
    for base in (core.api, edge.api):
        body = await call(
            http, "POST", f"{base}/iserver/reply/nope", json={"confirmed": 1}, status=400
        )
        assert body == {"error": 'body must be {"confirmed": true} or {"confirmed": false}'}
        missing = await call(http, "GET", f"{base}/iserver/account/order/status/999999", status=404)
        assert "999999" in missing["error"]
        async with http.get(f"{base}/portfolio/{ACCT}/summary") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/json")
    # A body the core cannot read is refused by the core, in its own words.
    async with http.post(
        f"{edge.api}/iserver/account/{ACCT}/orders",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"].startswith("request body is not valid JSON")


async def test_a_logged_out_session_is_the_cores_rule(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession
) -> None:
    core, edge = cluster
    core.server.gateway.session.logout()
    body = await call(http, "GET", f"{edge.api}/iserver/account/orders", status=401)
    assert body["statusCode"] == 401


async def test_without_a_core_trading_answers_503_at_once_and_nothing_hangs(
    nats: NatsServerProcess, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    edge = await start_edge(nats, tmp_path / "edge", timeout_s=30.0)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        body = await call(
            http,
            "POST",
            f"{edge.api}/iserver/account/{ACCT}/orders",
            json={"orders": [MKT]},
            status=503,
        )
        # No responder: NATS says so at once, long before the 30 s timeout.
        assert loop.time() - started < 5
        assert body["error"].startswith("no core is serving this cluster: nothing was carried out")
        # Market data and contracts are the edge's own and still answer.
        await call(http, "GET", f"{edge.api}/iserver/secdef/info?conid={AAPL}&sectype=STK")
    finally:
        await edge.stop()


async def test_a_core_that_does_not_answer_gives_503_after_the_timeout(
    nats: NatsServerProcess, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    # A member listening on the subject that never answers: a core frozen mid-request.
    silent = await connect(nats)
    received: list[bytes] = []

    async def swallow(msg: Any) -> None:
        received.append(msg.data)

    await silent.client.subscribe(rest_subject(PREFIX), cb=swallow)
    await silent.round_trip()
    edge = await start_edge(nats, tmp_path / "edge", timeout_s=0.3)
    try:
        body = await call(
            http,
            "POST",
            f"{edge.api}/iserver/account/{ACCT}/orders",
            json={"orders": [MKT]},
            status=503,
        )
        assert "did not answer within 0.3 s: the request may have been carried out" in body["error"]
        assert len(received) == 1  # sent once, never retried
    finally:
        await edge.stop()
        await silent.close()


async def test_a_disconnected_edge_sends_nothing_and_answers_503(
    cluster: tuple[Member, Member], nats: NatsServerProcess, http: aiohttp.ClientSession
) -> None:
    core, edge = cluster
    await nats.kill()
    async with asyncio.timeout(10):
        while edge.bus.connected:
            await asyncio.sleep(0.01)
    body = await call(
        http,
        "POST",
        f"{edge.api}/iserver/account/{ACCT}/orders",
        json={"orders": [MKT]},
        status=503,
    )
    assert body["error"].startswith("the cluster's core is not reachable from this edge")
    await nats.restart()
    await edge.bus.wait_connected()
    await core.bus.wait_connected()
    # Nothing was buffered for later: the core never saw that order.
    assert core.server.gateway.trading.views.todays_orders() == []
    ack = await place_confirmed(http, edge.api, MKT)
    assert ack[0]["order_status"] == "Filled" or ack[0]["order_id"]


async def test_a_request_that_reaches_the_core_after_its_deadline_is_not_carried_out(
    cluster: tuple[Member, Member], nats: NatsServerProcess
) -> None:
    core, _edge = cluster
    asking = await connect(nats)  # its own connection: a member does not hear itself
    clock = FakeClock(SERVER_EPOCH_NS)
    late = ForwardedRequest(
        method="POST",
        path_qs=f"/v1/api/iserver/account/{ACCT}/orders",
        headers=(("Content-Type", "application/json"),),
        body=b'{"orders": [{"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 1}]}',
        deadline_ms=clock.host_ns() // 1_000_000 - 1,
        edge="late-edge",
    )
    responder = await TradingResponder.start(
        core.bus, "tg-test.rest-late", core.server.base_url, clock
    )
    try:
        reply = await asking.client.request("tg-test.rest-late", encode_request(late), timeout=5)
    finally:
        await responder.close()
        await asking.close()
    answer = decode_response(reply.data)
    assert answer.status == 503 and b"too late: not carried out" in answer.body
    assert responder.late == 1
    assert core.server.gateway.trading.views.todays_orders() == []


# --- which routes go to the core ----------------------------------------------------------


def test_the_rule_keeps_market_data_and_sends_trading_to_the_core() -> None:
    assert forwarded("/v1/api/iserver/account/{account}/orders")
    assert forwarded("/v1/portal/portfolio/{account}/summary/")
    assert forwarded("/v1/api/iserver/reply/{reply_id}")
    assert forwarded("/v1/api/pa/performance")  # a route nobody listed: the core's by default
    assert not forwarded("/v1/api/iserver/marketdata/snapshot")
    assert forwarded("/v1/api/iserver/marketdata/history")  # the core's bars, not the edge's
    assert forwarded("/v1/api/mdx")  # "/md" does not take "/mdx"
    assert not forwarded("/v1/api/ws") and not forwarded("/tickgate/status")
    assert not forwarded("/v1/api/iserver/accounts")


_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _concrete(template: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), "1"), template)


#: A body for every POST the sweep sends: the parameters the routes read, all valid.
SWEEP_BODY = {
    "acctIds": [ACCT],
    "acctId": ACCT,
    "conids": [AAPL],
    "conid": AAPL,
    "period": "1M",
    "currency": "USD",
    "days": 7,
}
#: Not swept: it ends the session, after which the two gateways' `/iserver` answers are alike.
SWEEP_SKIPS = ("/v1/api/logout",)


async def test_every_route_whose_answer_depends_on_trading_is_forwarded(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """Two gateways alike but for their trading state (one has a filled and a working order):
    every route of the route table (reads first, then POST/DELETE with a valid-looking body)
    whose answer differs between them depends on the trading engine, and must be one the
    rule forwards. New routes are covered as they land."""
    clock = FakeClock(SERVER_EPOCH_NS)
    servers = []
    for name in ("traded", "fresh"):
        market = FixedMarket({AAPL: ("100.00", "100.10", "100.05")})
        app = build_app(
            make_config(tmp_path / name, store="memory"), clock=clock, source=market.for_gateway
        )
        servers.append(await start_server(app))
        await asyncio.wait_for(market.ready.wait(), 10)
    traded, fresh = servers
    try:
        await place_confirmed(http, traded.base_url + "/v1/api", MKT)
        working = await place_confirmed(http, traded.base_url + "/v1/api", LMT)
        values = {"account": ACCT, "order_id": str(working[0]["order_id"]), "conid": str(AAPL)}
        values["page"] = "0"
        routes = sorted(
            {
                (route.method != "GET", route.method, info.get("formatter", info.get("path", "")))
                for route in traded.runner.app.router.routes()
                if route.method != "HEAD" and (info := route.resource.get_info()) is not None
            }
        )
        depends: list[str] = []
        for _writes, method, template in routes:
            if (
                not template.startswith("/v1/api/")
                or template.endswith("/ws")
                or template.rstrip("/") in SWEEP_SKIPS
            ):
                continue
            answers = []
            body = None if method == "GET" else SWEEP_BODY
            for server in (traded, fresh):
                url = server.base_url + _concrete(template, values)
                async with http.request(method, url, json=body) as response:
                    text = (await response.read()).decode()
                    sid = server.gateway.session.id  # each gateway's own, in two spellings
                    text = text.replace(sid, "S").replace(f"{sid[:8]}.{sid[8:16]}", "S")
                    answers.append((response.status, text))
            if answers[0] != answers[1]:
                depends.append(f"{method} {template}")
        assert depends, "the traded gateway answers nothing differently: the test proves nothing"
        assert "GET /v1/api/iserver/account/orders" in depends
        assert "POST /v1/api/pa/transactions" in depends
        assert [t for t in depends if not forwarded(t.split()[1])] == []
    finally:
        for server in servers:
            await server.stop()


def test_edge_local_routes_are_all_served() -> None:
    """Every local prefix names routes that exist: a renamed route cannot linger here."""
    app = build_app(make_config(Path("/nonexistent"), store="memory"))
    routes = {trading_forward.api_route(r.resource.canonical) or "" for r in app.router.routes()}
    for local in EDGE_LOCAL:
        assert any(r == local or r.startswith(local + "/") for r in routes), local
