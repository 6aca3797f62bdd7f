"""A client that keeps only a cookie jar, as a browser does: the REST answers set the session
cookie, and `/v1/api/ws` authenticates with it, without a `{"session": ...}` message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from tickgate.server.app import RunningServer
from tickgate.server.rest_session import SESSION_COOKIE


@pytest.fixture
async def jar_client() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe: keep cookies of an IP-address host (127.0.0.1), as a browser does.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        yield session


async def first_frames(client: aiohttp.ClientSession, url: str) -> list[dict[str, object]]:
    async with client.ws_connect(url) as ws:
        frames = []
        for _ in range(3):
            message = await ws.receive(timeout=5)
            frames.append(orjson.loads(message.data))
            if frames[-1] == {"message": "waiting for session"}:
                break
        return frames


async def test_the_session_cookie_of_a_rest_answer_opens_the_socket(
    server: RunningServer, jar_client: aiohttp.ClientSession
) -> None:
    base, ws_url = server.base_url + "/v1/api", server.ws_base + "/v1/api/ws"
    async with jar_client.get(f"{base}/iserver/accounts") as answer:
        assert answer.status == 200
        assert answer.cookies[SESSION_COOKIE].value == server.gateway.session.id
        assert answer.cookies[SESSION_COOKIE]["httponly"]
    system, act, sts = await first_frames(jar_client, ws_url)
    assert system["topic"] == "system" and system["success"]
    assert act["topic"] == "act" and sts["topic"] == "sts"

    # A logout's answer sets the new id: a socket opened with it is told the brokerage session
    # is logged out, and the login's answer (the id again new) gives one that is told it is in.
    old = server.gateway.session.id
    async with jar_client.post(f"{base}/logout") as answer:
        assert answer.cookies[SESSION_COOKIE].value == server.gateway.session.id != old
    *_, sts = await first_frames(jar_client, ws_url)
    assert sts["topic"] == "sts" and sts["args"]["authenticated"] is False
    async with jar_client.post(f"{base}/iserver/auth/ssodh/init", json={}) as answer:
        assert (await answer.json())["authenticated"] is True
    *_, sts = await first_frames(jar_client, ws_url)
    assert sts["topic"] == "sts" and sts["args"]["authenticated"] is True


async def test_a_stale_session_cookie_opens_nothing(
    server: RunningServer, jar_client: aiohttp.ClientSession
) -> None:
    ws_url = server.ws_base + "/v1/api/ws"
    jar_client.cookie_jar.update_cookies({SESSION_COOKIE: "0" * 32})
    assert await first_frames(jar_client, ws_url) == [{"message": "waiting for session"}]
