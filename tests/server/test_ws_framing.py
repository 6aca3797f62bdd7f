"""The gateway's own WebSocket framing on the handed-over socket, seen from raw clients.

aiohttp answers the upgrade; the frames after it are the gateway's (`protocol.ws_reader`,
`server.ws.Connection`). What a client sees must not differ from the aiohttp days: pings are
answered, fragmented messages are one message, every broken rule gets its close code and a
reason and is logged once, and aiohttp keeps nothing of the socket.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StartServer, WsClient
from tests.rawws import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Closed, RawWebSocket, frame

from tickgate.server.app import RunningServer
from tickgate.server.ws import Connection

PORTAL = "/v1/portal/ws"
SNAPSHOT = 's+md+265598+{"snapshot":true,"fields":"55"}'
Open = Callable[..., Awaitable[RawWebSocket]]


@pytest.fixture
async def raw() -> AsyncIterator[Open]:
    """Opens raw WebSockets; all are closed at the end of the test."""
    sockets: list[RawWebSocket] = []

    async def open_socket(server: RunningServer, path: str = PORTAL, **kwargs: Any) -> RawWebSocket:
        ws = await RawWebSocket.open(server, path, **kwargs)
        sockets.append(ws)
        return ws

    yield open_socket
    for ws in sockets:
        await ws.aclose()


async def portal_ready(server: RunningServer) -> RunningServer:
    """`server` once its brokerage session is up (the seed dialect streams only then)."""
    url = server.base_url + "/v1/api/iserver/accounts"
    connector = aiohttp.TCPConnector(ssl=False)
    async with aiohttp.ClientSession(connector=connector) as http, http.get(url) as response:
        assert response.status == 200
    return server


@pytest.fixture
async def ready(start: StartServer) -> RunningServer:
    """A server whose seed dialect serves: a shorter message deadline, so a stream left
    in the middle of a frame is closed (1008) well within the tests' bounds."""
    return await portal_ready(await start(request_timeout_seconds=1.0))


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def snapshot_answered(ws: RawWebSocket) -> None:
    """The socket serves: a snapshot request gets its frame."""
    ws.send(SNAPSHOT)
    while (await ws.recv()).get("55") != "AAPL":
        pass


async def test_a_ping_is_answered_with_a_pong_of_the_same_payload(
    raw: Open, ready: RunningServer
) -> None:
    ws = await raw(ready)
    ws.send_raw(frame(b"are you there", opcode=OP_PING))
    while (reply := await ws.next_frame())[0] != OP_PONG:
        pass
    assert reply == (OP_PONG, b"are you there")
    await snapshot_answered(ws)


async def test_a_fragmented_message_with_a_ping_between_is_one_command(
    raw: Open, ready: RunningServer
) -> None:
    ws = await raw(ready)
    text = SNAPSHOT.encode()
    ws.send_raw(frame(text[:5], fin=False))
    ws.send_raw(frame(b"", opcode=OP_PING))
    ws.send_raw(frame(text[5:20], opcode=0x0, fin=False))
    ws.send_raw(frame(text[20:], opcode=0x0))
    while (await ws.recv()).get("55") != "AAPL":
        pass


