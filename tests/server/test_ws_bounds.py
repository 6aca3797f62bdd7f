"""Bounds of a WebSocket before and after authentication, on raw sockets (issue 10, §1 and §3)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from tests.conftest import StartServer, make_config
from tests.rawws import OP_TEXT, Closed, RawWebSocket, frame

from tickgate.clock import SystemClock
from tickgate.dialects.context import DialectContext, Now
from tickgate.dialects.portal import PortalDialect
from tickgate.server.app import RunningServer, build_gateway
from tickgate.server.errors import error_middleware
from tickgate.server.gateway import GATEWAY
from tickgate.server.ws import serve_websocket
from tickgate.streaming.outbox import Outbox

API, PORTAL = "/v1/api/ws", "/v1/portal/ws"
AAPL = 265598
DEEP = "[" * 300 + "]" * 300


async def session_id(server: RunningServer, http: aiohttp.ClientSession) -> str:
    async with http.post(server.base_url + "/v1/api/tickle") as response:
        session = (await response.json())["session"]
    assert isinstance(session, str)
    return session


Open = Callable[..., Awaitable[RawWebSocket]]


@pytest.fixture
async def raw() -> AsyncIterator[Open]:
    """Opens raw WebSockets (`RawWebSocket.open`); all are closed at the end of the test."""
    sockets: list[RawWebSocket] = []

    async def open_socket(server: RunningServer, path: str, **kwargs: Any) -> RawWebSocket:
        ws = await RawWebSocket.open(server, path, **kwargs)
        sockets.append(ws)
        return ws

    yield open_socket
    for ws in sockets:
        await ws.aclose()


async def waiting(raw: Open, server: RunningServer) -> RawWebSocket:
    """A current-dialect socket without a cookie: not authenticated yet."""
    ws = await raw(server, API)
    assert await ws.recv() == {"message": "waiting for session"}
    return ws


async def streams_after_login(ws: RawWebSocket, session: str) -> None:
    """The socket still serves: it authenticates and streams market data."""
    ws.send(f'{{"session":"{session}"}}')
    while (await ws.recv()).get("topic") != "sts":
        pass
    ws.send(f'smd+{AAPL}+{{"fields":["31","84"]}}')
    while (await ws.recv()).get("topic") != f"smd+{AAPL}":
        pass


@pytest.mark.parametrize(
    "command",
    [
        f'smd+{AAPL}+{{"fields":{DEEP}}}',
        f'ssd+DU1234567+{{"keys":{DEEP}}}',
        f'sor+{{"filters":{DEEP}}}',
        f'{{"session":{DEEP}}}',
    ],
)
async def test_deep_nesting_before_authentication_gets_an_error_frame_not_http(
    raw: Open, server: RunningServer, http: aiohttp.ClientSession, command: str
) -> None:
    ws = await waiting(raw, server)
    ws.send(command)
    error = await ws.recv_until_error()
    assert "nested more than 8 levels" in error["error"]
    await streams_after_login(ws, await session_id(server, http))
    assert not ws.saw_http()


async def test_deep_nesting_on_the_seed_dialect_gets_an_error_frame(
    raw: Open, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.base_url + "/v1/api/iserver/accounts"):
        pass
    ws = await raw(server, PORTAL)
    ws.send(f's+md+{AAPL}+{{"fields":{DEEP}}}')
    error = await ws.recv_until_error()
    assert error == {"error": error["error"], "topic": f"md+{AAPL}"}
    assert "nested more than 8 levels" in error["error"]
    ws.send(f's+md+{AAPL}+{{"snapshot":true,"fields":"55"}}')
    assert (await ws.recv())["55"] == "AAPL"
    assert not ws.saw_http()


@pytest.mark.parametrize("path", [API, PORTAL])
async def test_an_unmasked_client_frame_closes_with_1002_and_a_reason(
    raw: Open, server: RunningServer, path: str
) -> None:
    ws = await raw(server, path)
    ws.send_raw(frame(b"tic", masked=False))
    closed = await ws.closed()
    assert closed == Closed(1002, "client frames must be masked (RFC 6455 section 5.1)")
    assert await ws.at_eof()


async def test_protocol_errors_found_by_aiohttp_carry_a_reason(
    raw: Open, server: RunningServer
) -> None:
    ws = await raw(server, API)
    ws.send_raw(bytes([0x80 | 0x40 | OP_TEXT]) + frame(b"tic")[1:])  # RSV1 without extension
    closed = await ws.closed()
    assert closed.code == 1002 and "reserved bits" in closed.reason


@pytest.mark.parametrize("path", [API, PORTAL])
async def test_many_unauthenticated_sockets_announcing_4_mib_frames_are_closed_at_the_header(
    raw: Open, server: RunningServer, path: str
) -> None:
    sockets = [await raw(server, path) for _ in range(40)]
    for ws in sockets:
        # The header announces 4 MiB; only a little of the payload ever comes.
        ws.send_raw(frame(b"x" * 1000, declared=(4 << 20) - 1)[: 14 + 1000])
    for ws in sockets:
        closed = await ws.closed()
        assert closed == Closed(
            1009, f"message of {(4 << 20) - 1} bytes exceeds the limit of 16384 bytes"
        )
        assert await ws.at_eof()


async def test_fragments_count_towards_the_unauthenticated_limit(
    raw: Open,
    start: StartServer,
) -> None:
    server = await start(unauthenticated_message_bytes=1024)
    ws = await waiting(raw, server)
    ws.send_raw(frame(b"t" * 600, fin=False))
    ws.send_raw(frame(b"i" * 600, opcode=0x0))
    assert await ws.closed() == Closed(
        1009, "message of 1200 bytes exceeds the limit of 1024 bytes"
    )


async def test_an_authenticated_socket_gets_the_normal_limit(
    raw: Open, server: RunningServer, http: aiohttp.ClientSession
) -> None:
    sid = await session_id(server, http)
    ws = await raw(server, API, headers={"Cookie": f"api={sid}"})
    ws.send("tic+" + "x" * 100_000)  # over max_frame_bytes: an error frame, not a close
    error = await ws.recv_until_error()
    assert "exceeds the limit of 8192 bytes" in error["error"]
    ws.send("tic")
    while (await ws.recv()).get("topic") != "tic":
        pass


async def test_a_message_begun_and_not_finished_in_time_closes_with_1008(
    raw: Open,
    start: StartServer,
) -> None:
    server = await start(request_timeout_seconds=0.3)
    ws = await raw(server, PORTAL)
    ws.send_raw(frame(b"s+md+265598" + b" " * 100)[:20])
    assert await ws.closed() == Closed(1008, "message not completed within 0.3 s")
    assert await ws.at_eof()


async def test_a_current_socket_that_does_not_authenticate_in_time_is_closed(
    raw: Open, start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(request_timeout_seconds=0.3)
    sid = await session_id(server, http)
    authenticated = await raw(server, API, headers={"Cookie": f"api={sid}"})
    ws = await waiting(raw, server)
    closed = await ws.closed()
    assert closed.code == 1008
    assert closed.reason.startswith('not authenticated within 0.3 s; send {"session"')
    # The socket that authenticated, opened before it, is past the deadline and still serves.
    authenticated.send("tic")
    while (await authenticated.recv()).get("topic") != "tic":
        pass


class FailingDialect(PortalDialect):
    """The portal dialect with a defect: any command raises."""

    def handle(self, text: str, now: Now) -> None:
        raise RuntimeError(f"defect while handling {text!r}")


@pytest.fixture
async def failing_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    gateway = build_gateway(make_config(tmp_path, store="memory"), SystemClock())

    async def handler(request: web.Request) -> web.StreamResponse:
        def session(
            context: DialectContext, outbox: Outbox, request: web.Request, now: Now
        ) -> FailingDialect:
            return FailingDialect(context, outbox, peer="test", now=now)

        return await serve_websocket(request, gateway, session)

    app = web.Application(middlewares=[error_middleware])
    app[GATEWAY] = gateway
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield RunningServer(runner, "127.0.0.1", port, tls=False)
    await runner.cleanup()


async def test_an_exception_in_a_handler_closes_with_1011_and_is_logged_once(
    raw: Open, failing_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ws = await raw(failing_server, "/ws")
    ws.send("s+md+265598")
    assert await ws.closed() == Closed(1011, "internal error")
    assert await ws.at_eof()
    assert not ws.saw_http()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "RuntimeError" in caplog.text
