"""`/healthz` and `/readyz` over a real server, ready and not, and where they sit in access."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, StartServer, call, make_config

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.clock import ShiftedClock
from tickgate.model.ticks import TickSink
from tickgate.server.app import build_app, start_server
from tickgate.server.gateway import Gateway
from tickgate.sources.base import DataSource

TOKEN = "a-token-of-twenty-chars"


class UnpluggedSource:
    """A source that fails as soon as it runs, telling the test when it has."""

    name = "unplugged"

    def __init__(self) -> None:
        self.failed = asyncio.Event()

    async def run(self, sink: TickSink) -> None:
        self.failed.set()
        raise ConnectionError("feed unplugged")


async def test_a_serving_gateway_is_alive_and_ready(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start()
    assert await call(http, "GET", server.base_url + "/healthz") == {"status": "ok"}
    assert await call(http, "GET", server.base_url + "/readyz") == {"status": "ready"}


async def test_a_closed_store_makes_it_not_ready_but_still_alive(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start()
    server.gateway.trading.store.close()
    body = await call(http, "GET", server.base_url + "/readyz", status=503)
    assert body == {"status": "not ready", "reasons": ["the order store is closed"]}
    assert await call(http, "GET", server.base_url + "/healthz") == {"status": "ok"}


async def test_a_failing_source_makes_it_not_ready(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    source = UnpluggedSource()

    def unplugged(_gateway: Gateway) -> DataSource:
        return source

    server = await start_server(build_app(make_config(tmp_path), source=unplugged))
    try:
        await asyncio.wait_for(source.failed.wait(), 5)
        body = await call(http, "GET", server.base_url + "/readyz", status=503)
        assert body["status"] == "not ready"
        assert body["reasons"] == [
            "the unplugged source failed recently: ConnectionError: feed unplugged"
        ]
        metrics = await (await http.get(server.base_url + "/metrics")).text()
        assert 'tickgate_component_healthy{component="task source"} 0.0' in metrics
        assert 'tickgate_component_failures_total{component="task source"} 1.0' in metrics
    finally:
        await server.stop()


async def test_probes_need_no_token_but_metrics_does(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(auth_token=TOKEN)
    assert await call(http, "GET", server.base_url + "/healthz") == {"status": "ok"}
    assert await call(http, "GET", server.base_url + "/readyz") == {"status": "ready"}
    await call(http, "GET", server.base_url + "/metrics", status=401)
    async with http.get(
        server.base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as response:
        assert response.status == 200
        assert "tickgate_connections" in await response.text()


async def test_probes_keep_the_host_check(start: StartServer, http: aiohttp.ClientSession) -> None:
    server = await start(auth_token=TOKEN)
    body = await call(
        http, "GET", server.base_url + "/readyz", headers={"Host": "evil.example"}, status=403
    )
    assert "evil.example" in body["error"]


@pytest.fixture
async def nats() -> AsyncIterator[NatsServerProcess]:
    """A real nats-server on a free port."""
    process = NatsServerProcess()
    await process.start()
    yield process
    await process.stop()


async def test_a_disconnected_bus_makes_it_not_ready(
    tmp_path: Path, http: aiohttp.ClientSession, nats: NatsServerProcess
) -> None:
    bus = await NatsBus.connect(NatsOptions(nats.url, connect_timeout_s=5.0))
    servers = []
    try:
        # The gateway as a cluster member is composed: its ticks travel on the cluster's bus.
        config, clock = make_config(tmp_path), ShiftedClock(SERVER_EPOCH_NS)
        server = await start_server(build_app(config, clock=clock, bus=bus))
        servers.append(server)
        assert await call(http, "GET", server.base_url + "/readyz") == {"status": "ready"}
        metrics = await (await http.get(server.base_url + "/metrics")).text()
        assert "tickgate_bus_connected 1.0" in metrics
        await nats.stop()
        async with asyncio.timeout(10):
            while bus.connected:
                await asyncio.sleep(0.01)
        body = await call(http, "GET", server.base_url + "/readyz", status=503)
        assert body["reasons"] == ["the bus is not connected"]
        metrics = await (await http.get(server.base_url + "/metrics")).text()
        assert "tickgate_bus_connected 0.0" in metrics
    finally:
        for started in servers:
            await started.stop()
        await bus.close()
