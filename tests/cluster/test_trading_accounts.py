"""Account topics on an edge, fed by the core's numbered account events over a real
nats-server: the same frames as on the core, subscribe answers from the edge's replica, every
fill across a bus outage, gaps detected and repaired from the core's day snapshot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.bus.ticks import eventually
from tests.cluster.members import AAPL, Member, connect, nats, start_core, start_edge
from tests.conftest import WsClient, call
from tests.server.test_rest_alerts import alert_body
from tests.server.test_rest_orders import ACCT, place_confirmed

from tickgate.bus.nats_server import NatsServerProcess
from tickgate.model.orders import OrderStatus
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.server.cluster.account_events import event_subject
from tickgate.server.cluster.account_wire import decode_event, encode_event
from tickgate.trading.events import (
    OrderAccepted,
    OrderFilled,
    OrderUpdated,
    PnlChanged,
    SessionClosed,
)

__all__ = ["nats"]

Connect = Callable[..., Awaitable[WsClient]]


def buy(quantity: int) -> dict[str, Any]:
    return {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": quantity, "tif": "DAY"}


@pytest.fixture
async def cluster(nats: NatsServerProcess, tmp_path: Path) -> AsyncIterator[tuple[Member, Member]]:
    core = await start_core(nats, tmp_path / "core", mark_interval_s=0.2)
    edge = await start_edge(nats, tmp_path / "edge")
    assert edge.follower is not None
    await asyncio.wait_for(edge.follower.synced.wait(), 10)
    yield core, edge
    await edge.stop()
    await core.stop()


async def api_socket(member: Member, http: aiohttp.ClientSession, ws_connect: Connect) -> WsClient:
    async with http.post(member.server.base_url + "/v1/api/tickle") as response:
        session = (await response.json())["session"]
    ws = await ws_connect(
        member.server.ws_base + "/v1/api/ws",
        headers={"Cookie": "api=" + json.dumps({"session": session})},
    )
    await ws.recv_until(lambda f: f.get("topic") == "sts")
    return ws


def trades(frame: dict[str, Any]) -> list[str]:
    return [t["execution_id"] for t in frame["args"]] if frame.get("topic") == "str" else []


async def executions(ws: WsClient, count: int) -> list[str]:
    """The execution ids of the next `count` fills the socket's `str` topic reports."""
    seen: list[str] = []
    while len(seen) < count:
        seen += trades(await ws.recv_until(lambda f: f.get("topic") == "str" and bool(f["args"])))
    return seen


