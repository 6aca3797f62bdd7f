"""A known route asked with a method it does not serve: 405 with `Allow`, not the 404 of an
unknown path; both a JSON `{"error": ...}`, logged once."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from tickgate.server.app import RunningServer


async def answer(
    http: aiohttp.ClientSession, method: str, url: str
) -> tuple[int, str | None, dict[str, object]]:
    async with http.request(method, url) as response:
        assert response.content_type == "application/json"
        return response.status, response.headers.get("Allow"), await response.json()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/api/iserver/accounts", "GET"),
        ("DELETE", "/v1/portal/tickle", "GET, POST"),
        ("GET", "/v1/api/iserver/reply/abc", "POST"),  # a route with a path parameter
        ("PATCH", "/v1/api/iserver/account/DU1234567/orders/", "POST"),  # trailing slash
        ("POST", "/v1/api/iserver/account/order/status/1", "GET"),
    ],
)
async def test_a_method_the_route_lacks_is_405_naming_the_allowed_ones(
    server: RunningServer, http: aiohttp.ClientSession, method: str, path: str, allowed: str
) -> None:
    status, allow, body = await answer(http, method, server.base_url + path)
    assert (status, allow) == (405, allowed)
    assert body == {"error": f"{method} is not allowed on {path}; allowed: {allowed}"}


async def test_the_allowed_methods_answer_as_before(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.base_url + "/v1/api/iserver/accounts") as response:
        assert response.status == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/api/iserver/no-such-route"),
        ("PUT", "/v1/api/iserver/no-such-route"),
        ("GET", "/v1/api/iserver/accounts/extra/segments"),
        # The WebSocket endpoints are GET handshakes, not REST resources: docs/compatibility.md
        # lists POST /ws as not served (this answered a plain-text 500 before).
        ("POST", "/v1/api/ws"),
        ("POST", "/v1/portal/ws"),
    ],
)
async def test_an_unknown_route_stays_a_404_without_allow(
    server: RunningServer, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    status, allow, body = await answer(http, method, server.base_url + path)
    assert (status, allow) == (404, None)
    assert body == {"error": f"no route for {method} {path}"}


async def test_a_wrong_method_is_logged_once(
    server: RunningServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tickgate")
    status, _allow, _body = await answer(http, "PUT", server.base_url + "/v1/api/iserver/accounts")
    assert status == 405
    lines = [r.getMessage() for r in caplog.records if "/iserver/accounts" in r.getMessage()]
    assert lines == [
        "PUT /v1/api/iserver/accounts -> 405: "
        "PUT is not allowed on /v1/api/iserver/accounts; allowed: GET"
    ]
