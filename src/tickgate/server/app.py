"""Composition root of the server: builds the engines, the routes and the background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web, web_app

from tickgate import datadir
from tickgate.bus.base import Bus
from tickgate.bus.memory import MemoryBus
from tickgate.clock import NS_PER_MS, NS_PER_S, Clock, SystemClock
from tickgate.config import Config, exposure_problem
from tickgate.dialects import account_frames
from tickgate.errors import ConfigError
from tickgate.market.catalogue.auto import resolve_generated
from tickgate.market.catalogue.catalogue import Catalogue, default_catalogue, merge
from tickgate.market.catalogue.files import load_instruments
from tickgate.market.engine import MarketEngine
from tickgate.market.fx import FxRates
from tickgate.market.health import Health
from tickgate.market.history.service import HistoryService
from tickgate.market.market_hours import MarketHours, Mode
from tickgate.market.scanner import Scanner
from tickgate.market.watchlist_file import JsonWatchlistFile
from tickgate.market.watchlists import MemoryWatchlistStore, Watchlists, WatchlistStore
from tickgate.model.accounts import DEFAULT_ADVISOR_ID, AccountConfig, advisor_master
from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.server import (
    gatekeeper,
    health_routes,
    log_context,
    market_control,
    metrics,
    operator_view,
    pacing,
    page,
    relay_control,
    relay_history,
    relay_lookups,
    replay_control,
    rest_account,
    rest_alerts,
    rest_allocation,
    rest_beta,
    rest_contracts,
    rest_fa_models,
    rest_fyi,
    rest_marketdata,
    rest_orders,
    rest_pa,
    rest_portfolio,
    rest_rules,
    rest_scanner,
    rest_session,
    rest_watchlists,
    rest_whatif,
    ws_api,
    ws_portal,
)
from tickgate.server.answer_ids import AnswerIds
from tickgate.server.deadlines import KEEPALIVE_SECONDS, JsonErrorsServer, RequestDeadlines
from tickgate.server.errors import (
    error_middleware,
    not_found,
    reply_discipline_middleware,
    session_middleware,
)
from tickgate.server.faults import routes as fault_routes
from tickgate.server.faults.rest import fault_middleware
from tickgate.server.gateway import GATEWAY, Gateway
from tickgate.server.handoff import handoff_middleware
from tickgate.server.http import Routes, Slots, add_routes
from tickgate.server.http_log import server_logger
from tickgate.server.openapi import routes as openapi_routes
from tickgate.server.session import BrokerSession
from tickgate.server.source_run import SOURCE_RUN, SourceRun
from tickgate.server.store_probe import ProbedStore
from tickgate.server.tick_latency import tick_latency_sampler
from tickgate.server.traffic import Traffic
from tickgate.server.ws import close_all
from tickgate.sources.base import DataSource
from tickgate.sources.replay.clock import sleep_until
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.sources.simulator.source import SimulatorSource
from tickgate.stores.sqlite import SqliteEventStore
from tickgate.streaming.accounts import AccountStreams
from tickgate.streaming.hub import StreamingHub
from tickgate.streaming.outbox import TurnBatcher
from tickgate.trading import alerts as alert_book
from tickgate.trading import feed
from tickgate.trading import fyi as fyi_codes
from tickgate.trading.alerts import AlertBook
from tickgate.trading.allocated_orders import AllocationDesk
from tickgate.trading.allocation import AllocationBook
from tickgate.trading.commissions import CommissionSchedule
from tickgate.trading.day_cycle import DayCycle
from tickgate.trading.documents import DocumentStore
from tickgate.trading.engine import TradingConfig, TradingEngine
from tickgate.trading.fa_models import ModelDesk
from tickgate.trading.feed import QuoteFeed
from tickgate.trading.fyi import FyiCenter, Notification
from tickgate.trading.matching import MatchConfig, QueueModel, TriggerSource
from tickgate.trading.portfolio import margin_cushion_of
from tickgate.trading.store import MemoryEventStore

if TYPE_CHECKING:
    # Types only: the cluster's modules need nats-py, which only the `cluster` extra installs.
    from tickgate.server.cluster.membership import ClusterMembership
    from tickgate.server.cluster.seams import ClusterTrading

log = logging.getLogger("tickgate.server")

DEADLINES = web.AppKey("deadlines", RequestDeadlines)

TEMPO_POLL_SECONDS = 0.01


def build_catalogue(
    config: Config, clock: Clock, *, recorded: Sequence[Instrument] = ()
) -> Catalogue:
    """The built-in catalogue, extended or replaced by the configured file; instruments of
    replayed recordings join it. Growable: `Catalogue.add` adds instruments while serving."""
    today = datetime.datetime.fromtimestamp(clock.now_ns() / NS_PER_S, datetime.UTC).date()
    catalogue = default_catalogue(today=today, growable=True, universe=config.universe)
    if recorded:
        catalogue = merge(catalogue, list(recorded), replace=False)
    if config.catalogue is not None:
        extra = load_instruments(config.catalogue)
        catalogue = merge(catalogue, extra, replace=config.catalogue_mode == "replace")
    return catalogue


def build_gateway(
    config: Config,
    clock: Clock,
    *,
    recorded: Sequence[Instrument] = (),
    simulated: bool = True,
    bus: Bus | None = None,
) -> Gateway:
    """Create every service of one gateway and wire the market listeners; with `simulated`,
    the simulated market too (the source `build_app` plays when no other is given). Ticks
    travel on `bus` (a cluster's, connected by the caller) or else on an in-process bus."""
    catalogue = build_catalogue(config, clock, recorded=recorded)
    market = MarketEngine(catalogue, health=Health(clock.monotonic_ns))
    hub = StreamingHub(market, clock)
    history = HistoryService(catalogue, seed=config.seed, clock=clock)
    market.add_listener(hub.on_market, name="streaming")
    market.add_listener(history.record, name="history")
    session = BrokerSession(clock)
    hours = MarketHours(catalogue, Mode(config.market_hours))
    # Load this year's holidays now (a few hundred ms), not on the event loop once serving.
    hours.next_transitions(clock.now_ns())
    teach_catalogue_growth(catalogue, market, hours)
    if config.auto_instruments:  # before the trading engine: it restores orders by conid
        catalogue.set_resolver(lambda conid: resolve_generated(catalogue, conid))
    traffic = Traffic()
    store = open_store(config)
    rates = FxRates(catalogue, market)
    trading = TradingEngine(
        catalogue,
        market,
        ProbedStore(store, traffic.store_commit),
        clock,
        accounts=trading_accounts(config),
        config=trading_config(config),
        hours=hours,
        rates=rates,
    )
    # It watches the conids of orders and positions (and the pairs of held currencies) itself.
    QuoteFeed(trading, market, pairs=rates.pairs)
    # Watchers are in the health report from the start, whether they watch anything yet or not.
    market.health.register(feed.HEALTH_NAME)
    market.health.register(alert_book.HEALTH_NAME)
    bus = bus or MemoryBus()
    bus.subscribe(tick_latency_sampler(traffic.tick_to_write))  # before the engine: see there
    bus.subscribe(market.apply)
    accounts = AccountStreams()
    trading.journal.add_listener(lambda event: accounts.on_event(event, clock.monotonic_ns()))
    trading.journal.add_listener(traffic.count_event)
    alerts, fyi = build_alerts(config, catalogue, market, hours, clock, trading, store, accounts)
    simulator = build_simulator(config, catalogue, hours, clock) if simulated else None
    if simulator is not None:
        simulate_growth(catalogue, simulator, hours, bus.publish, clock)
    allocations = AllocationBook(
        store,
        advisor=DEFAULT_ADVISOR_ID if config.advisor else None,
        sub_accounts=tuple(a.account_id for a in config.accounts),
    )
    return Gateway(
        config,
        clock,
        catalogue,
        market,
        hub,
        history,
        session,
        trading,
        accounts,
        bus,
        hours,
        days=DayCycle(trading, hours, market=simulator, publish=bus.publish),
        simulator=simulator,
        traffic=traffic,
        turns=TurnBatcher(_call_soon),
        ids=AnswerIds(),
        # The reference allows 5 concurrent history requests and answers 429 beyond.
        history_slots=Slots(5, "Too many requests: at most 5 concurrent history requests"),
        alerts=alerts,
        fyi=fyi,
        allocations=allocations,
        allocated=AllocationDesk(allocations, trading, store),
        models=ModelDesk(store, trading, allocations.advisor, allocations.sub_accounts),
    )


def teach_catalogue_growth(catalogue: Catalogue, market: MarketEngine, hours: MarketHours) -> None:
    """Make the consumers that keep per-instrument state listen to `catalogue.add`, in the
    order the data flows: the market engine first (it must know a conid before its first
    tick), then the market hours; the simulator joins later (`simulate_growth`). Everything
    else reads the catalogue on every call."""
    catalogue.add_listener(market.add_instruments)
    catalogue.add_listener(hours.add_instruments)


def simulate_growth(
    catalogue: Catalogue,
    simulator: MarketSimulator,
    hours: MarketHours,
    publish: Callable[[Tick], None],
    clock: Clock,
) -> None:
    """Simulate instruments added from now on: their opening quotes travel on the bus like
    every other tick (instruments added before the simulator was built are in its layer)."""

    def simulate(added: tuple[Instrument, ...]) -> None:
        closed = set(hours.closed_conids(clock.now_ns()))
        for tick in simulator.add(added, closed=closed):
            publish(tick)

    catalogue.add_listener(simulate)


def build_alerts(
    config: Config,
    catalogue: Catalogue,
    market: MarketEngine,
    hours: MarketHours,
    clock: Clock,
    trading: TradingEngine,
    store: DocumentStore,
    accounts: AccountStreams,
) -> tuple[AlertBook, FyiCenter]:
    """The alert book, evaluated on the market's changes and the account's executions, and
    the FYI center fed by fills, the day's close and alerts (pushed as `ntf` frames)."""
    alerts = AlertBook(
        store,
        accounts=[a.account_id for a in config.accounts],
        find=catalogue.find,
        market=market,
        hours=hours,
        clock=clock,
        cushion=lambda account: margin_cushion_of(trading.views.pnl_event(account)),
    )
    fyi = FyiCenter(
        store,
        clock=clock,
        describe_fill=lambda event: account_frames.fill_text(catalogue, event.fill),
        defer=_call_soon,
    )
    trading.journal.add_listener(alerts.on_trading_event)
    trading.journal.add_listener(fyi.on_trading_event)
    trading.journal.add_companion(fyi.documents_for)
    alerts.add_listener(fyi.on_alert)

    def push(notification: Notification) -> None:
        frame = pushed_notice(notification)
        if frame is not None:
            accounts.publish(account_frames.NOTICES_TOPIC, frame)

    fyi.add_listener(push)
    return alerts, fyi


def pushed_notice(notification: Notification) -> bytes | None:
    """The `ntf` frame every authenticated api socket gets for `notification` (an alert
    firing), or None for notifications that are only listed (fills have their own frame)."""
    if notification.code == fyi_codes.ALERTS:
        return account_frames.alert_notice(notification)
    return None


def _call_soon(callback: Callable[[], None]) -> None:
    # The running loop is looked up per turn, so a gateway can be built before its loop runs.
    asyncio.get_running_loop().call_soon(callback)


def trading_accounts(config: Config) -> tuple[AccountConfig, ...]:
    """The trading engine's accounts: the configured ones, and with `--advisor` the master
    account first (empty: its orders are split over the others), so every account route and
    stream knows it."""
    if not config.advisor:
        return tuple(config.accounts)
    return (advisor_master(tuple(config.accounts)), *config.accounts)


def trading_config(config: Config) -> TradingConfig:
    """The fill model and commission schedule the gateway's settings ask for."""
    return TradingConfig(
        match=MatchConfig(QueueModel(config.fill_queue_model), TriggerSource(config.stop_trigger)),
        commissions=CommissionSchedule(
            per_share=config.commission_per_share,
            minimum=config.commission_minimum,
            max_fraction_of_value=config.commission_max_fraction,
            per_contract=config.commission_per_contract,
        ),
        seed=config.reply_seed,  # the market's seed would repeat the ids in every process
    )


def open_store(config: Config) -> SqliteEventStore | MemoryEventStore:
    """The configured event store (which keeps the documents too); SQLite lives in the data
    directory."""
    if config.store == "memory":
        return MemoryEventStore()
    datadir.prepare_data_dir(config.data_dir)
    return SqliteEventStore(config.data_dir / "trading.sqlite3")


def open_watchlists(gateway: Gateway) -> Watchlists:
    """The user's watchlists: in the data directory beside the SQLite store (which prepared
    it), or in memory with `--store memory`."""
    config = gateway.config
    store: WatchlistStore = (
        MemoryWatchlistStore()
        if config.store == "memory"
        else JsonWatchlistFile(config.data_dir / "watchlists.json")
    )
    return Watchlists(
        store, find=gateway.catalogue.find, now_ms=lambda: gateway.clock.now_ns() // NS_PER_MS
    )


def simulation_rate(config: Config, catalogue: Catalogue) -> float:
    """The simulated market's total rate: the configured one, raised to what instruments
    pinned to their own rates in the catalogue ask for together."""
    pinned = sum(i.ticks_per_second or 0.0 for i in catalogue.core())
    return max(config.ticks_per_second, pinned)


def build_simulator(
    config: Config, catalogue: Catalogue, hours: MarketHours, clock: Clock
) -> MarketSimulator:
    """The simulated market at the configured seed and rate, its closed markets closed."""
    rate = simulation_rate(config, catalogue)
    if rate > config.ticks_per_second:
        log.warning("total rate raised to %g ticks/s: pinned instruments ask for that", rate)
    now = clock.now_ns()
    return MarketSimulator(
        catalogue.core(),
        seed=config.seed,
        start_ns=now,
        ticks_per_second=rate,
        closed=hours.closed_conids(now),
        background=catalogue.layered(),
        background_ticks_per_second=config.universe_ticks_per_second,
    )


def build_app(
    config: Config,
    *,
    clock: Clock | None = None,
    source: Callable[[Gateway], DataSource] | None = None,
    bus: Bus | None = None,
    cluster: ClusterMembership | None = None,
    cluster_trading: ClusterTrading | None = None,
) -> web.Application:
    """The aiohttp application of one gateway, its data source the simulated market unless
    `source` builds another (or the config replays recordings), its ticks on `bus` when given
    (see `build_gateway`). Background tasks start with the app.

    With `cluster`, the gateway is that member of a cluster (see `server.cluster.compose`): a
    core as above, its ticks on the cluster's bus; an edge without a source or trading store,
    fed by the core, its trading routes chosen by `cluster_trading`."""
    if cluster is not None:
        # Imported for a cluster member only: the cluster's modules need nats-py, which only
        # the `cluster` extra installs, and `serve` alone must start without it.
        from tickgate.server.cluster import compose as cluster_compose
    edge = cluster is not None and cluster_compose.is_edge(cluster)
    if edge:
        config = cluster_compose.edge_config(config)
    replay = replay_control.plan(config) if config.source == "replay" else None
    relayed = config.source == "relay"
    if relayed:
        config = relay_control.relay_config(config)
    if cluster is not None:
        clock = clock or (replay.clock if replay else SystemClock())
        bus = cluster_compose.cluster_bus(cluster, clock)
    gateway = build_gateway(
        config,
        clock or (replay.clock if replay else SystemClock()),
        recorded=replay.instruments if replay else (),
        simulated=replay is None and source is None and not relayed and not edge,
        bus=bus,
    )
    deadlines = RequestDeadlines(config.request_timeout_seconds)
    app = web.Application(
        middlewares=[
            # Outermost: every line logged about a request carries its id, the deadlines' too.
            log_context.log_context_middleware,
            deadlines.middleware,
            metrics.request_metrics_middleware,
            error_middleware,
            gatekeeper.access_middleware,
            fault_middleware,
            pacing.pacing_middleware,
            handoff_middleware,  # an edge hands the core's routes to its core here
            session_middleware,
            reply_discipline_middleware,
            # Innermost: a relay asks its upstream what its catalogue cannot answer.
            *([relay_lookups.lookup_middleware] if relayed else []),
        ],
        client_max_size=1 << 20,
    )
    app[GATEWAY] = gateway
    gatekeeper.install(app, config)
    log_context.install(app, gateway.session, auth_token=config.auth_token)
    app[DEADLINES] = deadlines
    pacing.install(app)
    # What reads market values (an edge makes sure it has them live: `cluster.live_reads`).
    market_routes: Routes = rest_marketdata.ROUTES + rest_rules.ROUTES + rest_beta.ROUTES
    # What only a cluster's core can answer (its trading engine and store hold the state).
    core_routes: Routes = (
        rest_allocation.ROUTES
        + rest_fa_models.ROUTES
        + rest_whatif.ROUTES
        + rest_account.ROUTES
        + rest_orders.ROUTES
        + rest_portfolio.ROUTES
        + rest_pa.ROUTES
    )
    cluster_source: DataSource | None = None
    if cluster is not None:
        market_routes, core_routes, cluster_source = cluster_compose.install(
            app, gateway, cluster, cluster_trading, market_routes, core_routes
        )
    add_routes(
        app,
        rest_session.ROUTES
        + rest_contracts.ROUTES
        + list(market_routes)
        + list(core_routes)
        + rest_scanner.ROUTES
        + rest_watchlists.ROUTES
        + rest_alerts.ROUTES
        + rest_fyi.ROUTES
        + openapi_routes.ROUTES,
    )
    rest_alerts.install(app, gateway.alerts, gateway.clock)
    rest_scanner.install(
        app,
        Scanner(
            gateway.catalogue, gateway.market, average_volume=gateway.history.average_daily_volume
        ),
    )
    rest_watchlists.install(
        app, open_watchlists(gateway), message_ids=gateway.ids.watchlist_message_ids
    )
    app.router.add_get("/v1/portal/ws", ws_portal.handler(gateway))
    app.router.add_get("/v1/api/ws", ws_api.handler(gateway))
    market_control.add_routes(app)
    replay_control.add_routes(app)
    fault_routes.install(app, gateway)
    page.add_routes(app)
    health_routes.add_routes(app)
    operator_view.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", not_found)
    data_source: DataSource
    if cluster_source is not None:
        data_source = cluster_source
    elif replay is not None:
        data_source = replay_control.replay_source(app, gateway, replay)
    elif source is not None:
        data_source = source(gateway)
    elif relayed:
        # On a cluster's core the source follows the whole cluster's interest, else the hub's.
        interest = gateway.hub if cluster is None else cluster_compose.interest_of(app, gateway)
        data_source = relay_control.relay_source(app, gateway, interest.add_interest_listener)
        relay_lookups.install(app, gateway, relay_control.upstream_target(config))
        relay_history.install(app, gateway)
    else:
        assert gateway.simulator is not None  # built because no other source was given
        data_source = SimulatorSource(
            gateway.simulator,
            gateway.clock,
            ticks_per_second=simulation_rate(config, gateway.catalogue),
        )
    source_run = SourceRun(data_source)
    app[SOURCE_RUN] = source_run
    metrics.install(app, gateway, source_run)
    if config.record is not None:
        replay_control.install_recorder(app, gateway, source_name=data_source.name)
    app.cleanup_ctx.append(_background(gateway, source_run))
    app.on_shutdown.append(lambda _app: close_all(gateway))
    app.on_cleanup.append(_forget_middleware_chains)
    return app


async def _forget_middleware_chains(_app: web.Application) -> None:
    """Drops aiohttp's module-wide cache of built middleware chains once an app is done.

    aiohttp memoises each (handler, apps) chain in an `lru_cache` of 1,024 entries that holds
    the apps themselves, so a stopped gateway (about 30 MB with its universe) stayed alive as
    long as the process: a test run starting a gateway per test grew past 10 GB and was killed
    for memory. A process still serving other apps only rebuilds their chains on next use.
    """
    cached = getattr(web_app, "_cached_build_middleware", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def _background(
    gateway: Gateway, source: SourceRun
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def run(_app: web.Application) -> AsyncIterator[None]:
        health, clock = gateway.market.health, gateway.clock
        # Fills and stop moves caused by one loop turn's ticks share one durable commit.
        gateway.trading.journal.group_quote_commits(asyncio.get_running_loop().call_soon)
        publish = gateway.bus.publish
        tasks = [
            source.start(_supervised(health, "source", lambda: source.source.run(publish))),
            asyncio.create_task(
                _supervised(
                    health, "tempo", lambda: _tempo_loop(gateway.hub, gateway.accounts, clock)
                )
            ),
            asyncio.create_task(
                _supervised(health, "session", lambda: _session_timer(gateway.days, clock))
            ),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # What the last ticks caused, stored before the store closes.
            gateway.trading.journal.flush()
            gateway.fyi.flush()

    return run


async def _supervised(health: Health, name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run a long-lived task; a crash is counted and logged by `health` (as "task NAME") and
    the task restarts after a pause."""
    component = f"task {name}"
    health.register(component)
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            health.failed(component, "its run (restarting in 1 s)", exc)
            await asyncio.sleep(1.0)


async def _tempo_loop(hub: StreamingHub, accounts: AccountStreams, clock: Clock) -> None:
    """Flush tempo channels at their deadlines."""
    while True:
        now = clock.monotonic_ns()
        due = hub.next_due_ns()
        accounts.flush_due(now)
        if due is not None and due <= now:
            hub.flush_due(now)
            continue
        wait = (
            TEMPO_POLL_SECONDS if due is None else min(TEMPO_POLL_SECONDS, (due - now) / NS_PER_S)
        )
        await asyncio.sleep(wait)


async def _session_timer(days: DayCycle, clock: Clock) -> None:
    """The timer of the day cycle: first catch up on a close missed while down, then hand it
    every session boundary when it is due. Sleeps on the gateway's clock (replay time when
    replaying)."""
    if days.catch_up(clock.now_ns()):
        log.info("closed a session missed while the gateway was down")
    while True:
        due = days.next_boundaries(clock.now_ns())
        await sleep_until(clock, due[0].at_ns)
        for transition in due:
            days.apply(transition)


#: Young-generation collection threshold for a serving process. The fan-out path allocates many
#: short-lived acyclic objects (frames, tuples, dicts); the default of 700 made the collector
#: take about a fifth of the server's CPU in the firehose benchmark.
GC_GEN0_THRESHOLD = 100_000


def tune_gc() -> None:
    """Tune the garbage collector for a long-running server, once everything is built.

    Objects alive after start-up (catalogue, engines, histories) are frozen out of collection,
    and young collections run far less often. Call it from the process's composition root.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 50, 1000)


@dataclass
class RunningServer:
    """A started server: where it listens and how to stop it."""

    runner: web.AppRunner
    host: str
    port: int
    tls: bool

    @property
    def gateway(self) -> Gateway:
        return self.runner.app[GATEWAY]

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        self.gateway.trading.store.close()


#: Called with the started server once it listens: what needs the server itself (a cluster
#: core adds a loopback socket for the calls edges forward). Filled before the app starts.
ON_LISTENING = web.AppKey("on_listening", list[Callable[[RunningServer], Awaitable[None]]])


async def setup_runner(app: web.Application) -> web.AppRunner:
    """The app's runner, set up, with the HTTP deadlines and the server logger in place."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=5.0,
        keepalive_timeout=KEEPALIVE_SECONDS,
        # After an early answer (e.g. a 408 for a slow body), the rest of the body is read and
        # dropped for at most this long before the connection closes.
        lingering_time=app[DEADLINES].seconds,
        logger=server_logger(),
    )
    await runner.setup()
    assert runner.server is not None  # set by setup()
    # Parser errors in JSON (see JsonErrorsServer): same object, a subclass's __call__.
    runner.server.__class__ = JsonErrorsServer
    app[DEADLINES].watch(runner.server)
    return runner


#: Connections the kernel may hold complete but not yet accepted (capped by net.core.somaxconn).
#: aiohttp's default of 128 overflowed when thousands of clients connected at once to a busy
#: process, and with SO_REUSEPORT the kernel picks a worker however busy it is: a full queue
#: drops handshakes, which clients see as connect timeouts of a minute or more.
LISTEN_BACKLOG = 4096


async def start_server(app: web.Application, *, reuse_port: bool = False) -> RunningServer:
    """Listen on the app's configured host/port (port 0 picks a free one); `reuse_port`
    shares the port with other processes that ask for it too (SO_REUSEPORT)."""
    from tickgate.server.tls import certificate_names, server_ssl_context

    config = app[GATEWAY].config
    problem = exposure_problem(config)
    if problem is not None:  # configs are validated on load; this catches hand-built ones
        raise ConfigError(problem)
    runner = await setup_runner(app)
    ssl_context = (
        server_ssl_context(
            config.data_dir, names=certificate_names(config.host, *config.allow_host)
        )
        if config.tls
        else None
    )
    site = web.TCPSite(
        runner,
        config.host,
        config.port,
        ssl_context=ssl_context,
        reuse_port=reuse_port or None,
        backlog=LISTEN_BACKLOG,
    )
    await site.start()
    # asyncio's and uvloop's servers both expose the listening sockets.
    sockets = getattr(site._server, "sockets", None) or []
    if not sockets:
        raise OSError("the server socket did not open")
    port = int(sockets[0].getsockname()[1])
    server = RunningServer(runner, config.host, port, config.tls)
    for hook in app.get(ON_LISTENING, ()):
        await hook(server)
    return server
