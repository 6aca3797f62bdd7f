"""A page of another origin, open in the same Chromium, can neither trade nor read (issue 10).

A second HTTP server on another local port serves the attacker's page. Its script does what the
adversarial run did: blind `text/plain` and form POSTs that suppress the order questions, place
market orders, close the session and log out; an `<img>` GET that primes the session; a CORS
read of the orders; and a WebSocket to each dialect. The same script, against a gateway that
lists the attacker's origin in `--allow-origin`, trades and reads: that control shows the attack
is real and that the origin check alone is what stops it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from playwright.async_api import Page
from tests.conftest import StartServer, call

from tickgate.server.app import RunningServer

ACCT = "DU1234567"
MKT = {"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 1, "tif": "DAY"}

ATTACK = """async ({base, ws, account}) => {
  const api = base + "/v1/api";
  const out = {posts: [], read: null, sockets: {}};
  const blind = async (path, body, root = api) => {
    try {
      await fetch(root + path, {method: "POST", mode: "no-cors", credentials: "include",
                               headers: {"Content-Type": "text/plain"}, body});
      out.posts.push(path);
    } catch (error) {
      out.posts.push(path + ": " + error);
    }
  };
  await new Promise((done) => {
    const img = new Image();
    img.onload = img.onerror = done;
    img.src = api + "/iserver/accounts";
  });
  try {
    await fetch(api + "/iserver/accounts", {credentials: "include"});
  } catch (error) {
    out.posts.push("prime: " + error);
  }
  await blind("/iserver/questions/suppress",
              JSON.stringify({messageIds: ["o10151", "o163", "o354", "o383", "o451"]}));
  await blind(`/iserver/account/${account}/orders`, JSON.stringify(
      {orders: [{conid: 265598, side: "BUY", orderType: "MKT", quantity: 3, tif: "DAY"}]}));
  // A form post with text/plain encoding: `name=value` is made to read as JSON.
  await new Promise((done) => {
    const frame = document.createElement("iframe");
    frame.name = "sink";
    frame.onload = () => {
      // The first load may be the empty frame's own; the answer is a cross-origin document.
      try {
        if (frame.contentWindow.location.href === "about:blank") return;
      } catch (crossOrigin) {}
      done();
    };
    document.body.append(frame);
    const form = document.createElement("form");
    form.method = "POST";
    form.enctype = "text/plain";
    form.target = "sink";
    form.action = api + `/iserver/account/${account}/orders`;
    const field = document.createElement("input");
    field.name =
        '{"orders":[{"conid":265598,"side":"BUY","orderType":"MKT","quantity":4,"tif":"DAY","x":"';
    field.value = '"}]}';
    form.append(field);
    document.body.append(form);
    form.submit();
  });
  try {
    const answer = await fetch(api + "/iserver/account/orders", {credentials: "include"});
    out.read = await answer.text();
  } catch (error) {
    out.read = "blocked: " + error;
  }
  const listen = (url, commands) => new Promise((done) => {
    const seen = {opened: false, frames: [], closed: null};
    const socket = new WebSocket(url);
    const finish = () => { socket.close(); done(seen); };
    const timer = setTimeout(finish, 5000);
    socket.onopen = () => { seen.opened = true; commands.forEach((c) => socket.send(c)); };
    socket.onmessage = (event) => {
      seen.frames.push(event.data);
      if (/"topic":"md\\+|waiting for session/.test(event.data)) { clearTimeout(timer); finish(); }
    };
    socket.onclose = (event) => { seen.closed = event.code; clearTimeout(timer); done(seen); };
  });
  out.sockets.portal = await listen(ws + "/v1/portal/ws",
      ['s+md+265598+{"fields":"31,84,86"}', `s+realtime-account-data+${account}`]);
  out.sockets.api = await listen(ws + "/v1/api/ws", ["smd+265598+{\\"fields\\":[\\"31\\"]}"]);
  await blind("/tickgate/session/close", "", base);
  await blind("/logout", "");
  return out;
}"""


@pytest.fixture
async def attacker() -> AsyncIterator[str]:
    """The attacker's site: a blank page on another local port. Yields its origin."""

    async def blank(_request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>win a prize</title><body></body>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/", blank)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def attack(page: Page, attacker: str, server: RunningServer) -> dict[str, Any]:
    await page.goto(attacker + "/")
    result = await page.evaluate(
        ATTACK,
        {"base": server.base_url, "ws": server.ws_base, "account": ACCT},
    )
    assert isinstance(result, dict)
    return result


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused ")]


async def test_a_page_of_another_origin_can_neither_trade_nor_read(
    page: Page,
    attacker: str,
    start: StartServer,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = await start()
    with caplog.at_level(logging.WARNING, "tickgate.access"):
        result = await attack(page, attacker, server)
    gateway = server.gateway
    # Nothing happened: no order, questions still asked, session primed by nobody, still
    # logged in, the market still open, no socket ever upgraded.
    assert gateway.trading.views.todays_orders() == []
    assert gateway.session.authenticated and not gateway.session.primed
    assert gateway.simulator is not None and gateway.simulator.session_open
    assert gateway.connections == set()
    # Nothing was read.
    assert result["read"].startswith("blocked"), result["read"]
    for socket in result["sockets"].values():
        assert socket["opened"] is False and socket["frames"] == [], socket
    # Each attempt reached the gateway and was refused there, not merely hidden by the browser.
    refused = refusals(caplog)
    for what in (
        "GET /v1/api/iserver/accounts",
        "POST /v1/api/iserver/questions/suppress",
        f"POST /v1/api/iserver/account/{ACCT}/orders",
        "GET /v1/api/iserver/account/orders",
        "GET /v1/portal/ws",
        "GET /v1/api/ws",
        "POST /tickgate/session/close",
        "POST /v1/api/logout",
    ):
        assert any(line.startswith(f"refused {what} ") for line in refused), (what, refused)
    orders = [line for line in refused if f"/iserver/account/{ACCT}/orders" in line]
    assert len(orders) == 2  # the fetch and the form
    # The suppression did not take: a market order from a script is still asked about.
    question = await call(
        http,
        "POST",
        server.base_url + f"/v1/api/iserver/account/{ACCT}/orders",
        json={"orders": [MKT]},
    )
    assert question[0]["messageIds"] == ["o10151"]


async def test_the_same_page_trades_and_reads_once_its_origin_is_allowed(
    page: Page, attacker: str, start: StartServer
) -> None:
    # The control: the origin check is the only thing between this script and the account.
    server = await start(allow_origin=(attacker,))
    result = await attack(page, attacker, server)
    # Both market orders filled without a question (the suppression took), and were read.
    rows = orjson.loads(result["read"])["orders"]
    assert sorted((r["totalSize"], r["status"]) for r in rows) == [(3, "Filled"), (4, "Filled")]
    assert any('"topic":"md+265598"' in f for f in result["sockets"]["portal"]["frames"])
    assert result["sockets"]["api"]["opened"] is True
    assert server.gateway.session.authenticated is False
