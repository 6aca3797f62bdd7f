"""Access rules over a real server and real headers: origins, Host names, client addresses and
the auth token, before any handler, pacing or session rule runs."""

from __future__ import annotations

import base64
import socket
from typing import Any

import aiohttp
import pytest
from tests.conftest import StartServer, call

from tickgate.server.app import RunningServer

ACCT = "DU1234567"
EVIL = "http://127.0.0.1:1"  # another port on the same machine: same site, another origin
TOKEN = "correct-horse-battery-staple-42"
MKT = {"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 1, "tif": "DAY"}


def api(server: RunningServer, path: str) -> str:
    return server.base_url + "/v1/api" + path


def own(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def status_and_body(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def test_a_cross_origin_text_plain_post_is_refused_before_it_trades(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    body = '{"orders":[{"conid":265598,"side":"BUY","orderType":"MKT","quantity":1}]}'
    for path in (f"/iserver/account/{ACCT}/orders", "/iserver/questions/suppress", "/logout"):
        status, answer = await status_and_body(
            http,
            "POST",
            api(server, path),
            data=body,
            headers={"Origin": EVIL, "Content-Type": "text/plain;charset=UTF-8"},
        )
        assert status == 403, answer
        assert answer["error"].startswith(f"cross-origin request refused: Origin {EVIL}")
    gateway = server.gateway
    assert gateway.trading.views.todays_orders() == [] and gateway.session.authenticated
    # The questions were not suppressed: a market order still asks.
    question = await call(
        http, "POST", api(server, f"/iserver/account/{ACCT}/orders"), json={"orders": [MKT]}
    )
    assert question[0]["messageIds"] == ["o10151"]


async def test_the_own_page_origin_and_scripts_without_one_are_served(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await call(http, "POST", api(server, "/tickle"), headers={"Origin": own(server)})
    await call(http, "POST", api(server, "/tickle"))
    await call(http, "GET", api(server, "/iserver/accounts"), headers={"Sec-Fetch-Site": "none"})
    await call(
        http, "GET", api(server, "/iserver/accounts"), headers={"Sec-Fetch-Site": "same-origin"}
    )


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
async def test_a_foreign_get_without_origin_is_refused_by_its_fetch_metadata(
    server: RunningServer, http: aiohttp.ClientSession, site: str
) -> None:
    # What an <img src> or a no-cors GET from another page sends: no Origin, but the browser
    # says where it comes from. Priming the session is a change of state.
    status, answer = await status_and_body(
        http, "GET", api(server, "/iserver/accounts"), headers={"Sec-Fetch-Site": site}
    )
    assert status == 403 and f"Sec-Fetch-Site: {site}" in answer["error"]
    assert server.gateway.session.primed is False


async def test_origin_null_is_not_the_page(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    status, _ = await status_and_body(
        http, "POST", api(server, "/logout"), headers={"Origin": "null"}
    )
    assert status == 403 and server.gateway.session.authenticated


async def test_the_page_itself_opens_from_anywhere(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    headers = {"Sec-Fetch-Site": "cross-site", "Origin": EVIL}
    async with http.get(server.base_url + "/", headers=headers) as response:
        assert response.status == 200
    async with http.get(server.base_url + "/static/app.js", headers=headers) as response:
        assert response.status == 200


async def test_a_refused_request_does_not_make_a_pending_reply_stale(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    question = await call(
        http, "POST", api(server, f"/iserver/account/{ACCT}/orders"), json={"orders": [MKT]}
    )
    status, _ = await status_and_body(
        http, "GET", api(server, "/iserver/account/orders"), headers={"Origin": EVIL}
    )
    assert status == 403
    ack = await call(
        http, "POST", api(server, f"/iserver/reply/{question[0]['id']}"), json={"confirmed": True}
    )
    assert ack[0]["order_id"]


@pytest.mark.parametrize("path", ["/v1/portal/ws", "/v1/api/ws"])
async def test_a_cross_origin_websocket_is_refused_before_the_upgrade(
    server: RunningServer, http: aiohttp.ClientSession, path: str
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(server.ws_base + path, headers={"Origin": EVIL})
    assert refused.value.status == 403
    assert server.gateway.connections == set()
    # The page's own origin (and websocket-client's default, scheme://Host) is served.
    ws = await http.ws_connect(server.ws_base + path, headers={"Origin": own(server)})
    await ws.close()


async def test_an_allowed_dashboard_gets_cors_and_its_preflight_answered(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    dashboard = "https://dash.example:8443"
    server = await start(allow_origin=(dashboard,))
    headers = {"Origin": dashboard, "Access-Control-Request-Method": "POST"}
    async with http.options(api(server, "/iserver/accounts"), headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == dashboard
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    async with http.get(api(server, "/iserver/accounts"), headers={"Origin": dashboard}) as r:
        assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == dashboard
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
    ws = await http.ws_connect(server.ws_base + "/v1/api/ws", headers={"Origin": dashboard})
    await ws.close()
    async with http.options(
        api(server, "/iserver/accounts"), headers={**headers, "Origin": EVIL}
    ) as response:
        assert response.status == 403 and "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:5000", "127.0.0.1.nip.io", "localhost.evil.example"]
)
async def test_a_host_that_is_not_the_gateway_is_refused(
    server: RunningServer, http: aiohttp.ClientSession, host: str
) -> None:
    for url in (server.base_url + "/", api(server, "/iserver/accounts")):
        status, answer = await status_and_body(http, "GET", url, headers={"Host": host})
        assert status == 403 and "DNS-rebound" in answer["error"], answer
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(server.ws_base + "/v1/portal/ws", headers={"Host": host})
    assert refused.value.status == 403
    assert server.gateway.session.primed is False


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST:5000",
        "127.0.0.1",
        "127.0.0.2:80",
        "[::1]:5000",
        socket.gethostname(),
    ],
)
async def test_the_gateways_own_names_are_served(
    server: RunningServer, http: aiohttp.ClientSession, host: str
) -> None:
    await call(http, "GET", api(server, "/iserver/accounts"), headers={"Host": host})


async def test_allow_host_adds_names_and_star_allows_any(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    named = await start(allow_host=("gw.example",))
    await call(http, "GET", api(named, "/tickle"), headers={"Host": "gw.example:5000"})
    status, _ = await status_and_body(
        http, "GET", api(named, "/tickle"), headers={"Host": "other.example"}
    )
    assert status == 403
    anything = await start(allow_host=("*",))
    await call(http, "GET", api(anything, "/tickle"), headers={"Host": "other.example"})


# --- the auth token ------------------------------------------------------------------------------


@pytest.fixture
async def guarded(start: StartServer) -> RunningServer:
    return await start(auth_token=TOKEN)


async def test_without_the_token_nothing_is_served_but_the_login(
    guarded: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(api(guarded, "/tickle")) as response:
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Authorization: Bearer TOKEN" in (await response.json())["error"]
    wrong = {"Authorization": "Bearer not-the-token-at-all"}
    status, answer = await status_and_body(http, "POST", api(guarded, "/logout"), headers=wrong)
    assert (status, answer["error"]) == (401, "wrong token")
    assert guarded.gateway.session.authenticated
    async with http.get(guarded.base_url + "/", allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == "/tickgate/login"
    async with http.get(guarded.base_url + "/static/app.js") as response:
        assert response.status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await http.ws_connect(guarded.ws_base + "/v1/portal/ws")
    assert refused.value.status == 401


async def test_the_token_as_bearer_or_basic_password(
    guarded: RunningServer, http: aiohttp.ClientSession
) -> None:
    await call(http, "POST", api(guarded, "/tickle"), headers={"Authorization": f"Bearer {TOKEN}"})
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    await call(http, "POST", api(guarded, "/tickle"), headers={"Authorization": f"Basic {basic}"})
    ws = await http.ws_connect(
        guarded.ws_base + "/v1/portal/ws", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    await ws.close()


async def test_ibinds_session_cookie_opens_the_websocket(
    guarded: RunningServer, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    session = (await call(http, "POST", api(guarded, "/tickle"), headers=headers))["session"]
    cookie = {"Cookie": 'api={"session": "' + session + '"}'}
    ws = await http.ws_connect(guarded.ws_base + "/v1/api/ws", headers=cookie)
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(
            guarded.ws_base + "/v1/api/ws", headers={"Cookie": 'api={"session": "guess"}'}
        )


async def test_the_page_logs_in_with_a_form_and_gets_a_strict_http_only_cookie(
    guarded: RunningServer,
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)  # the default jar ignores cookies of IP addresses
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        form = {"token": "wrong-wrong-wrong-wrong"}
        login = guarded.base_url + "/tickgate/login"
        headers = {"Origin": own(guarded)}
        async with browser.post(login, data=form, headers=headers) as response:
            assert response.status == 401 and "Wrong token." in await response.text()
        async with browser.post(
            login, data={"token": TOKEN}, headers=headers, allow_redirects=False
        ) as response:
            assert response.status == 303 and response.headers["Location"] == "/"
            cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "tickgate-login=" in cookie
        assert TOKEN not in cookie
        await call(browser, "GET", api(guarded, "/iserver/accounts"))
        async with browser.get(guarded.base_url + "/") as response:
            assert response.status == 200 and "<title>tickgate" in await response.text()
        ws = await browser.ws_connect(guarded.ws_base + "/v1/portal/ws", headers=headers)
        await ws.close()
        await call(browser, "POST", guarded.base_url + "/tickgate/logout", headers=headers)
        async with browser.post(api(guarded, "/tickle")) as response:
            assert response.status == 401


# --- client addresses ----------------------------------------------------------------------------


def non_loopback_address() -> str:
    """An address of this machine that is not loopback (no packet is sent to find it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("this machine has no non-loopback IPv4 address")
        address = str(probe.getsockname()[0])
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address")
    return address


async def test_only_allowed_client_addresses_are_served(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    address = non_loopback_address()
    # Bound to the machine's address and reached through it, the client's address is that one.
    refused = await start(host=address, allow_ip=("203.0.113.0/24",))
    status, answer = await status_and_body(http, "POST", refused.base_url + "/v1/api/tickle")
    assert status == 403 and answer["error"].startswith(f"Access Denied: client address {address}")
    allowed = await start(host=address, allow_ip=(f"{address}/32",))
    await call(http, "POST", allowed.base_url + "/v1/api/tickle")