async def test_an_edge_client_sees_the_cores_orders_fills_and_pnl_as_a_core_client_does(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core, edge = cluster
    sockets = [await api_socket(m, http, ws_connect) for m in (core, edge)]
    for ws in sockets:
        await ws.send("sor+{}")
        await ws.send("str+{}")
        await ws.recv_until(lambda f: f.get("topic") == "str")  # the empty first frame
    ack = await place_confirmed(http, edge.api, buy(4))
    order_id = int(ack[0]["order_id"])
    rows = []
    for ws in sockets:
        filled = await ws.recv_until(
            lambda f: (
                f.get("topic") == "sor"
                and any(o["orderId"] == order_id and o["status"] == "Filled" for o in f["args"])
            )
        )
        rows.append(filled["args"])
        assert len(await executions(ws, 1)) == 1
    assert rows[0] == rows[1]


async def test_a_subscribe_on_the_edge_answers_from_the_replica(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core, edge = cluster
    ack = await place_confirmed(http, core.api, buy(3))
    order_id = int(ack[0]["order_id"])
    assert edge.follower is not None
    replica = edge.follower.replica
    figures = core.server.gateway.trading.views.pnl_event(ACCT)
    await eventually(
        lambda: (
            any(o.order_id == order_id for o in replica.todays_orders())
            and replica.pnl_event(ACCT) == figures
        ),
        "the order and its P&L on the edge",
    )
    # The portal dialect's day orders, and the api dialect's trades and figures.
    await call(http, "GET", edge.api + "/iserver/accounts")
    portal = await ws_connect(edge.server.ws_base + "/v1/portal/ws")
    await portal.send(f"s+realtime-account-data+{ACCT}")
    first = await portal.recv_until(lambda f: "orders" in f)
    assert [o["orderId"] for o in first["orders"]] == [order_id]
    ws = await api_socket(edge, http, ws_connect)
    await ws.send("str+{}")
    await ws.recv_until(lambda f: f.get("topic") == "str")
    assert len(await executions(ws, 1)) == 1
    await ws.send("spl")
    pnl = await ws.recv_until(lambda f: f.get("topic") == "spl")
    core_pnl = await call(http, "GET", core.api + "/iserver/account/pnl/partitioned")
    assert pnl["args"][f"{ACCT}.Core"]["mv"] == core_pnl["upnl"][f"{ACCT}.Core"]["mv"] != 0


async def test_every_fill_reaches_an_edge_client_across_a_bus_outage(
    cluster: tuple[Member, Member],
    nats: NatsServerProcess,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
) -> None:
    core, edge = cluster
    assert edge.follower is not None
    ws = await api_socket(edge, http, ws_connect)
    await ws.send("str+{}")
    await ws.recv_until(lambda f: f.get("topic") == "str")
    await place_confirmed(http, edge.api, buy(1))
    before = await executions(ws, 1)
    await nats.kill()
    # The core trades on while the bus is down (its own clients reach it directly).
    for quantity in (2, 3):
        await place_confirmed(http, core.api, buy(quantity))
    await nats.restart()
    await edge.bus.wait_connected()
    after = await executions(ws, 2)
    assert len(set(before + after)) == 3  # each fill once
    fills = await call(http, "GET", core.api + "/iserver/account/trades?days=1")
    assert sorted(t["execution_id"] for t in fills) == sorted(before + after)
    assert edge.follower.stats.resyncs >= 2  # at start, after the reconnect
    # Following live again: the next fill is the next frame, nothing repeated before it.
    await place_confirmed(http, edge.api, buy(4))
    (latest,) = await executions(ws, 1)
    assert latest not in before + after


async def test_a_gap_in_the_numbers_is_repaired_from_the_core_not_skipped(
    cluster: tuple[Member, Member], nats: NatsServerProcess, http: aiohttp.ClientSession
) -> None:
    core, edge = cluster
    assert edge.follower is not None and core.publisher is not None
    ack = await place_confirmed(http, core.api, buy(2))
    order = core.server.gateway.trading.views.todays_orders()[0]
    follower = edge.follower
    await eventually(lambda: follower.replica.todays_orders() == [order], "the order on the edge")
    # A message numbered past the next one: the edge must notice the missing number.
    forged = OrderUpdated(dataclasses.replace(order, status=OrderStatus.CANCELLED))
    intruder = await connect(nats)
    try:
        await intruder.client.publish(
            event_subject(intruder.prefix), encode_event(core.publisher.seq + 2, forged)
        )
        await intruder.round_trip()
    finally:
        await intruder.close()
    await eventually(lambda: follower.stats.gaps == 1 and follower.live, "the gap repaired")
    # The repair took the core's state, not the message that revealed the gap.
    assert edge.follower.replica.todays_orders() == [order]
    assert int(ack[0]["order_id"]) == order.order_id


async def test_a_restarted_core_makes_the_edge_resync_even_without_new_events(
    nats: NatsServerProcess, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    core = await start_core(nats, tmp_path / "core", mark_interval_s=0.1)
    edge = await start_edge(nats, tmp_path / "edge")
    assert edge.follower is not None
    try:
        await asyncio.wait_for(edge.follower.synced.wait(), 10)
        follower = edge.follower
        resyncs = follower.stats.resyncs
        await core.stop()
        core = await start_core(nats, tmp_path / "core", mark_interval_s=0.1)
        # The new run's numbers start higher: its first mark shows the jump.
        await eventually(lambda: follower.stats.resyncs > resyncs and follower.live, "a re-sync")
        assert follower.stats.gaps >= 1
    finally:
        await edge.stop()
        await core.stop()


async def test_mark_driven_pnl_is_merged_on_the_wire_and_keeps_the_journals_order(
    cluster: tuple[Member, Member], nats: NatsServerProcess, http: aiohttp.ClientSession
) -> None:
    core, _edge = cluster
    assert core.publisher is not None
    await place_confirmed(http, core.api, buy(10))
    await core.publisher.flush()
    listener = await connect(nats)
    heard: list[tuple[int, Any]] = []

    async def on_message(msg: Any) -> None:
        heard.append(decode_event(msg.data))

    await listener.client.subscribe(event_subject(listener.prefix), cb=on_message)
    await listener.round_trip()
    try:
        gateway = core.server.gateway
        for step in range(50):  # 50 marks in one turn: 50 P&L moves in the journal
            last = f"{101 + step * 0.01:.2f}"
            gateway.bus.publish(Tick(AAPL, {F.LAST: last}, gateway.clock.now_ns()))
        marked = gateway.trading.views.pnl_event(ACCT)
        assert marked.unrealized > 0
        await place_confirmed(http, core.api, buy(1))
        await core.publisher.flush()
        await eventually(lambda: any(isinstance(e, OrderFilled) for _, e in heard), "the fill")
    finally:
        await listener.close()
    events = [(seq, e) for seq, e in heard if e is not None]
    numbers = [seq for seq, _ in events]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # no gap, in order
    pnl_before_fill = [
        e
        for _, e in events[
            : next(i for i, (_, e) in enumerate(events) if isinstance(e, OrderAccepted))
        ]
        if isinstance(e, PnlChanged)
    ]
    assert 1 <= len(pnl_before_fill) <= 2  # merged, and sent before the next order's events
    assert pnl_before_fill[-1] == marked  # the latest figures, not an earlier mark


async def test_a_day_bigger_than_a_message_reaches_a_new_edge_in_chunks(
    nats: NatsServerProcess, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    core = await start_core(nats, tmp_path / "core", chunk_bytes=1024)
    try:
        ids = [
            int((await place_confirmed(http, core.api, buy(q)))[0]["order_id"])
            for q in (1, 2, 3, 4)
        ]
        edge = await start_edge(nats, tmp_path / "edge")
        try:
            assert edge.follower is not None and core.publisher is not None
            await asyncio.wait_for(edge.follower.synced.wait(), 10)
            assert [o.order_id for o in edge.follower.replica.todays_orders()] == ids
            assert len(edge.follower.replica.fills_since(0)) == 4
            # One snapshot, fetched in pieces.
            assert core.publisher.snapshots_served == 1 and core.publisher.chunks_served > 2
        finally:
            await edge.stop()
    finally:
        await core.stop()


async def test_the_edges_own_engine_reaches_no_client(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core, edge = cluster
    ws = await api_socket(edge, http, ws_connect)  # gets `ntf` and `blt` notices
    # The edge's placeholder engine closes its session (its day cycle runs as a gateway's)...
    placeholder = edge.server.gateway.trading
    placeholder.journal.commit([SessionClosed(placeholder.clock.now_ns(), {})])
    # ... and the next notice the client gets is the core's fill, not that close's bulletin.
    await place_confirmed(http, core.api, buy(1))
    notice = await ws.recv_until(lambda f: f.get("topic") in ("ntf", "blt"))
    assert notice["topic"] == "ntf", notice


async def test_an_alert_that_fires_on_the_core_pushes_its_ntf_to_edge_sockets_too(
    cluster: tuple[Member, Member], http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core, edge = cluster
    sockets = [await api_socket(m, http, ws_connect) for m in (core, edge)]
    created = await call(
        http, "POST", f"{edge.api}/iserver/account/{ACCT}/alert", json=alert_body()
    )
    gateway = core.server.gateway
    # AAPL trades at 100 in the fixed market; a trade at 201 meets the alert's ">= 200".
    gateway.bus.publish(Tick(AAPL, {F.LAST: "201.00"}, gateway.clock.now_ns()))
    notices = [await ws.recv_until(lambda f: f.get("topic") == "ntf") for ws in sockets]
    assert notices[0] == notices[1]
    assert notices[1]["args"][0]["alertId"] == created["order_id"]
    # The notification the frame announces is the core's, listed through the edge too.
    listed = await call(http, "GET", f"{edge.api}/fyi/notifications?max=10")
    assert notices[1]["args"][0]["id"] in {n["ID"] for n in listed}
