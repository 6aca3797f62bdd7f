"""Log lines of a real server: request and connection ids, and no token or session id, ever."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator

import aiohttp
import orjson
import pytest
from tests.conftest import StartServer, call

from tickgate.log_format import REDACTED, make_handler
from tickgate.server.app import RunningServer

TOKEN = "log-test-token-0123456789"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything tickgate logs (debug and up) during the test, as JSON lines."""
    out = io.StringIO()
    handler = make_handler("json", out)
    logger = logging.getLogger("tickgate")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_login_and_session_flow_never_logs_a_secret(
    start: StartServer, http: aiohttp.ClientSession, json_log: io.StringIO
) -> None:
    server = await start(auth_token=TOKEN)
    base = server.base_url
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    await call(http, "POST", base + "/tickgate/login", json={"token": "wrong-" + TOKEN}, status=401)
    await call(http, "POST", base + "/tickgate/login", json={"token": TOKEN})
    await call(http, "GET", base + "/v1/api/iserver/accounts", status=401)
    session_ids = [(await call(http, "GET", base + "/v1/api/tickle", headers=bearer))["session"]]
    async with http.ws_connect(
        server.ws_base + "/v1/api/ws", headers={**bearer, "Cookie": f"api={session_ids[0]}"}
    ) as ws:
        # Malformed and ignored messages are logged with their text: the id must not survive.
        session = orjson.dumps({"session": session_ids[0]}).decode()
        await ws.send_str(session[:-1])
        await ws.send_str(orjson.dumps({"unknown": session_ids[0]}).decode())
        await ws.send_str(session)
        await ws.send_str("ech+hb")
        async with asyncio.timeout(5):
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT and "ech" in message.data:
                    break
    await call(http, "POST", base + "/v1/api/logout", headers=bearer)
    await call(http, "POST", base + "/v1/api/iserver/reauthenticate", headers=bearer)
    session_ids.append(
        (await call(http, "GET", base + "/v1/api/tickle", headers=bearer))["session"]
    )
    await call(http, "GET", f"{base}/v1/api/no/route/{session_ids[-1]}", headers=bearer, status=404)
    assert session_ids[0] != session_ids[1]

    written = json_log.getvalue()
    entries = [orjson.loads(line) for line in written.splitlines()]
    assert entries and all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    for secret in (TOKEN, *session_ids):
        assert secret not in written
    assert REDACTED in written  # the malformed message and the 404 path were logged, redacted
    messages = {e["message"]: e for e in entries}
    failed = next(e for m, e in messages.items() if m.startswith("failed login"))
    assert failed["request_id"].startswith("r-")
    bad = next(e for m, e in messages.items() if m.startswith("bad command"))
    assert bad["connection_id"].startswith("c-") and "request_id" not in bad


async def test_a_request_body_over_the_limit_is_a_413_logged_with_its_request_id(
    server: RunningServer, json_log: io.StringIO
) -> None:
    # One byte over the 1 MiB limit: the server has read the whole body when it refuses it,
    # so it closes a connection with nothing unread (no reset can overtake its answer).
    body = b"x" * ((1 << 20) + 1)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            b"POST /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert orjson.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    entries = [orjson.loads(line) for line in json_log.getvalue().splitlines()]
    (refused,) = [e for e in entries if "-> 413" in e["message"]]
    assert refused["message"].startswith("POST /v1/api/tickle -> 413: ")
    assert refused["request_id"].startswith("r-")
