"""`GET /metrics`: the gateway's state in the Prometheus text format.

Nothing here runs on the fan-out or tick paths. `GatewayCollector` reads, at scrape time, the
counters the hub, the outboxes, the bus and `Health` keep anyway, plus the few totals of
`server.traffic`; the only per-request work is `request_metrics_middleware`'s one dict
increment. Each gateway has its own `CollectorRegistry` (never the process-wide default one),
so many gateways in one process (tests, the pytest plugin) never share or collide on series.

Labels are bounded by construction: dialects, HTTP methods (aiohttp's parser answers 400 to a
made-up one before any handler), route patterns (never raw paths), HTTP statuses,
event types, component names and the source's name; never a conid, an account or a peer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector

from tickgate.bus.base import FollowingStatus
from tickgate.server.gateway import GATEWAY, Gateway
from tickgate.server.http import Handler
from tickgate.server.source_run import SourceRun
from tickgate.server.traffic import Buckets
from tickgate.sources.relay.status import RelayStatus

METRICS_PATH = "/metrics"
#: WebSocket path -> the `dialect` label of its connections.
# The label values predate the names portal/api and are kept: dashboards select on them.
DIALECTS = {"/v1/portal/ws": "legacy", "/v1/api/ws": "current"}

REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


class GatewayCollector:
    """Every tickgate series of one gateway, computed from its live state when scraped."""

    def __init__(self, gateway: Gateway, source: SourceRun) -> None:
        self._gateway = gateway
        self._source = source

    def collect(self) -> Iterable[Metric]:
        """The current value of every series (called by the registry on each scrape)."""
        yield from self._streaming()
        yield from self._market()
        yield from self._trading()
        yield from self._requests()

    def _streaming(self) -> Iterator[Metric]:
        gateway = self._gateway
        traffic = gateway.traffic
        by_dialect = dict.fromkeys(DIALECTS.values(), 0)
        frames, writes, sent, conflated, pending = (
            traffic.retired_frames,
            traffic.retired_writes,
            traffic.retired_bytes,
            traffic.retired_conflated,
            0,
        )
        for connection in gateway.connections:
            dialect = DIALECTS.get(connection.path, "other")
            by_dialect[dialect] = by_dialect.get(dialect, 0) + 1
            stats = connection.outbox.stats
            frames += stats.frames_written
            writes += stats.writes
            sent += stats.bytes_written
            conflated += stats.conflated
            pending += stats.pending_bytes
        connections = GaugeMetricFamily(
            "tickgate_connections", "Open WebSocket connections", labels=["dialect"]
        )
        for dialect, count in sorted(by_dialect.items()):
            connections.add_metric([dialect], count)
        yield connections
        hub = gateway.hub.stats()
        yield GaugeMetricFamily(
            "tickgate_subscriptions", "Market-data subscriptions", value=hub.subscriptions
        )
        yield GaugeMetricFamily(
            "tickgate_channels",
            "Shared market-data channels (subscriptions with the same conid, fields, tempo "
            "and dialect share one)",
            value=hub.channels,
        )
        yield GaugeMetricFamily(
            "tickgate_market_data_lines",
            "Market-data lines in use by the session",
            value=gateway.hub.lines_in_use(),
        )
        yield CounterMetricFamily(
            "tickgate_frames_encoded",
            "Market-data frames encoded (once per channel)",
            value=hub.frames_encoded,
        )
        yield CounterMetricFamily(
            "tickgate_frames_sent", "WebSocket frames written to clients", value=frames
        )
        yield CounterMetricFamily(
            "tickgate_writes",
            "Socket writes (one per connection per event-loop turn)",
            value=writes,
        )
        yield CounterMetricFamily(
            "tickgate_bytes_sent", "WebSocket bytes written to clients", value=sent
        )
        yield CounterMetricFamily(
            "tickgate_conflations",
            "Market-data frames merged into a newer one for a reader that fell behind",
            value=conflated,
        )
        yield CounterMetricFamily(
            "tickgate_slow_reader_closes",
            "Connections closed because account events could not be delivered in time",
            value=traffic.slow_reader_closes,
        )
        yield GaugeMetricFamily(
            "tickgate_outbox_pending_bytes",
            "Bytes waiting in all outboxes now",
            value=pending,
        )
        yield _histogram(
            "tickgate_outbox_write_bytes",
            "Bytes of one outbox write (sampled: one write in 16 per connection)",
            traffic.write_bytes,
        )

    def _market(self) -> Iterator[Metric]:
        gateway = self._gateway
        name = self._source.name
        ticks = CounterMetricFamily(
            "tickgate_ticks", "Ticks the data source delivered", labels=["source"]
        )
        published = getattr(gateway.bus, "published", None)
        if isinstance(published, int):
            ticks.add_metric([name], published)
        yield ticks
        running = GaugeMetricFamily(
            "tickgate_source_running", "1 while the data source's task runs", labels=["source"]
        )
        running.add_metric([name], 1 if self._source.running else 0)
        yield running
        relay = getattr(self._source.source, "status", None)
        if isinstance(relay, RelayStatus):
            yield from _relay(relay)
        # An edge's source follows conids over the bus; no other source has a follower.
        follower = getattr(self._source.source, "follower", None)
        following = follower.status() if follower is not None else None
        if isinstance(following, FollowingStatus):
            yield from _following(following)
        # Only a bus that can lose its connection (NATS) has the attribute; in-process has none.
        connected = getattr(gateway.bus, "connected", None)
        if isinstance(connected, bool):
            yield GaugeMetricFamily(
                "tickgate_bus_connected", "1 while the cluster bus is connected", value=connected
            )
        yield _histogram(
            "tickgate_tick_to_write_seconds",
            "From a tick entering the gateway to the end of the event-loop turn that wrote its "
            "frames (sampled: one tick in 64)",
            gateway.traffic.tick_to_write,
        )
        report = gateway.market.health.report()["components"]
        healthy = GaugeMetricFamily(
            "tickgate_component_healthy",
            "1 unless the component (a market listener or a background task) failed recently",
            labels=["component"],
        )
        failures = CounterMetricFamily(
            "tickgate_component_failures",
            "Contained failures of the component since start",
            labels=["component"],
        )
        for component, entry in sorted(report.items()):
            healthy.add_metric([component], 1 if entry["healthy"] else 0)
            failures.add_metric([component], entry["failures"])
        yield healthy
        yield failures

    def _trading(self) -> Iterator[Metric]:
        traffic = self._gateway.traffic
        events = CounterMetricFamily(
            "tickgate_trading_events",
            "Trading events published (orders accepted, updated, filled; P&L; session closes)",
            labels=["kind"],
        )
        for kind, count in sorted(traffic.trading_events.items()):
            events.add_metric([kind], count)
        yield events
        yield _histogram(
            "tickgate_store_commit_seconds",
            "Duration of one durable commit of trading events",
            traffic.store_commit,
        )

    def _requests(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "tickgate_http_requests",
            "HTTP requests answered, by route pattern and status",
            labels=["method", "route", "status"],
        )
        for (method, route, status), count in sorted(self._gateway.traffic.requests.items()):
            requests.add_metric([method, route, str(status)], count)
        yield requests


def _relay(status: RelayStatus) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "tickgate_relay_upstream_up",
        "1 while the relay's upstream socket is connected and its session authenticated",
        value=1 if status.serving else 0,
    )
    yield GaugeMetricFamily(
        "tickgate_relay_upstream_lines",
        "Market-data lines the relay holds upstream",
        value=status.lines,
    )
    yield CounterMetricFamily(
        "tickgate_relay_reconnects",
        "Upstream outages: times the relay's upstream connection went down or could not be "
        "made at start (the failed attempts of one outage count once)",
        value=status.reconnects,
    )
    yield CounterMetricFamily(
        "tickgate_relay_failed_attempts",
        "Attempts to connect to the relay's upstream that failed, and connections it ended",
        value=status.failed_attempts,
    )
    yield CounterMetricFamily(
        "tickgate_relay_upstream_refusals",
        "Upstream error frames about the relay's smd requests",
        value=status.refusals,
    )


def _following(status: FollowingStatus) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "tickgate_cluster_followed_conids",
        "Conids this edge follows over the cluster bus",
        value=status.followed,
    )
    yield GaugeMetricFamily(
        "tickgate_cluster_conids_awaiting_image",
        "Followed conids whose image from the core has not arrived (or whose gap is being "
        "repaired); their updates are held back until it does",
        value=status.awaiting_image,
    )
    yield CounterMetricFamily(
        "tickgate_cluster_image_requests",
        "Image requests sent to the core (first images, gap repairs, retries)",
        value=status.image_requests,
    )
    yield CounterMetricFamily(
        "tickgate_cluster_image_failures",
        "Image requests that failed or timed out (each is retried)",
        value=status.image_failures,
    )
    yield CounterMetricFamily(
        "tickgate_cluster_gaps", "Gaps in a conid's numbered ticks", value=status.gaps
    )
    yield CounterMetricFamily(
        "tickgate_cluster_resyncs",
        "Bus reconnects after which every followed conid's image was fetched again",
        value=status.resyncs,
    )


def _histogram(name: str, documentation: str, buckets: Buckets) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], buckets.cumulative(), buckets.total)
    return family


def route_pattern(request: web.Request) -> str:
    """The pattern of the route `request` matched (`/v1/api/iserver/account/{accountId}/orders`),
    never its raw path, so the `route` label stays bounded whatever clients ask for."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answered request by method, route pattern and status; outermost, so it
    sees the status every other middleware settled on (refusals and errors included)."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects that error_middleware lets through
        status = exc.status
        raise
    finally:
        key = (request.method, route_pattern(request), status)
        request.app[GATEWAY].traffic.requests[key] += 1


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of this gateway's registry."""
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application, gateway: Gateway, source: SourceRun) -> None:
    """Give `app` its own registry (tickgate's series and the process' CPU and memory) and the
    `/metrics` route; add `request_metrics_middleware` to the app's middlewares yourself."""
    registry = CollectorRegistry()
    registry.register(GatewayCollector(gateway, source))
    ProcessCollector(registry=registry)
    app[REGISTRY] = registry
    app.router.add_get(METRICS_PATH, metrics)
