"""The trading half of a cluster member, as the roles compose it.

A core (`start_core_trading`, once it listens) answers forwarded REST calls through its own
application and publishes its account events; an edge (`install_edge_trading`, before its app
starts) forwards the core's routes and keeps a replica of the core's accounts that its account
topics read and that feeds its own account streams. Each returns a handle whose `close` ends
what it started (in reverse order).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from tickgate.bus.nats import NatsBus
from tickgate.server.app import RunningServer
from tickgate.server.cluster import trading_forward
from tickgate.server.cluster.account_events import AccountEventPublisher
from tickgate.server.cluster.account_follow import AccountEventFollower
from tickgate.server.cluster.trading_forward import TradingForwarder, rest_subject
from tickgate.server.cluster.trading_serve import TradingResponder, open_loopback
from tickgate.server.gateway import GATEWAY
from tickgate.server.ws import ACCOUNT_READS


@dataclass(eq=False)
class TradingRole:
    """What a member's trading half started; `close` ends it."""

    responder: TradingResponder | None = None
    publisher: AccountEventPublisher | None = None
    forwarder: TradingForwarder | None = None
    follower: AccountEventFollower | None = None
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        while self._closers:
            await self._closers.pop()()


async def start_core_trading(
    bus: NatsBus, server: RunningServer, *, mark_interval_s: float = 1.0
) -> TradingRole:
    """Serve the cluster's trading from this core: call once its server listens."""
    gateway = server.gateway
    role = TradingRole()
    role.responder = await TradingResponder.start(
        bus, rest_subject(bus.prefix), await open_loopback(server.runner), gateway.clock
    )
    role._closers.append(role.responder.close)
    role.publisher = await AccountEventPublisher.start(
        bus, gateway.trading, gateway.clock, mark_interval_s=mark_interval_s
    )
    role._closers.append(role.publisher.close)
    return role


async def install_edge_trading(
    app: web.Application,
    bus: NatsBus,
    *,
    name: str,
    timeout_s: float = 5.0,
    retry_s: float = 0.5,
) -> TradingRole:
    """Make the edge `app` (built, not yet started) trade through the cluster's core."""
    gateway = app[GATEWAY]
    role = TradingRole()
    role.forwarder = TradingForwarder(
        bus.client, rest_subject(bus.prefix), gateway.clock, edge=name, timeout_s=timeout_s
    )
    trading_forward.install(app, role.forwarder)
    accounts, monotonic = gateway.accounts, gateway.clock.monotonic_ns
    role.follower = await AccountEventFollower.start(
        bus, lambda event: accounts.on_event(event, monotonic()), retry_s=retry_s
    )
    role._closers.append(role.follower.close)
    app[ACCOUNT_READS] = role.follower.replica
    return role
