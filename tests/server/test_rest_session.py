"""REST session and account endpoints over a real server, under both prefixes."""

from __future__ import annotations

import aiohttp
import pytest

from tickgate.server.app import RunningServer


@pytest.mark.parametrize("prefix", ["/v1/api", "/v1/portal"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_tickle_returns_a_stable_session(
    server: RunningServer, http: aiohttp.ClientSession, prefix: str, method: str
) -> None:
    sessions = []
    for _ in range(2):
        async with http.request(method, server.base_url + prefix + "/tickle") as response:
            assert response.status == 200
            body = await response.json()
            sessions.append(body["session"])
            assert body["iserver"]["authStatus"]["authenticated"] is True
            assert body["iserver"]["authStatus"]["connected"] is True
    assert sessions[0] == sessions[1] and len(sessions[0]) == 32


async def test_auth_status_both_verbs(server: RunningServer, http: aiohttp.ClientSession) -> None:
    for method in ("GET", "POST"):
        async with http.request(
            method, server.base_url + "/v1/api/iserver/auth/status"
        ) as response:
            body = await response.json()
            assert body["authenticated"] is True and body["competing"] is False


async def test_accounts_list_the_configured_account(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.base_url + "/v1/api/iserver/accounts") as response:
        body = await response.json()
    assert body["accounts"] == ["DU1234567"]
    assert body["selectedAccount"] == "DU1234567"
    async with http.get(server.base_url + "/v1/portal/portfolio/accounts") as response:
        rows = await response.json()
    assert [row["id"] for row in rows] == ["DU1234567"]
    assert rows[0]["currency"] == "USD"


async def test_logout_then_status_is_unauthenticated(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(server.base_url + "/v1/api/logout") as response:
        assert await response.json() == {"status": True}
    async with http.post(server.base_url + "/v1/api/iserver/auth/status") as response:
        assert (await response.json())["authenticated"] is False
    async with http.post(
        server.base_url + "/v1/api/iserver/auth/ssodh/init", json={"publish": True, "compete": True}
    ) as response:
        assert (await response.json())["authenticated"] is True


async def test_unknown_route_is_a_json_404(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    for path in ("/v1/api/no/such/thing", "/nowhere"):
        async with http.get(server.base_url + path) as response:
            assert response.status == 404
            assert response.content_type == "application/json"
            assert "no route" in (await response.json())["error"]


async def test_trailing_slash_is_accepted(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.base_url + "/v1/api/iserver/accounts/") as response:
        assert response.status == 200


async def test_tls_serves_rest_with_a_self_signed_certificate(
    start: object, http: aiohttp.ClientSession
) -> None:
    server = await start(tls=True)  # type: ignore[operator]
    assert server.base_url.startswith("https://")
    async with http.post(server.base_url + "/v1/api/tickle") as response:
        assert response.status == 200
    cert = server.gateway.config.data_dir / "tickgate-cert.pem"
    assert cert.read_text().startswith("-----BEGIN CERTIFICATE-----")


async def test_shutdown_closes_sockets_with_going_away(
    start: object, http: aiohttp.ClientSession
) -> None:
    server = await start()  # type: ignore[operator]
    ws = await http.ws_connect(server.ws_base + "/v1/portal/ws")
    await server.stop()
    message = await ws.receive(timeout=5)
    assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 1001


async def test_logged_out_session_answers_401_until_it_logs_in_again(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    async with http.post(base + "/logout"):
        pass
    async with http.get(base + "/iserver/accounts") as response:
        assert response.status == 401
        assert "logged out" in (await response.json())["error"]
    async with http.post(base + "/tickle") as response:
        assert (await response.json())["iserver"]["authStatus"]["authenticated"] is False
    async with http.post(base + "/iserver/auth/ssodh/init", json={}) as response:
        assert response.status == 200
    async with http.get(base + "/iserver/accounts") as response:
        assert response.status == 200


async def session_of(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(base + "/tickle") as response:
        assert response.status == 200
        return str((await response.json())["session"])


async def test_the_session_id_rotates_on_logout_and_login_and_only_then(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    first = await session_of(http, base)
    assert await session_of(http, base) == first
    async with http.post(base + "/iserver/auth/ssodh/init", json={}):
        pass  # a login while logged in is no login: the id clients hold stays
    assert await session_of(http, base) == first
    async with http.post(base + "/logout"):
        pass
    logged_out = await session_of(http, base)
    async with http.post(base + "/iserver/auth/ssodh/init", json={}):
        pass
    logged_in = await session_of(http, base)
    assert len({first, logged_out, logged_in}) == 3
    # An id from before no longer opens the current dialect's socket, by cookie or message.
    cookie = {"Cookie": 'api={"session": "' + first + '"}'}
    async with http.ws_connect(server.ws_base + "/v1/api/ws", headers=cookie) as ws:
        assert (await ws.receive_json(timeout=5)) == {"message": "waiting for session"}
        await ws.send_str('{"session":"' + first + '"}')
        assert (await ws.receive_json(timeout=5)) == {"message": "waiting for session"}


async def test_session_cookie_is_http_only_and_same_site_strict(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = server.base_url + "/v1/api"
    for method, path in [
        ("POST", "/tickle"),
        ("POST", "/logout"),
        ("POST", "/iserver/reauthenticate"),
    ]:
        async with http.request(method, base + path) as response:
            morsel = response.cookies["x-sess-uuid"]
            assert morsel.value == server.gateway.session.id
            assert morsel["httponly"] and morsel["samesite"] == "Strict"
            assert morsel["path"] == "/v1" and not morsel["secure"]
