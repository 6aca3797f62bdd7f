"""What one WebSocket client may cost the server within its command rate (issue 10, §3)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tests.conftest import StartServer, WsClient
from tests.server.test_ws_api import authed, is_error, session_id
from tests.server.test_ws_portal import primed_socket

from tickgate.model.accounts import AccountConfig
from tickgate.server.app import RunningServer

Connect = Callable[..., Awaitable[WsClient]]
AAPL, MSFT, IBM = 265598, 272093, 8314
ACCT = "DU1234567"


def topic_is(topic: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("topic") == topic


async def test_depth_for_made_up_accounts_is_refused(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    for number in range(20):
        await ws.send(f"sbd+DU{9_000_000 + number}+{AAPL}")
        error = await ws.recv_until(is_error)
        assert error["error"] == f"unknown account DU{9_000_000 + number}; accounts: {ACCT}"
    await ws.send(f"sbd+{ACCT}+{AAPL}")
    frame = await ws.recv_until(topic_is(f"sbd+{ACCT}+{AAPL}"))
    assert frame["data"]


async def test_depth_streams_per_connection_are_budgeted(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    accounts = tuple(AccountConfig(f"DU{n}") for n in range(1, 4))
    server = await start(accounts=accounts, depth_streams_per_connection=2)
    ws = await authed(server, http, ws_connect)
    for account in ("DU1", "DU2"):
        await ws.send(f"sbd+{account}+{AAPL}")
        await ws.recv_until(topic_is(f"sbd+{account}+{AAPL}"))
    await ws.send(f"sbd+DU3+{AAPL}")
    error = await ws.recv_until(is_error)
    assert error["error"] == "at most 2 depth streams (sbd) per connection; send ubd first"
    await ws.send(f"sbd+DU1+{MSFT}")  # moving an existing ladder costs nothing more
    await ws.recv_until(topic_is(f"sbd+DU1+{MSFT}"))
    await ws.send("ubd+DU2")
    await ws.send(f"sbd+DU3+{AAPL}")
    await ws.recv_until(topic_is(f"sbd+DU3+{AAPL}"))


async def test_umh_of_an_unknown_server_id_is_refused(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await authed(server, http, ws_connect)
    await ws.send("umh+123456")
    error = await ws.recv_until(is_error)
    assert error == {
        "topic": "error",
        "error": "no smh request 123456 on this connection",
        "request": "umh+123456",
    }


async def test_ech_is_not_answered_before_authentication(
    server: RunningServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    ws = await ws_connect(server.ws_base + "/v1/api/ws")
    assert await ws.recv() == {"message": "waiting for session"}
    await ws.send("ech+hb")
    message = await ws.ws.receive(timeout=5)
    assert message.data == '{"message":"waiting for session"}'
    await ws.send(f'{{"session":"{await session_id(server, http)}"}}')
    await ws.recv_until(topic_is("sts"))
    await ws.send("ech+hb")
    while (await ws.ws.receive(timeout=5)).data != "ech+hb":
        pass


@pytest.mark.parametrize("dialect", ["api", "portal"])
async def test_market_data_lines_per_connection(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, dialect: str
) -> None:
    server = await start(md_lines_per_connection=2)
    if dialect == "api":
        ws, other = await authed(server, http, ws_connect), await authed(server, http, ws_connect)
        command, topic = 'smd+{}+{{"fields":["31"]}}', "smd+{}"
    else:
        ws = await primed_socket(server, http, ws_connect)
        other = await ws_connect(server.ws_base + "/v1/portal/ws")
        command, topic = 's+md+{}+{{"snapshot":true,"fields":"55"}}', "md+{}"
    for conid in (AAPL, MSFT):
        await ws.send(command.format(conid))
        await ws.recv_until(lambda f, c=conid: f.get("topic") == topic.format(c))
    await ws.send(command.format(IBM))
    error = await ws.recv_until(lambda f: "error" in f)
    assert error["error"] == "at most 2 market data lines per connection; unsubscribe one first"
    await other.send(command.format(IBM))  # another connection has its own budget
    await other.recv_until(lambda f: f.get("topic") == topic.format(IBM) and "error" not in f)


@pytest.mark.parametrize("dialect", ["api", "portal"])
async def test_account_resubscriptions_are_budgeted_per_connection(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, dialect: str
) -> None:
    server = await start(account_subscriptions_per_minute=3)
    if dialect == "api":
        ws = await authed(server, http, ws_connect)
        command, answer = "spl", topic_is("spl")
    else:
        ws = await primed_socket(server, http, ws_connect)
        command = f"s+realtime-account-data+{ACCT}"
        topic = f"realtime-account-data+{ACCT}"

        def answer(frame: dict[str, Any]) -> bool:
            return frame.get("topic") == topic and "orders" in frame

    for _ in range(3):
        await ws.send(command)
        await ws.recv_until(answer)
    await ws.send(command)
    error = await ws.recv_until(lambda f: "error" in f)
    assert error["error"] == (
        "too many account subscriptions: at most 3 per minute per connection; "
        "the current one stays active"
    )


async def test_bad_commands_are_logged_once_per_kind_per_connection(
    server: RunningServer,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tickgate.ws")
    ws = await authed(server, http, ws_connect)
    for n in range(50):
        await ws.send(f"xyz+{'A' * 300}{n}")
        await ws.recv_until(is_error)
    for _ in range(5):
        await ws.send("smd+99999999")
        await ws.recv_until(is_error)
    lines = [r.getMessage() for r in caplog.records if r.name == "tickgate.ws"]
    bad = [line for line in lines if line.startswith("bad command")]
    assert len(bad) == 1 and len(bad[0]) < 250, bad
