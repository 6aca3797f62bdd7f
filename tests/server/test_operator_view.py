"""`GET /tickgate/connections` over a real server with real WebSocket clients of both dialects."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from tests.conftest import StartServer, WsClient, call

from tickgate.dialects import api
from tickgate.server.app import RunningServer
from tickgate.server.operator_view import MAX_CONNECTIONS, topic_name

AAPL = 265598
SPY = 756733
ACCT = "DU1234567"
EVIL = "http://127.0.0.1:1"  # another origin on the same machine
Connect = Callable[..., Awaitable[WsClient]]


async def connections(http: aiohttp.ClientSession, server: RunningServer, **query: Any) -> Any:
    return await call(http, "GET", server.base_url + "/tickgate/connections", params=query)


async def until(
    http: aiohttp.ClientSession,
    server: RunningServer,
    ready: Callable[[Any], bool],
    timeout: float = 10.0,
) -> Any:
    """The first answer for which `ready` holds: a client's command and the server's handling
    of it are not ordered with this request, so poll (bounded) instead of sleeping."""
    async with asyncio.timeout(timeout):
        while True:
            answer = await connections(http, server)
            if ready(answer):
                return answer
            await asyncio.sleep(0.02)


def by_dialect(answer: Any, dialect: str) -> dict[str, Any]:
    (row,) = [c for c in answer["connections"] if c["dialect"] == dialect]
    return row  # type: ignore[no-any-return]


async def open_api(
    server: RunningServer, http: aiohttp.ClientSession, connect: Connect
) -> WsClient:
    session = (await call(http, "POST", server.base_url + "/v1/api/tickle"))["session"]
    ws = await connect(
        server.ws_base + "/v1/api/ws", headers={"Cookie": f'api={{"session":"{session}"}}'}
    )
    await ws.recv_until(lambda f: f.get("topic") == "sts")
    return ws


async def test_both_dialects_show_their_streams_topics_and_outbox(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start()
    empty = await connections(http, server)
    assert (empty["total"], empty["shown"], empty["connections"]) == (0, 0, [])
    assert empty["source"]["name"] == "simulator" and empty["source"]["running"] is True

    before_ms = server.gateway.clock.now_ns() // 1_000_000
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    portal = await ws_connect(server.ws_base + "/v1/portal/ws")
    await portal.send(f's+md+{AAPL}+{{"tempo":500,"snapshot":true,"fields":"86,31,84"}}')
    await portal.send(f's+md+{SPY}+{{"fields":"31"}}')
    await portal.send(f"s+realtime-account-data+{ACCT}")
    current = await open_api(server, http, ws_connect)
    await current.send(f'smd+{AAPL}+{{"fields":["84","86"]}}')
    await current.send("sor+{}")

    answer = await until(
        http,
        server,
        lambda a: (
            a["total"] == 2
            and sum(c["marketDataLines"] for c in a["connections"]) == 3
            and sum(len(c["accountTopics"]) for c in a["connections"]) == 3
        ),
    )
    assert answer["shown"] == 2
    old = by_dialect(answer, "portal")
    assert old["path"] == "/v1/portal/ws" and old["peer"] == "127.0.0.1"
    assert old["marketData"] == [
        {"conid": AAPL, "fields": [31, 84, 86], "tempo": 500, "expiresInMs": None},
        {"conid": SPY, "fields": [31], "tempo": 0, "expiresInMs": None},
    ]
    assert old["accountTopics"] == [f"portal+{ACCT}"]
    new = by_dialect(answer, "api")
    # The api dialect streams at its fixed tempo (`api.TEMPO_MS`).
    assert [(s["conid"], s["fields"], s["tempo"]) for s in new["marketData"]] == [
        (AAPL, [84, 86], api.TEMPO_MS)
    ]
    # Every authenticated api connection gets the notices topic; `sor` is the one it asked for.
    assert new["accountTopics"] == ["notices", "sor"]
    assert new["id"].startswith("c-") and new["id"] != old["id"]
    for row in (old, new):
        assert isinstance(row["outboxBytes"], int) and row["outboxBytes"] >= 0
        assert isinstance(row["transportBytes"], int)
        assert row["framesSent"] >= 1 and row["bytesSent"] > 0
        assert isinstance(row["conflated"], int) and row["closing"] is False
        assert before_ms <= row["openedAt"] <= server.gateway.clock.now_ns() // 1_000_000
    # Two conids streamed to anyone: the session's lines, beside its limits.
    session = answer["session"]
    assert session["marketDataLines"] == 2
    assert session["marketDataLineLimit"] == server.gateway.config.md_lines

    await portal.send(f"u+md+{SPY}")
    await current.send(f"umd+{AAPL}+{{}}")
    after = await until(
        http, server, lambda a: sum(c["marketDataLines"] for c in a["connections"]) == 1
    )
    assert [s["conid"] for s in by_dialect(after, "portal")["marketData"]] == [AAPL]
    assert by_dialect(after, "api")["marketData"] == []

    await current.close()
    gone = await until(http, server, lambda a: a["total"] == 1)
    assert [c["dialect"] for c in gone["connections"]] == ["portal"]
    await portal.close()


async def test_the_list_is_capped_oldest_first_with_the_total_beside_it(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server = await start()
    clients = []
    for _ in range(3):
        clients.append(await ws_connect(server.ws_base + "/v1/portal/ws"))
        # Each connection registered before the next opens: their order is the opening order.
        count = len(clients)
        await until(http, server, lambda a, count=count: a["total"] == count)
    everything = await connections(http, server)
    two = await connections(http, server, limit="2")
    assert (two["total"], two["shown"]) == (3, 2)
    assert [c["id"] for c in two["connections"]] == [c["id"] for c in everything["connections"]][:2]
    for bad in ("0", str(MAX_CONNECTIONS + 1), "many"):
        answer = await call(
            http,
            "GET",
            server.base_url + "/tickgate/connections",
            params={"limit": bad},
            status=400,
        )
        assert "limit" in answer["error"]
    for client in clients:
        await client.close()


async def test_a_foreign_origin_is_refused_like_every_control_route(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(
        server.base_url + "/tickgate/connections", headers={"Origin": EVIL}
    ) as response:
        assert response.status == 403
        body = await response.json()
    assert body["error"].startswith(f"cross-origin request refused: Origin {EVIL}")


def test_topic_names_read_as_one_word() -> None:
    assert topic_name(("portal", ACCT)) == f"portal+{ACCT}"
    assert topic_name(("sor", ())) == "sor"
    assert topic_name(("ssd", ACCT, ("NetLiquidation",), ())) == f"ssd+{ACCT}+NetLiquidation"
    assert topic_name(("sor", ("filled", "submitted"))) == "sor+filled,submitted"
    assert topic_name("plain") == "plain"
