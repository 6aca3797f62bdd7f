"""A core and edges composed in one test process on a real nats-server, for the trading pieces:
the core answers forwarded REST calls and publishes account events, edges forward and follow.
(The roles' own composition, `tickgate serve --cluster-role`, is tested with processes.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SERVER_EPOCH_NS, make_config
from tests.server.fixed_market import FixedMarket

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.clock import Clock, ShiftedClock
from tickgate.server.app import RunningServer, build_app, start_server
from tickgate.server.cluster.account_events import AccountEventPublisher
from tickgate.server.cluster.account_follow import AccountEventFollower
from tickgate.server.cluster.trading_roles import install_core_trading, install_edge_trading

PREFIX = "tg-test"
AAPL = 265598
#: The core's fixed market: fills happen at these prices, whatever the time.
QUOTES = {AAPL: ("100.00", "100.10", "100.05"), 8314: ("50.00", "50.02", "50.01")}


@dataclass(eq=False)
class Member:
    server: RunningServer
    bus: NatsBus
    #: The edge's follower of the core's account events (None on the core).
    follower: AccountEventFollower | None = None
    publisher: AccountEventPublisher | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.server.base_url + "/v1/api"

    async def stop(self) -> None:
        for close in reversed(self.closers):
            await close()
        await self.server.stop()
        await self.bus.close()


async def connect(nats: NatsServerProcess) -> NatsBus:
    return await NatsBus.connect(
        NatsOptions(nats.url, reconnect_wait_s=0.05), prefix=PREFIX, subscribe_all=False
    )


async def start_core(
    nats: NatsServerProcess,
    data: Path,
    *,
    clock: Clock | None = None,
    mark_interval_s: float = 1.0,
    chunk_bytes: int = 512 << 10,
    **changes: Any,
) -> Member:
    """A core: the fixed market, the trading engine on SQLite in `data`, answering forwards."""
    clock = clock or ShiftedClock(SERVER_EPOCH_NS)
    bus = await connect(nats)
    market = FixedMarket(QUOTES)
    app = build_app(make_config(data, **changes), clock=clock, source=market.for_gateway, bus=bus)
    role = install_core_trading(app, bus, mark_interval_s=mark_interval_s, chunk_bytes=chunk_bytes)
    server = await start_server(app)
    await asyncio.wait_for(market.ready.wait(), 10)
    member = Member(server, bus, publisher=role.publisher)
    return member


async def start_edge(
    nats: NatsServerProcess,
    data: Path,
    *,
    name: str = "edge-1",
    timeout_s: float = 5.0,
    clock: Clock | None = None,
) -> Member:
    """An edge: no market of its own here (the roles feed it over the bus), a memory store it
    never uses for trading, and its trading routes forwarded to the core."""
    clock = clock or ShiftedClock(SERVER_EPOCH_NS)
    bus = await connect(nats)
    app = build_app(
        make_config(data, store="memory"), clock=clock, source=FixedMarket({}).for_gateway, bus=bus
    )
    role = install_edge_trading(app, bus, name=name, timeout_s=timeout_s, retry_s=0.05)
    member = Member(await start_server(app), bus, follower=role.follower)
    return member


StartMember = Callable[..., Awaitable[Member]]


@pytest.fixture
async def nats() -> AsyncIterator[NatsServerProcess]:
    server = NatsServerProcess()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def members(tmp_path: Path) -> AsyncIterator[list[Member]]:
    """Members a test started (it appends them); all stopped at its end."""
    started: list[Member] = []
    yield started
    for member in reversed(started):
        await member.stop()