async def test_frames_sent_with_the_upgrade_request_are_served(ready: RunningServer) -> None:
    reader, writer = await asyncio.open_connection(ready.host, ready.port)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {PORTAL} HTTP/1.1\r\nHost: {ready.host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    writer.write(request + frame(SNAPSHOT.encode()))  # one write: the frame rides along
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101")
    ws = RawWebSocket(reader, writer)
    try:
        while (await ws.recv()).get("55") != "AAPL":
            pass
    finally:
        await ws.aclose()


async def test_a_client_close_is_answered_and_the_connection_released(
    raw: Open, ready: RunningServer
) -> None:
    ws = await raw(ready)
    await snapshot_answered(ws)
    ws.send_raw(frame(struct.pack("!H", 1000) + b"bye", opcode=OP_CLOSE))
    assert await ws.closed() == Closed(None, "")
    assert await ws.at_eof()
    await wait_for(lambda: not ready.gateway.connections)


async def test_aiohttp_keeps_nothing_of_a_handed_over_socket(
    raw: Open, ready: RunningServer
) -> None:
    ws = await raw(ready)
    await snapshot_answered(ws)
    (connection,) = ready.gateway.connections
    assert isinstance(connection, Connection) and connection.open
    assert connection.transport.get_protocol() is connection
    # aiohttp's request handler for the socket ends once it is handed over.
    web_server = ready.runner.server
    assert web_server is not None
    await wait_for(lambda: not web_server.connections)
    await snapshot_answered(ws)


async def test_shutting_down_closes_every_socket_with_1001(start: StartServer, raw: Open) -> None:
    server = await portal_ready(await start())
    sockets = [await raw(server) for _ in range(3)]
    for ws in sockets:
        await snapshot_answered(ws)
    stopping = asyncio.ensure_future(server.runner.shutdown())
    for ws in sockets:
        assert await ws.closed() == Closed(1001, "server shutting down")
        assert await ws.at_eof()
    await asyncio.wait_for(stopping, 10)


BROKEN = [
    pytest.param(
        frame(b"x" * 126, opcode=OP_PING),
        1002,
        "control frame of 126 bytes exceeds 125 bytes",
        id="long-ping",
    ),
    pytest.param(
        frame(b"hi", opcode=OP_PING, fin=False),
        1002,
        "control frames must not be fragmented",
        id="fragmented-ping",
    ),
    pytest.param(frame(b"x", opcode=0x3), 1002, "unknown opcode 0x3", id="opcode-3"),
    pytest.param(frame(b"x", opcode=0xB), 1002, "unknown opcode 0xb", id="opcode-b"),
    pytest.param(
        frame(b"x", opcode=0x0),
        1002,
        "continuation frame without a message begun",
        id="lone-continuation",
    ),
    pytest.param(
        frame(b"a", fin=False) + frame(b"b"),
        1002,
        "new data frame while a fragmented message is unfinished",
        id="interleaved-data",
    ),
    pytest.param(frame(b"\xff\xfe"), 1007, "text message is not valid UTF-8", id="bad-utf8"),
    pytest.param(
        frame(b"", declared=1 << 62),
        1009,
        f"message of {1 << 62} bytes exceeds the limit of {4 << 20} bytes",
        id="huge-length",
    ),
    pytest.param(
        frame(struct.pack("!H", 1005), opcode=OP_CLOSE),
        1002,
        "invalid close code 1005",
        id="bad-close-code",
    ),
    pytest.param(
        frame(b"tic", masked=False),
        1002,
        "client frames must be masked (RFC 6455 section 5.1)",
        id="unmasked",
    ),
]


@pytest.mark.parametrize(("data", "code", "reason"), BROKEN)
async def test_each_broken_rule_closes_with_its_code_is_logged_once_and_harms_no_one(
    raw: Open,
    ready: RunningServer,
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    code: int,
    reason: str,
) -> None:
    caplog.set_level(logging.INFO, logger="tickgate.ws")
    bystander = await raw(ready)
    ws = await raw(ready)
    await snapshot_answered(ws)
    ws.send_raw(data + frame(SNAPSHOT.encode()))  # nothing after the breach is served
    assert await ws.closed() == Closed(code, reason)
    assert await ws.at_eof()
    assert not ws.saw_http()
    notes = [r for r in caplog.records if r.getMessage().startswith("protocol error")]
    assert len(notes) == 1 and reason in notes[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await snapshot_answered(bystander)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(min_size=1, max_size=300))
async def test_garbage_after_the_upgrade_never_crashes_the_server(
    ready: RunningServer, caplog: pytest.LogCaptureFixture, junk: bytes
) -> None:
    caplog.set_level(logging.INFO)
    ws = await RawWebSocket.open(ready, PORTAL)
    try:
        ws.send_raw(junk)
        ws.send_raw(frame(b"", opcode=OP_BINARY))
        ws.send_raw(frame(SNAPSHOT.encode()))
        # Either the garbage broke a rule (a close with a code and a reason) or it was read
        # as frames and the socket still answers.
        async with asyncio.timeout(10):
            while True:
                opcode, payload = await ws.next_frame()
                if opcode == OP_CLOSE:
                    (code,) = struct.unpack("!H", payload[:2])
                    assert code in (1002, 1007, 1008, 1009) and payload[2:]
                    break
                if opcode == OP_TEXT and b'"55":"AAPL"' in payload:
                    break
        assert not ws.saw_http()
    finally:
        await ws.aclose()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    # A fresh socket is served.
    other = await RawWebSocket.open(ready, PORTAL)
    try:
        await snapshot_answered(other)
    finally:
        await other.aclose()


async def test_a_tls_socket_is_handed_over_and_served(
    start: StartServer, ws_connect: Callable[..., Awaitable[WsClient]]
) -> None:
    server = await portal_ready(await start(tls=True))
    ws = await ws_connect(server.ws_base + PORTAL)
    await ws.send(SNAPSHOT)
    await ws.recv_until(lambda frame: frame.get("55") == "AAPL")
    await ws.ws.ping(b"tls")
    await ws.close()
    await wait_for(lambda: not server.gateway.connections)
