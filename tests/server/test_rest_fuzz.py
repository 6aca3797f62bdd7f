"""Hypothesis over every REST body, path id and query parameter, against a real server.

Each example is a short sequence of requests mixing plausible and hostile values (numbers far
out of range, other scripts' digits, wrong JSON types, huge strings, broken JSON). Every answer
must be below 500 (save the reference's 503 for a stale reply id) and every 4xx a JSON
`{"error": ...}`. Afterwards: no log record is an error or has a traceback, every acknowledged
order is in the order list and in the store, positions are the sum of their fills, market data
still streams and a market order still fills, and a restart on the same store rebuilds the same
orders. The examples are drawn from a fixed seed (`derandomize`), so CI runs the same requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import StartServer, WsClient, call
from yarl import URL

from tickgate.server.app import RunningServer
from tickgate.trading.events import OrderAccepted, OrderFilled, OrderUpdated

ACCT = "DU1234567"
CONIDS = (265598, 8314, 756733, 12087792)
EXAMPLES = 400

tricky_text = st.sampled_from(
    [
        "1e999999",
        "-1e999999",
        "1e-999999",
        "1e26",
        "NaN",
        "sNaN",
        "Infinity",
        "²",
        "١",
        "٢٦٥٥٩٨",
        "２６５５９８",
        "265_598",
        " 5 ",
        "0x10",
        "-1",
        "0",
        "",
        "true",
        "false",
        "no",
        "%",
        "amt",
        "\u3000BUY",
        "BUY\x00",
        "x" * 5000,
        "1" * 4400,
        "{}",
        "[]",
        "null",
    ]
)
#: Stands for a list nested 1,000 deep (orjson reads 1,024 levels): written into the body text
#: as such, since Python's own `repr` and JSON encoder give up near that depth.
DEEP = "<deep>"
DEEP_JSON = "[" * 1000 + "]" * 1000
json_values = st.recursive(
    st.none()
    | st.just(DEEP)
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
numbers = (
    st.integers(min_value=-10, max_value=10**6)
    | st.decimals(min_value=-1, max_value=10**4, places=2, allow_nan=False).map(str)
    | st.floats(min_value=-1e30, max_value=1e30)
    | tricky_text
    | json_values
)


def one_of_or_garbage(*choices: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(choices) | json_values


order_fields = st.fixed_dictionaries(
    {},
    optional={
        "conid": one_of_or_garbage(*CONIDS, str(CONIDS[0]), 1),
        "side": one_of_or_garbage("BUY", "SELL", "sell", "HOLD"),
        "orderType": one_of_or_garbage(
            "MKT", "LMT", "STP", "STOP_LIMIT", "TRAIL", "TRAILLMT", "MOC", "LOC", "LIMIT"
        ),
        "quantity": numbers,
        "price": numbers,
        "auxPrice": numbers,
        "trailingAmt": numbers,
        "trailingType": one_of_or_garbage("amt", "%"),
        "tif": one_of_or_garbage("DAY", "GTC", "IOC", "OPG"),
        "cOID": st.text(max_size=10) | json_values,
        "parentId": one_of_or_garbage("1000000001", 1_000_000_001) | st.text(max_size=10),
        "outsideRTH": json_values,
        "cashQty": numbers,
    },
)
#: Orders with every required field sound, so that many are accepted; extras may be hostile.
sound_orders = st.fixed_dictionaries(
    {
        "conid": st.sampled_from(CONIDS),
        "side": st.sampled_from(["BUY", "SELL"]),
        "orderType": st.sampled_from(["MKT", "LMT", "STP", "TRAIL", "TRAILLMT", "MOC"]),
        "quantity": st.integers(min_value=1, max_value=30),
        "price": st.decimals(min_value=1, max_value=600, places=2).map(float),
        "trailingAmt": st.sampled_from([0.5, 1, "2.5", 3]),
    },
    optional={
        "trailingType": st.sampled_from(["amt", "%"]),
        "tif": st.sampled_from(["DAY", "GTC", "IOC"]),
        "cOID": st.text(max_size=6),
        "parentId": st.sampled_from(["last", "1000000001"]),
        "outsideRTH": st.booleans() | st.sampled_from(["true", "false"]),
        "auxPrice": st.decimals(min_value=1, max_value=600, places=2).map(str),
    },
)
path_ids = st.sampled_from(["last", "-1", "1000000001"]) | st.text(max_size=20) | tricky_text
accounts = st.sampled_from([ACCT, ACCT, "DU0"]) | st.text(min_size=1, max_size=10)
# Query strings stay short of aiohttp's 8,190-byte request line, which its HTTP parser (not a
# handler) refuses with a plain-text 400 before any route runs.
query_text = st.text(max_size=20) | tricky_text.filter(lambda t: len(t) <= 1000)


@dataclass(frozen=True)
class Call:
    """One request: `path` segments are raw text (quoted when sent), `json` is any JSON value,
    `raw` a body sent as is."""

    method: str
    path: tuple[str, ...]
    query: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    raw: bytes | None = None
    confirm: bool = False


def queries(**params: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=params)


def place(account: str, orders: Any, confirm: bool = False) -> Call:
    """A placement; with `confirm`, every question it raises is answered yes at once."""
    return Call("POST", ("iserver", "account", account, "orders"), json={"orders": orders},
                confirm=confirm)  # fmt: skip


def calls() -> st.SearchStrategy[Call]:
    """Every REST route that takes input, with plausible and hostile input."""
    order_list = st.lists(order_fields, min_size=1, max_size=3)
    sound_lists = st.lists(sound_orders, min_size=1, max_size=2)
    body = st.dictionaries(st.text(max_size=8), json_values, max_size=3)
    raw_bodies = st.sampled_from(
        [b"{", b"[" * 2000 + b"]" * 2000, b"\xff\xfe", b'{"orders": "x"}', b"null", b"[]"]
    )
    by_route: list[st.SearchStrategy[Call]] = [
        st.builds(place, accounts, order_list | json_values),
        st.builds(place, st.just(ACCT), order_list),
        st.builds(place, st.just(ACCT), sound_lists, st.just(True)),
        st.builds(place, st.just(ACCT), sound_lists),
        st.builds(lambda a, r: Call("POST", ("iserver", "account", a, "orders"), raw=r),
                  accounts, raw_bodies),
        st.builds(lambda a, i, o: Call("POST", ("iserver", "account", a, "order", i), json=o),
                  accounts, path_ids, order_fields | json_values),
        st.builds(lambda a, i: Call("DELETE", ("iserver", "account", a, "order", i)),
                  accounts, path_ids),
        st.builds(lambda i, c: Call("POST", ("iserver", "reply", i), json={"confirmed": c}),
                  st.just("question") | path_ids, st.booleans() | json_values),
        st.builds(lambda ids: Call("POST", ("iserver", "questions", "suppress"),
                                   json={"messageIds": ids}),
                  st.lists(st.sampled_from(["o163", "o10151", "o354"]) | st.text(max_size=8),
                           max_size=4) | json_values),
        st.just(Call("POST", ("iserver", "questions", "suppress", "reset"))),
        st.builds(lambda q: Call("GET", ("iserver", "account", "orders"), q),
                  queries(filters=query_text, force=query_text, accountId=query_text)),
        st.builds(lambda i: Call("GET", ("iserver", "account", "order", "status", i)), path_ids),
        st.builds(lambda q: Call("GET", ("iserver", "account", "trades"), q),
                  queries(days=query_text | st.integers(-3, 10).map(str), accountId=query_text)),
        st.just(Call("GET", ("iserver", "account", "pnl", "partitioned"))),
        st.builds(lambda b: Call("POST", ("iserver", "account"), json=b),
                  st.fixed_dictionaries({"acctId": one_of_or_garbage(ACCT)})),
        st.builds(lambda q: Call("GET", ("iserver", "marketdata", "snapshot"), q),
                  queries(conids=st.sampled_from(["265598", "265598,8314"]) | query_text,
                          fields=st.sampled_from(["31,84,86", "31"]) | query_text)),
        st.builds(lambda q: Call("GET", ("iserver", "marketdata", "history"), q),
                  queries(conid=st.sampled_from(["265598"]) | query_text,
                          period=st.sampled_from(["1d", "2h", "1w"]) | query_text,
                          bar=st.sampled_from(["5min", "1h"]) | query_text,
                          startTime=st.sampled_from(["20260101-15:00:00"]) | query_text,
                          outsideRth=query_text, source=query_text)),
        st.builds(lambda b: Call("POST", ("iserver", "marketdata", "unsubscribe"), json=b),
                  st.fixed_dictionaries({"conid": one_of_or_garbage(*CONIDS)}) | body),
        st.builds(lambda c: Call("GET", ("iserver", "marketdata", c, "unsubscribe")), path_ids),
        st.builds(lambda b: Call("POST", ("iserver", "secdef", "search"), json=b),
                  st.fixed_dictionaries({}, optional={"symbol": one_of_or_garbage("AAPL", "ES"),
                                                      "name": json_values,
                                                      "secType": one_of_or_garbage("STK", "OPT")})),
        st.builds(lambda q: Call("GET", ("iserver", "secdef", "search"), q),
                  queries(symbol=query_text, name=query_text, secType=query_text)),
        st.builds(lambda p, q: Call("GET", ("iserver", "secdef", p), q),
                  st.sampled_from(["strikes", "info"]),
                  queries(conid=st.sampled_from(["265598", "756733"]) | query_text,
                          sectype=st.sampled_from(["OPT", "FUT", "STK"]) | query_text,
                          month=query_text, strike=query_text, right=query_text)),
        st.builds(lambda q: Call("GET", ("trsrv", "secdef"), q), queries(conids=query_text)),
        st.builds(lambda b: Call("POST", ("trsrv", "secdef"), json=b),
                  st.fixed_dictionaries({"conids": json_values})),
        st.builds(lambda p, q: Call("GET", ("trsrv", p), q),
                  st.sampled_from(["futures", "stocks"]), queries(symbols=query_text)),
        st.builds(lambda a, p: Call("GET", ("portfolio", a, "positions", p)), accounts, path_ids),
        st.builds(lambda a, c: Call("GET", ("portfolio", a, "position", c)), accounts, path_ids),
        st.builds(lambda a, p: Call("GET", ("portfolio", a, p)), accounts,
                  st.sampled_from(["summary", "ledger", "allocation"])),
    ]  # fmt: skip
    return st.one_of(by_route)


@dataclass
class Outcome:
    """What the fuzz saw: acknowledged order ids, the latest ids to refer to, status counts."""

    accepted: set[int] = field(default_factory=set)
    last_order: str = "1000000001"
    last_question: str = "none"
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def body_bytes(value: Any) -> bytes | None:
    """`value` as JSON text, `DEEP` written out; the stdlib's encoder, unlike orjson's, writes
    integers beyond 64 bits."""
    if value is None:
        return None
    return json.dumps(value).replace(f'"{DEEP}"', DEEP_JSON).encode()


def parent_is_last(order: Any, last_order: str) -> Any:
    """`order` with a `parentId` of "last" pointing at the latest acknowledged order."""
    if isinstance(order, dict) and order.get("parentId") == "last":
        return {**order, "parentId": last_order}
    return order


async def send(
    http: aiohttp.ClientSession, server: RunningServer, item: Call, seen: Outcome
) -> None:
    """Send `item` (and its confirmations) and check the answers' shape; remember ids."""
    if isinstance(item.json, dict) and isinstance(item.json.get("orders"), list):
        orders = [parent_is_last(o, seen.last_order) for o in item.json["orders"]]
        item = dataclasses.replace(item, json={"orders": orders})
    question = await send_one(http, server, item, seen)
    for _ in range(3 if item.confirm else 0):
        if question is None:
            return
        reply = Call("POST", ("iserver", "reply", question), json={"confirmed": True})
        question = await send_one(http, server, reply, seen)


