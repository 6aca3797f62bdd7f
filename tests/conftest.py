"""Shared fixtures: a real gateway on 127.0.0.1 port 0, and HTTP/WebSocket clients for it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, settings

from tickgate.clock import Clock, ShiftedClock
from tickgate.config import Config
from tickgate.server.app import RunningServer, build_app, start_server

# The plugin `pip install tickgate` registers; listed here too so the suite has it even where
# the installed entry point predates it (the name matches the entry point: loaded once).
pytest_plugins = ("tickgate.pytest_plugin",)

# Property tests are checks of behaviour, never of speed, and the same on every run: hypothesis'
# default 200 ms deadline per example and its "too slow" health check failed them on a loaded
# 2-core machine, and a fixed derivation of examples from each test (no example database) keeps
# a CI run from failing on a case no earlier run tried. Settings a test gives still win.
settings.register_profile(
    "tickgate",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
settings.load_profile("tickgate")

if TYPE_CHECKING:  # imported by pytest as a plugin first (an earlier import escapes its rewrite)
    from tickgate.pytest_plugin import StartGateway, TickgateServer

StartServer = Callable[..., Awaitable[RunningServer]]

#: Where the wall clock of a test server starts: Wednesday 2026-01-14 15:00 UTC, 10:00 in New
#: York, hours away from any session boundary of any market, so no close, open or new day
#: happens during a test whatever the real time of day, weekday or holiday.
SERVER_EPOCH_NS = 1_768_402_800_000_000_000


def make_config(tmp_path: Path, **changes: Any) -> Config:
    """A config for tests: a free port, a temp data dir, plain HTTP unless asked otherwise."""
    base = Config(port=0, tls=False, data_dir=tmp_path / "data", ticks_per_second=500.0)
    return dataclasses.replace(base, **changes)


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[StartServer]:
    """Start gateways with config overrides (and optionally a clock); all are stopped at the
    end of the test."""
    servers: list[RunningServer] = []

    async def _start(*, clock: Clock | None = None, **changes: Any) -> RunningServer:
        clock = clock or ShiftedClock(SERVER_EPOCH_NS)
        server = await start_server(build_app(make_config(tmp_path, **changes), clock=clock))
        servers.append(server)
        return server

    yield _start
    for server in servers:
        await server.stop()


@pytest.fixture
def tickgate_server_factory(tickgate_server_factory: StartGateway) -> StartGateway:
    """The plugin's factory, on the same shifted wall clock as `start` unless a test gives
    its own clock (the plugin's default is the machine's clock, as a bot's tests expect)."""

    def _start(*, clock: Clock | None = None, **options: Any) -> TickgateServer:
        return tickgate_server_factory(clock=clock or ShiftedClock(SERVER_EPOCH_NS), **options)

    return _start


@pytest.fixture
async def server(start: StartServer) -> RunningServer:
    return await start()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, *, status: int = 200, **kwargs: Any
) -> Any:
    """One REST call; asserts the HTTP status and returns the JSON body."""
    async with http.request(method, url, **kwargs) as response:
        body = await response.json()
        assert response.status == status, body
        return body


class WsClient:
    """A real WebSocket client with helpers that wait (bounded) for frames."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        message = await asyncio.wait_for(self.ws.receive(), timeout)
        assert message.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {message.type}"
        frame = orjson.loads(message.data)
        assert isinstance(frame, dict)
        return frame

    async def recv_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """The first frame satisfying `predicate`, skipping others, within `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if predicate(frame):
                    return frame

    async def close(self) -> None:
        await self.ws.close()

    async def no_frame(self, within: float) -> None:
        """Assert that nothing arrives for `within` seconds."""
        try:
            message = await asyncio.wait_for(self.ws.receive(), within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {message.data!r}")


@pytest.fixture
async def ws_connect(http: aiohttp.ClientSession) -> Callable[..., Awaitable[WsClient]]:
    async def _connect(url: str, **kwargs: Any) -> WsClient:
        return WsClient(await http.ws_connect(url, **kwargs))

    return _connect
