"""Core and edge members over a real nats-server: market data, the session, one core."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.cluster.conftest import Member, StartMember, wait_for
from tests.conftest import WsClient, call, make_config

from tickgate.bus.nats_server import NatsServerProcess
from tickgate.server.cluster.compose import CLUSTER_INTEREST, EDGE_FEED, LINE_LEDGER
from tickgate.server.cluster.lease import CoreAlreadyRunningError
from tickgate.server.cluster.membership import join

Connect = Callable[..., Awaitable[WsClient]]
AAPL, MSFT, IBM = 265598, 272093, 8314


async def portal_stream(
    member: Member, http: aiohttp.ClientSession, ws_connect: Connect, conid: int, fields: str
) -> WsClient:
    await call(http, "GET", member.base_url + "/v1/api/iserver/accounts")
    ws = await ws_connect(member.ws_base + "/v1/portal/ws")
    await ws.send(f's+md+{conid}+{{"fields":"{fields}"}}')
    return ws


async def md_frames(ws: WsClient, conid: int, count: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while len(frames) < count:
        frame = await ws.recv_until(lambda f: f.get("topic") == f"md+{conid}", timeout=10)
        assert "error" not in frame, frame
        frames.append(frame)
    return frames


async def test_an_edge_client_gets_the_frames_a_core_client_gets(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core")
    core_ws = await portal_stream(core, http, ws_connect, AAPL, "31,84,86")
    core_frames = await md_frames(core_ws, AAPL, 3)  # the core has been ticking for a while
    # The edge joins late: its client's first frame is the image (every field at once), then
    # the live stream stitched to it.
    edge = await start_member("edge")
    edge_ws = await portal_stream(edge, http, ws_connect, AAPL, "31,84,86")
    edge_frames = await md_frames(edge_ws, AAPL, 25)
    assert set(edge_frames[0]) == {"topic", "31", "84", "86"}
    # After the image, the edge's frames are a run of the core client's, in the same order.
    tail = edge_frames[1:]
    core_frames += await md_frames(core_ws, AAPL, 60)
    runs = [i for i in range(len(core_frames)) if core_frames[i : i + len(tail)] == tail]
    assert len(runs) == 1, (tail, core_frames)
    follower = edge.server.runner.app[EDGE_FEED].follower
    assert follower.duplicates() == 0 and follower.stats.gaps == 0


async def test_the_core_hears_what_edges_stream_and_forgets_it_when_they_stop(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    interest = core.server.runner.app[CLUSTER_INTEREST]
    heard: list[tuple[int, tuple[int, ...]]] = []
    interest.add_interest_listener(lambda conid, fields: heard.append((conid, fields)))
    ws = await portal_stream(edge, http, ws_connect, AAPL, "31,84")
    await wait_for(lambda: interest.interest(AAPL) == (31, 84))
    assert heard[-1] == (AAPL, (31, 84)) and core.server.gateway.hub.interest(AAPL) == ()
    await ws.send(f"u+md+{AAPL}")
    await wait_for(lambda: interest.interest(AAPL) == ())
    assert heard[-1] == (AAPL, ())


async def test_priming_and_logout_are_cluster_wide(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    core_session, edge_session = core.server.gateway.session, edge.server.gateway.session
    await wait_for(lambda: edge_session.id == core_session.id)
    assert not core_session.primed
    await call(http, "GET", edge.base_url + "/v1/api/iserver/accounts")
    await wait_for(lambda: core_session.primed)
    # A client of the core streams; logging out on the edge ends its stream as on one gateway.
    ws = await portal_stream(core, http, ws_connect, AAPL, "31")
    await md_frames(ws, AAPL, 1)
    old_id = core_session.id
    await call(http, "POST", edge.base_url + "/v1/api/logout")
    await wait_for(lambda: not core_session.authenticated and core_session.id != old_id)
    await wait_for(lambda: edge_session.id == core_session.id and not edge_session.authenticated)
    await ws.recv_until(lambda f: "error" in f or f.get("topic") == "system", timeout=5)
    tickle = await call(http, "GET", edge.base_url + "/v1/api/tickle")
    assert tickle["session"] == core_session.id


async def test_a_snapshot_on_an_edge_has_the_values_of_the_core(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    await start_member("core")
    edge = await start_member("edge")
    url = edge.base_url + f"/v1/api/iserver/marketdata/snapshot?conids={AAPL}&fields=55,31,84"
    await call(http, "GET", edge.base_url + "/v1/api/iserver/accounts")
    (preflight,) = await call(http, "GET", url)  # the first call only opens the stream
    assert set(preflight) == {"conid", "conidEx"}
    (row,) = await call(http, "GET", url)
    assert row["55"] == "AAPL" and float(row["31"]) > 0 and float(row["84"]) > 0


async def test_a_second_core_is_refused_naming_the_first(
    start_member: StartMember, tmp_path: Path, nats: NatsServerProcess
) -> None:
    core = await start_member("core")
    config = make_config(tmp_path / "second", nats=nats.url, cluster="test")
    with pytest.raises(CoreAlreadyRunningError) as refused:
        await join(config)
    message = str(refused.value)
    assert core.membership.member_id in message and "pid" in message and "since" in message


async def test_of_two_cores_started_at_once_exactly_one_wins(
    tmp_path: Path, nats: NatsServerProcess
) -> None:
    configs = [make_config(tmp_path / f"c{i}", nats=nats.url, cluster="race") for i in range(4)]
    results = await asyncio.gather(*(join(c) for c in configs), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, CoreAlreadyRunningError)]
    assert len(winners) == 1 and len(refused) == 3, results
    for winner in winners:
        await winner.close()


async def test_market_data_lines_are_counted_across_the_cluster(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core", md_lines=2)
    edge = await start_member("edge", md_lines=2)
    ledger = edge.server.runner.app[LINE_LEDGER]
    on_core = await portal_stream(core, http, ws_connect, AAPL, "31")
    await md_frames(on_core, AAPL, 1)
    on_edge = await portal_stream(edge, http, ws_connect, MSFT, "31")
    await md_frames(on_edge, MSFT, 1)
    assert ledger.held() == {AAPL, MSFT}  # each claimed before its stream began
    # A third conid would be a third line of the one session: refused on either member.
    await on_edge.send(f's+md+{IBM}+{{"fields":"31"}}')
    refusal = await on_edge.recv_until(lambda f: f.get("topic") == f"md+{IBM}", timeout=10)
    assert "market data lines" in refusal["error"].lower()
    await on_core.send(f's+md+{IBM}+{{"fields":"31"}}')
    refusal = await on_core.recv_until(lambda f: f.get("topic") == f"md+{IBM}", timeout=10)
    assert "market data lines" in refusal["error"].lower()
    # A conid another member streams costs no new line.
    await on_edge.send(f's+md+{AAPL}+{{"fields":"31"}}')
    await md_frames(on_edge, AAPL, 1)


async def test_a_snapshot_pre_flighted_on_one_member_answers_on_another(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    core = await start_member("core")
    first, second = await start_member("edge"), await start_member("edge")
    await call(http, "GET", first.base_url + "/v1/api/iserver/accounts")
    query = f"/v1/api/iserver/marketdata/snapshot?conids={AAPL}&fields=31,84"
    (preflight,) = await call(http, "GET", first.base_url + query)
    assert set(preflight) == {"conid", "conidEx"}
    (row,) = await call(http, "GET", second.base_url + query)  # as two calls to one gateway
    assert float(row["31"]) > 0 and float(row["84"]) > 0
    (row,) = await call(http, "GET", core.base_url + query)
    assert float(row["31"]) > 0
    await call(http, "GET", second.base_url + "/v1/api/iserver/marketdata/unsubscribeall")
    (again,) = await call(http, "GET", first.base_url + query)
    assert set(again) == {"conid", "conidEx"}