async def send_one(
    http: aiohttp.ClientSession, server: RunningServer, item: Call, seen: Outcome
) -> str | None:
    """Send `item`, check the answer's shape, remember ids; the id of a question asked."""
    segments = [seen.last_order if s == "last" else s for s in item.path]
    if item.path[:2] == ("iserver", "reply") and segments[2] == "question":
        segments[2] = seen.last_question
    path = "/".join(urllib.parse.quote(s, safe="") for s in segments)
    query = urllib.parse.urlencode({k: str(v) for k, v in item.query.items()})
    url = URL(f"{server.base_url}/v1/api/{path}" + (f"?{query}" if query else ""), encoded=True)
    data = item.raw if item.raw is not None else body_bytes(item.json)
    async with http.request(item.method, url, data=data) as response:
        text = await response.text(errors="replace")
        status = response.status
    seen.statuses[status] += 1
    stale_reply = status == 503 and segments[:2] == ["iserver", "reply"]
    assert status < 500 or stale_reply, (item, status, text[:300])
    body = orjson.loads(text)
    if status >= 400:
        assert isinstance(body, dict) and isinstance(body.get("error"), str), (item, text[:300])
        return None
    question = None
    for row in body if isinstance(body, list) else []:
        if isinstance(row, dict) and "order_id" in row:
            seen.accepted.add(int(row["order_id"]))
            seen.last_order = str(row["order_id"])
        if isinstance(row, dict) and "messageIds" in row:
            seen.last_question = question = str(row["id"])
    return question


