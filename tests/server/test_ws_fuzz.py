"""Fuzzing both dialects over real sockets against a real server (issue 10, §1).

Each example opens a raw socket, sends a batch of generated commands (`tests.protocol.grammar`)
and then a valid request. For every command the pure parser refuses, the same error must come
back as an error frame; the socket must never be closed, never carry HTTP bytes after the
upgrade, and still stream market data at the end; the log must hold no error or traceback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.protocol.grammar import (
    api_command,
    nested_api_command,
    nested_portal_command,
    portal_command,
)
from tests.rawws import OP_CLOSE, OP_TEXT, RawWebSocket

from tickgate.config import Config
from tickgate.errors import ProtocolError
from tickgate.protocol import portal
from tickgate.protocol.api import grammar as api
from tickgate.server.app import RunningServer

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
AAPL = 265598
MAX_FRAME_BYTES = Config().max_frame_bytes


def refusal(parse: Any, text: str) -> str | None:
    """The error message the parser gives `text`, or None when it accepts it."""
    try:
        parse(text)
    except ProtocolError as error:
        return str(error.message)
    return None


async def next_json(ws: RawWebSocket) -> dict[str, Any]:
    """The next JSON frame; the plain-text echo `ech` answers with is skipped."""
    while True:
        opcode, payload = await ws.next_frame()
        assert opcode != OP_CLOSE, f"closed: {payload!r}"
        if opcode == OP_TEXT and payload.startswith(b"{"):
            value = orjson.loads(payload)
            assert isinstance(value, dict)
            return value


async def expect_error(ws: RawWebSocket, message: str) -> None:
    async with asyncio.timeout(5):
        while (await next_json(ws)).get("error") != message:
            pass


async def send_all(ws: RawWebSocket, commands: list[str], parse: Any) -> None:
    """Send each command; for one the parser refuses, wait for the server's same error."""
    for command in commands:
        ws.send(command)
        message = refusal(parse, command)
        if message is not None:
            await expect_error(ws, message)


def fits(text: str) -> bool:
    """Within `max_frame_bytes` (8 KiB), so that the parser, not the size check, answers."""
    return len(text.encode()) <= MAX_FRAME_BYTES


def assert_clean_log(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad]


async def session_of(server: RunningServer, http: aiohttp.ClientSession) -> str:
    async with http.post(server.base_url + "/v1/api/tickle") as response:
        session = (await response.json())["session"]
    assert isinstance(session, str)
    return session


@FUZZ
@given(
    commands=st.lists((api_command() | nested_api_command()).filter(fits), min_size=1, max_size=12),
    login_first=st.booleans(),
)
async def test_api_dialect_survives_generated_commands(
    server: RunningServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    commands: list[str],
    login_first: bool,
) -> None:
    caplog.set_level(logging.INFO)
    sid = await session_of(server, http)
    headers = {"Cookie": f"api={sid}"} if login_first else None
    ws = await RawWebSocket.open(server, "/v1/api/ws", headers=headers)
    try:
        await send_all(ws, commands, api.parse)
        ws.send(f'{{"session":"{sid}"}}')
        ws.send(f'smd+{AAPL}+{{"fields":["31","84"]}}')
        async with asyncio.timeout(5):
            while (await next_json(ws)).get("topic") != f"smd+{AAPL}":
                pass
        assert not ws.saw_http()
    finally:
        await ws.aclose()
    assert_clean_log(caplog)


@FUZZ
@given(
    commands=st.lists(
        (portal_command() | nested_portal_command()).filter(fits), min_size=1, max_size=12
    )
)
async def test_seed_dialect_survives_generated_commands(
    server: RunningServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    commands: list[str],
) -> None:
    caplog.set_level(logging.INFO)
    async with http.get(server.base_url + "/v1/api/iserver/accounts"):
        pass
    ws = await RawWebSocket.open(server, "/v1/portal/ws")
    try:
        await send_all(ws, commands, portal.parse)
        ws.send(f's+md+{AAPL}+{{"snapshot":true,"fields":"55"}}')
        async with asyncio.timeout(5):
            while (await next_json(ws)).get("55") != "AAPL":
                pass
        assert not ws.saw_http()
    finally:
        await ws.aclose()
    assert_clean_log(caplog)
