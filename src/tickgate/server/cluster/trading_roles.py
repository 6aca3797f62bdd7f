"""The trading half of a cluster member, as the roles compose it.

A core (`install_core_trading`) answers forwarded REST calls through its own application once
it listens, and publishes its account events and alert notices while it runs; an edge
(`install_edge_trading`) forwards the core's routes, keeps a replica of the core's accounts
that its account topics read and that feeds its own account streams, and pushes the core's
alert notices to its sockets. Both are called on the built app before it
starts; what they start ends with the app. `NatsTrading` is the same as the roles' trading
seam (`install_core`, `edge_routes`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from tickgate.bus.nats import NatsBus
from tickgate.server.app import ON_LISTENING, RunningServer, pushed_notice
from tickgate.server.cluster import trading_forward
from tickgate.server.cluster.account_events import AccountEventPublisher
from tickgate.server.cluster.account_follow import AccountEventFollower
from tickgate.server.cluster.notices import NoticeFollower, NoticePublisher
from tickgate.server.cluster.session_sync import CORE_SESSION, EDGE_SESSION
from tickgate.server.cluster.trading_forward import TradingForwarder, rest_subject
from tickgate.server.cluster.trading_serve import TradingResponder, open_loopback
from tickgate.server.gateway import GATEWAY, Gateway
from tickgate.server.ws import ACCOUNT_READS

CleanupContext = Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]


@dataclass(eq=False)
class TradingRole:
    """What a member's trading half runs (filled in as the app starts)."""

    responder: TradingResponder | None = None
    publisher: AccountEventPublisher | None = None
    forwarder: TradingForwarder | None = None
    follower: AccountEventFollower | None = None
    notices: NoticePublisher | NoticeFollower | None = None


def install_core_trading(
    app: web.Application,
    bus: NatsBus,
    *,
    mark_interval_s: float = 1.0,
    chunk_bytes: int = 512 << 10,
) -> TradingRole:
    """Make the core `app` serve the cluster's trading over `bus`."""
    gateway = app[GATEWAY]
    role = TradingRole()

    core_session = app.get(CORE_SESSION)

    async def answer(server: RunningServer) -> None:
        role.responder = await TradingResponder.start(
            bus,
            rest_subject(bus.prefix),
            await open_loopback(server.runner),
            gateway.clock,
            session_version=None if core_session is None else core_session.current_version,
        )

    @contextlib.asynccontextmanager
    async def run(_app: web.Application) -> AsyncIterator[None]:
        role.publisher = await AccountEventPublisher.start(
            bus,
            gateway.trading,
            gateway.clock,
            mark_interval_s=mark_interval_s,
            chunk_bytes=chunk_bytes,
        )
        notices = role.notices = NoticePublisher(bus, gateway.fyi, pushed_notice)
        try:
            yield
        finally:
            if role.responder is not None:
                await role.responder.close()
            await role.publisher.close()
            await notices.close()

    app.setdefault(ON_LISTENING, []).append(answer)
    app.cleanup_ctx.append(run)
    return role


def install_edge_trading(
    app: web.Application,
    bus: NatsBus,
    *,
    name: str,
    timeout_s: float = 5.0,
    retry_s: float = 0.5,
) -> TradingRole:
    """Make the edge `app` trade through the cluster's core over `bus`."""
    gateway = app[GATEWAY]
    # The edge's own engine trades for nobody: only the core's events reach its clients.
    gateway.trading.journal.silence()
    accounts, monotonic = gateway.accounts, gateway.clock.monotonic_ns
    follower = AccountEventFollower(
        bus, lambda event: accounts.on_event(event, monotonic()), retry_s=retry_s
    )
    notices = NoticeFollower(bus, gateway.accounts)
    role = TradingRole(follower=follower, notices=notices)
    edge_session = app.get(EDGE_SESSION)
    role.forwarder = TradingForwarder(
        bus.client,
        rest_subject(bus.prefix),
        gateway.clock,
        edge=name,
        timeout_s=timeout_s,
        catch_up=None if edge_session is None else edge_session.caught_up,
    )
    trading_forward.install(app, role.forwarder)
    app[ACCOUNT_READS] = follower.replica

    @contextlib.asynccontextmanager
    async def run(_app: web.Application) -> AsyncIterator[None]:
        await follower.start()
        await notices.start()
        try:
            yield
        finally:
            await notices.close()
            await follower.close()

    app.cleanup_ctx.append(run)
    return role


class Member(Protocol):
    """What the trading half needs of a cluster membership."""

    @property
    def bus(self) -> NatsBus: ...

    @property
    def member_id(self) -> str: ...


class NatsTrading:
    """The roles' trading seam over NATS: the core serves, edges forward (see the module)."""

    def install_core(self, app: web.Application, gateway: Gateway, membership: Member) -> None:
        install_core_trading(app, membership.bus)

    def edge_routes(
        self, app: web.Application, gateway: Gateway, membership: Member, local: Any
    ) -> Any:
        """`local` unchanged: forwarding happens before routing reaches them (see
        `trading_forward.forward_middleware`), for every route the rule gives the core."""
        install_edge_trading(app, membership.bus, name=membership.member_id)
        return local
