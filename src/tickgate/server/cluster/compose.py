"""The cluster's part of the composition root: what `server.app.build_app` does differently
for a core and for an edge.

- Core: everything a single gateway has; its ticks go out on NATS numbered per conid
  (`CoreTickBus`), it answers image requests, unites the cluster's interest for its source
  (`ClusterInterest`, see `interest_of`), publishes the brokerage session (`CoreSession`).
- Edge: its own catalogue, market engine, hub, dialects and REST; no source, no trading store
  (an in-memory placeholder engine), no session ownership. Its market data comes from
  `EdgeFeed`; its session follows the core's (`EdgeSession`); its trading routes are whatever
  the `ClusterTrading` seam returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from tickgate.bus.base import Bus
from tickgate.bus.memory import MemoryBus
from tickgate.clock import Clock
from tickgate.config import Config
from tickgate.server.cluster.catalogue_sync import CoreCatalogue, EdgeCatalogue, Learn
from tickgate.server.cluster.core_lookups import CoreLookups
from tickgate.server.cluster.line_ledger import LineLedger
from tickgate.server.cluster.live_reads import LIVE_READS, live_first
from tickgate.server.cluster.market import (
    INTEREST_HEARTBEAT_S,
    ClusterInterest,
    CoreTickBus,
    EdgeFeed,
)
from tickgate.server.cluster.membership import ClusterMembership
from tickgate.server.cluster.seams import ClusterTrading, Routes, default_trading
from tickgate.server.cluster.session_sync import (
    CORE_SESSION,
    EDGE_SESSION,
    CoreSession,
    EdgeSession,
)
from tickgate.server.errors import interrupts_replies
from tickgate.server.gateway import Gateway
from tickgate.server.http import Handler
from tickgate.server.relay_lookups import RELAY_LOOKUPS, then
from tickgate.server.ws import BEFORE_MESSAGE
from tickgate.sources.base import DataSource
from tickgate.streaming.hub import InterestListener

log = logging.getLogger("tickgate.cluster")

CLUSTER = web.AppKey("cluster", ClusterMembership)
CLUSTER_INTEREST = web.AppKey("cluster_interest", ClusterInterest)
EDGE_FEED = web.AppKey("edge_feed", EdgeFeed)
LINE_LEDGER = web.AppKey("line_ledger", LineLedger)


class InterestSource(Protocol):
    """What a source that holds upstream lines listens to (a hub, or the cluster's union)."""

    def add_interest_listener(self, listener: InterestListener) -> None: ...


def interest_of(app: web.Application, gateway: Gateway) -> InterestSource:
    """Whose interest a source must follow: the whole cluster's on a core, else the hub's."""
    cluster_wide = app.get(CLUSTER_INTEREST)
    return gateway.hub if cluster_wide is None else cluster_wide


def is_edge(cluster: ClusterMembership | None) -> bool:
    return cluster is not None and cluster.role == "edge"


def edge_config(config: Config) -> Config:
    """An edge's settings: no source of its own and no trading store (the core has them).
    Behind a relay core it keeps the core's line limit: the upstream's budget."""
    relayed = config.source == "relay"
    return dataclasses.replace(
        config,
        store="memory",
        source="simulator",
        replay=(),
        record=None,
        md_lines=min(config.md_lines, config.upstream_md_lines) if relayed else config.md_lines,
    )


def cluster_bus(cluster: ClusterMembership, clock: Clock) -> Bus:
    """The tick bus of a member's gateway: the core publishes on NATS; an edge's engine is fed
    in-process by its `EdgeFeed`."""
    if cluster.role == "core":
        return CoreTickBus(cluster.bus, clock)
    return MemoryBus()


def install(
    app: web.Application,
    gateway: Gateway,
    cluster: ClusterMembership,
    trading: ClusterTrading | None,
    market_routes: Routes,
    core_routes: Routes,
) -> tuple[Routes, Routes, DataSource | None]:
    """Wire `cluster`'s pieces into `app`. Returns the market-data routes and the routes only
    the core can answer (trading, portfolio, account, history, scanner), as this member
    serves them, and, on an edge, the data source (the feed from the core)."""
    app[CLUSTER] = cluster
    trading = trading or default_trading()
    ledger = _line_ledger(app, gateway, cluster)
    if cluster.role == "core":
        core_bus = gateway.bus
        assert isinstance(core_bus, CoreTickBus)
        publisher = core_bus.attach(gateway.market)
        interest = ClusterInterest(gateway.hub, cluster.bus)
        app[CLUSTER_INTEREST] = interest
        desk = gateway.trading.desk
        session = CoreSession(
            gateway.session,
            cluster.bus,
            version_base=gateway.clock.host_ns(),
            replies_pending=lambda: desk.replies_pending,
            interrupt=desk.interrupt_replies,
        )
        app[CORE_SESSION] = session
        app.middlewares.append(_replies_noted(session))
        catalogue = CoreCatalogue(cluster.bus, gateway.catalogue, learn=_relay_learning(app))
        trading.install_core(app, gateway, cluster)
        app.cleanup_ctx.append(
            _core_context(publisher.serve_images, interest, session, catalogue, ledger)
        )
        return market_routes, core_routes, None
    feed = EdgeFeed(
        cluster.bus,
        gateway.hub,
        cluster.member_id,
        snapshot_conids=lambda: list(gateway.session.preflighted),
    )
    app[EDGE_FEED] = feed
    edge_session = EdgeSession(gateway.session, cluster.bus)
    app[EDGE_SESSION] = edge_session
    feed.stale_reason = edge_session.problem
    app.middlewares.append(_interrupts_core_replies(edge_session, gateway.config))
    edge_catalogue = EdgeCatalogue(cluster.bus, gateway.catalogue)
    app.middlewares.append(_settled(edge_session, edge_catalogue))
    lookups = CoreLookups(edge_catalogue)
    app.middlewares.append(lookups.middleware)
    app[BEFORE_MESSAGE] = then(lookups.learn_streamed, ledger.before_message)
    app.cleanup_ctx.append(
        _edge_context(edge_session, edge_catalogue, ledger, wait_s=cluster.core_wait_s)
    )
    return (
        [
            (m, p, live_first(feed, gateway, h, LIVE_READS[p]) if p in LIVE_READS else h)
            for m, p, h in market_routes
        ],
        trading.edge_routes(app, gateway, cluster, core_routes),
        feed,
    )


def _relay_learning(app: web.Application) -> Learn:
    """What the core learns an edge's unknown conids with: a relay core asks its upstream
    (`relay_lookups`, installed after this); any other core knows what it knows."""

    async def learn(conids: list[int]) -> None:
        upstream = app.get(RELAY_LOOKUPS)
        if upstream is not None:
            await upstream.learn(conids)

    return learn


def _line_ledger(app: web.Application, gateway: Gateway, cluster: ClusterMembership) -> LineLedger:
    """The cluster-wide line count, in place of this member's own: the hub's line check reads
    it, and a stream's line is claimed before its message is read."""
    hub = gateway.hub
    ledger = LineLedger(
        cluster.bus,
        cluster.cluster,
        cluster.member_id,
        gateway.config.md_lines,
        streamed=lambda conid: bool(hub.interest(conid)),
    )
    hub.count_lines_elsewhere(ledger.held)
    hub.add_interest_listener(ledger.on_interest)
    app[BEFORE_MESSAGE] = ledger.before_message
    app[LINE_LEDGER] = ledger
    return ledger


async def _forget_silent_members(ledger: LineLedger, interest: ClusterInterest, me: str) -> None:
    """The core releases the lines of members it has not heard from for three interest
    heartbeats (edges killed or cut off; an earlier core), until cancelled."""
    missing: dict[str, int] = {}
    while True:
        await asyncio.sleep(INTEREST_HEARTBEAT_S)
        live = {*interest.edges, me}
        holders = await ledger.members()
        missing = {m: missing.get(m, 0) + 1 for m in holders - live}
        gone = {m for m, beats in missing.items() if beats >= 3}
        if gone:
            await ledger.forget(gone)


def _settled(session: EdgeSession, catalogue: EdgeCatalogue) -> Middleware:
    """A request that changed the session here (primed it, logged out) or grew the catalogue
    (an auto-instrument searched) is answered once the core has it, so the client's next
    request finds it on whichever member it reaches."""

    @web.middleware
    async def settle(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if session.unsettled and not await session.settled():
            log.warning("edge: the core did not acknowledge a session change in time")
        if catalogue.unsettled and not await catalogue.settled():
            log.warning("edge: the core did not acknowledge an added instrument in time")
        return response

    return settle


def _replies_noted(session: CoreSession) -> Middleware:
    """After each request the core answered: edges learn when an order question starts or
    stops waiting, so a request one of them answers itself can make it stale."""

    @web.middleware
    async def note(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            session.note_replies()

    return note


def _interrupts_core_replies(session: EdgeSession, config: Config) -> Middleware:
    """A request an edge answers itself makes the core's pending order reply ids stale, as
    any request does on one gateway; it is answered once the core has done so (see
    `_session_settled`), so a reply sent after it is refused as on one gateway."""

    @web.middleware
    async def interrupt(request: web.Request, handler: Handler) -> web.StreamResponse:
        if interrupts_replies(config, request.path):
            session.interrupt_replies()
        return await handler(request)

    return interrupt


def _core_context(
    serve_images: Callable[[], Awaitable[None]],
    interest: ClusterInterest,
    session: CoreSession,
    catalogue: CoreCatalogue,
    ledger: LineLedger,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def run(_app: web.Application) -> AsyncIterator[None]:
        await serve_images()
        await catalogue.start()
        await ledger.start()
        await session.start()
        tasks = [
            asyncio.create_task(interest.run(), name="cluster-interest"),
            asyncio.create_task(
                _forget_silent_members(ledger, interest, ledger.member_id), name="cluster-lines"
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await ledger.leave()
            await session.close()
            await catalogue.close()

    return run


def _edge_context(
    session: EdgeSession, catalogue: EdgeCatalogue, ledger: LineLedger, *, wait_s: float
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def run(_app: web.Application) -> AsyncIterator[None]:
        await catalogue.start()
        await ledger.start()
        await session.start()
        # Listen only once the core's session id is adopted (so a client's cookie works here
        # as on every other member) and its added instruments are known here; a core that is
        # away does not keep the edge down.
        try:
            async with asyncio.timeout(wait_s):
                await session.ready.wait()
                await catalogue.caught_up.wait()
        except TimeoutError:
            log.warning(
                "edge: no answer from the core within %g s; serving with a provisional session",
                wait_s,
            )
        try:
            yield
        finally:
            await ledger.leave()
            await session.close()
            await catalogue.close()

    return run