def fuzz_in_thread(
    loop: asyncio.AbstractEventLoop,
    http: aiohttp.ClientSession,
    server: RunningServer,
    seen: Outcome,
) -> None:
    """Run hypothesis in this worker thread; each request runs on the server's own loop."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(calls(), min_size=1, max_size=5))
    def run(items: list[Call]) -> None:
        for item in items:
            asyncio.run_coroutine_threadsafe(send(http, server, item, seen), loop).result(30)

    run()


async def market_still_works(
    server: RunningServer, http: aiohttp.ClientSession, ws: WsClient
) -> None:
    base = server.base_url + "/v1/api"
    await call(http, "GET", f"{base}/iserver/accounts")
    for conid in CONIDS[:2]:
        await ws.send(f's+md+{conid}+{{"fields":"31,84,86"}}')
        for _ in range(5):
            await ws.recv_until(lambda f, c=conid: f.get("topic") == f"md+{c}", 5)  # type: ignore[misc]
    await call(http, "POST", f"{base}/iserver/questions/suppress", json={"messageIds": ["o10151"]})
    order = {"conid": CONIDS[0], "side": "BUY", "orderType": "MKT", "quantity": 1}
    ack = await call(
        http, "POST", f"{base}/iserver/account/{ACCT}/orders", json={"orders": [order]}
    )
    assert ack[0]["order_status"] == "Filled", ack


def stored_orders(server: RunningServer) -> dict[int, Any]:
    """The latest snapshot of every order, read back from the store."""
    orders: dict[int, Any] = {}
    for event in server.gateway.trading.store.replay():
        if isinstance(event, OrderAccepted | OrderUpdated | OrderFilled):
            orders[event.order.order_id] = event.order
    return orders


@pytest.mark.timeout(180)
async def test_no_rest_input_hurts_the_gateway(
    start: StartServer,
    http: aiohttp.ClientSession,
    ws_connect: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tickgate")
    server = await start(ticks_per_second=2000.0)
    await call(http, "GET", server.base_url + "/v1/api/iserver/accounts")
    seen = Outcome()
    await asyncio.to_thread(fuzz_in_thread, asyncio.get_running_loop(), http, server, seen)

    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [r.getMessage() for r in bad][:5]
    print(
        dict(seen.statuses),
        len(seen.accepted),
        len(server.gateway.trading.state.fills),
    )
    assert seen.statuses[400] > EXAMPLES and seen.accepted, dict(seen.statuses)
    trading = server.gateway.trading
    listed = await call(http, "GET", server.base_url + "/v1/api/iserver/account/orders")
    assert seen.accepted <= {row["orderId"] for row in listed["orders"]}
    assert seen.accepted <= set(trading.state.orders)
    assert stored_orders(server) == trading.state.orders
    for account, portfolio in trading.state.portfolios.items():
        filled: dict[int, Decimal] = defaultdict(Decimal)
        for fill in trading.state.fills:
            if fill.account == account:
                filled[fill.conid] += fill.quantity * fill.side.sign
        held = {c: p.quantity for c, p in portfolio.positions.items() if p.quantity}
        assert held == {c: q for c, q in filled.items() if q}
    await market_still_works(server, http, await ws_connect(server.ws_base + "/v1/portal/ws"))

    before = dict(trading.state.orders)
    await server.stop()
    again = await start(ticks_per_second=2000.0)
    rebuilt = again.gateway.trading.state.orders
    assert set(rebuilt) == set(before)  # working ones may have filled meanwhile
    assert all(rebuilt[i] == o for i, o in before.items() if not o.is_working)
    await market_still_works(again, http, await ws_connect(again.ws_base + "/v1/portal/ws"))
