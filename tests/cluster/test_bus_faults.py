"""Market data through an edge across nats-server faults (a real server killed and started
again, or frozen with SIGSTOP): the edge's client stream resumes as a run of the core
client's frames, none twice, none out of order."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from tests.cluster.conftest import Member, StartMember, wait_for
from tests.conftest import WsClient, call

from tickgate.bus.nats import NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.server.cluster.compose import EDGE_FEED

Connect = Callable[..., Awaitable[WsClient]]
AAPL = 265598
Frames = list[dict[str, Any]]


def quick(options: NatsOptions) -> NatsOptions:
    """Bus timings shortened for tests: a frozen server is given up after about 1 s (the
    same path as a long freeze with the default 20 s pings), reconnects every 0.1 s. The
    connect timeout stays the default: it bounds the members' first connect too, which a
    loaded machine took more than 0.5 s to finish (the join failed before any fault)."""
    return dataclasses.replace(
        options, ping_interval_s=0.3, max_outstanding_pings=2, reconnect_wait_s=0.1
    )


async def collect(ws: WsClient, frames: Frames) -> None:
    """Append every md frame of AAPL the client gets, until cancelled."""
    while True:
        frame = await ws.recv_until(lambda f: f.get("topic") == f"md+{AAPL}", timeout=60)
        assert "error" not in frame, frame
        frames.append(frame)


async def streams(
    core: Member, edge: Member, http: aiohttp.ClientSession, ws_connect: Connect
) -> tuple[Frames, Frames, list[asyncio.Task[None]]]:
    core_frames: Frames = []
    edge_frames: Frames = []
    tasks = []
    for member, frames in ((core, core_frames), (edge, edge_frames)):
        await call(http, "GET", member.base_url + "/v1/api/iserver/accounts")
        ws = await ws_connect(member.ws_base + "/v1/portal/ws")
        await ws.send(f's+md+{AAPL}+{{"fields":"31,84,86"}}')
        tasks.append(asyncio.create_task(collect(ws, frames)))
    await wait_for(lambda: len(edge_frames) >= 5 and len(core_frames) >= 5)
    return core_frames, edge_frames, tasks


async def assert_resumed_as_a_run(
    core_frames: Frames, edge_frames: Frames, since: int, count: int = 20
) -> None:
    """The edge's `count` frames from `since` on are consecutive frames of the core's."""
    await wait_for(lambda: len(edge_frames) >= since + count, timeout=30)
    run = edge_frames[since : since + count]
    await wait_for(lambda: any(core_frames[i : i + count] == run for i in range(len(core_frames))))


async def test_streams_resume_after_the_nats_server_is_killed_and_started_again(
    start_member: StartMember,
    nats: NatsServerProcess,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
) -> None:
    core = await start_member("core", tune=quick)
    edge = await start_member("edge", tune=quick)
    core_frames, edge_frames, tasks = await streams(core, edge, http, ws_connect)
    follower = edge.server.runner.app[EDGE_FEED].follower
    await nats.kill()
    await wait_for(lambda: not edge.membership.bus.connected)
    await nats.restart()
    await wait_for(lambda: follower.stats.resyncs >= 1 and follower.live(AAPL), timeout=30)
    # The first frame after the resync carries what the fresh image changed.
    # Ticks the core sent while disconnected may reach the edge after the image that holds
    # them: dropped there (follower.duplicates()), never shown to a client twice.
    await assert_resumed_as_a_run(core_frames, edge_frames, len(edge_frames) + 1)
    for task in tasks:
        task.cancel()


async def test_streams_resume_after_the_nats_server_is_frozen(
    start_member: StartMember,
    nats: NatsServerProcess,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
) -> None:
    core = await start_member("core", tune=quick)
    edge = await start_member("edge", tune=quick)
    core_frames, edge_frames, tasks = await streams(core, edge, http, ws_connect)
    follower = edge.server.runner.app[EDGE_FEED].follower
    nats.pause()
    try:
        # Frozen past the pings: both members give the server up and try to reconnect.
        await wait_for(lambda: not edge.membership.bus.connected, timeout=30)
        await wait_for(lambda: not core.membership.bus.connected, timeout=30)
    finally:
        nats.resume()
    await wait_for(lambda: follower.stats.resyncs >= 1 and follower.live(AAPL), timeout=30)
    # Ticks the core sent while disconnected may reach the edge after the image that holds
    # them: dropped there (follower.duplicates()), never shown to a client twice.
    await assert_resumed_as_a_run(core_frames, edge_frames, len(edge_frames) + 1)
    for task in tasks:
        task.cancel()


async def test_a_short_freeze_loses_nothing_and_needs_no_resync(
    start_member: StartMember,
    nats: NatsServerProcess,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    core_frames, edge_frames, tasks = await streams(core, edge, http, ws_connect)
    follower = edge.server.runner.app[EDGE_FEED].follower
    nats.pause()
    frozen_at, edge_at = len(core_frames), len(edge_frames)
    await wait_for(lambda: len(core_frames) >= frozen_at + 20)  # the core ticks on meanwhile
    nats.resume()
    # What the edge did not get while the server was frozen arrives after, in order: its
    # frames from before the freeze to well after it are one run of the core's.
    await assert_resumed_as_a_run(core_frames, edge_frames, max(1, edge_at - 5), count=40)
    assert follower.stats.gaps == 0 and follower.stats.resyncs == 0
    assert follower.duplicates() == 0
    for task in tasks:
        task.cancel()


async def test_an_edge_recovers_by_itself_when_the_core_is_replaced(
    start_member: StartMember,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    _core_frames, edge_frames, tasks = await streams(core, edge, http, ws_connect)
    follower = edge.server.runner.app[EDGE_FEED].follower
    await core.stop()
    gaps = follower.stats.gaps
    replacement = await start_member("core")
    # The new core numbers its ticks above the old one's: the edge sees a gap, takes the new
    # core's image and follows it; its clients' streams carry on, unsubscribed from nothing.
    await wait_for(lambda: follower.stats.gaps > gaps and follower.live(AAPL), timeout=30)
    await wait_for(lambda: edge.server.gateway.session.id == replacement.server.gateway.session.id)
    new_frames: Frames = []
    await call(http, "GET", edge.base_url + "/v1/api/iserver/accounts")
    await call(http, "GET", replacement.base_url + "/v1/api/iserver/accounts")
    ws = await ws_connect(replacement.ws_base + "/v1/portal/ws")
    await ws.send(f's+md+{AAPL}+{{"fields":"31,84,86"}}')
    tasks.append(asyncio.create_task(collect(ws, new_frames)))
    await wait_for(lambda: len(new_frames) >= 3)
    await assert_resumed_as_a_run(new_frames, edge_frames, len(edge_frames) + 1)
    for task in tasks:
        task.cancel()
