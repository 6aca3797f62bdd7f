"""Instruments only the upstream knows: a real upstream tickgate whose catalogue has a stock and
an option chain the relay's lacks. Contract lookups, snapshots and history of them come from
the upstream (cached), and once looked up they stream on both dialects, answer snapshots from
the relay's own store and trade on paper against their relayed quotes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import SERVER_EPOCH_NS, StartServer, call
from tests.server.test_rest_orders import place_confirmed
from tests.sources.relay.test_relay import (
    Connect,
    api_socket,
    md,
    portal_socket,
    relay_status,
    smd,
    until,
)

from tickgate.model.ticks import Tick
from tickgate.server.app import RunningServer
from tickgate.server.relay_lookups import RELAY_LOOKUPS

pytestmark = pytest.mark.timeout(60)

ZETA, ZETA_CALL, ZETA_PUT = 990_001, 990_002, 990_003
#: The upstream's extra instruments: a stock the relay's catalogue lacks and two options on it.
UPSTREAM_CATALOGUE = f"""\
conid,symbol,name,sec_type,reference_price,listing_exchange,underlying_conid,expiry,strike,right
{ZETA},ZETA,ZETA QUANTUM CORP,STK,42.00,NASDAQ,,,,
{ZETA_CALL},ZETA,ZETA QUANTUM CORP,OPT,1.50,,{ZETA},20271217,45,C
{ZETA_PUT},ZETA,ZETA QUANTUM CORP,OPT,2.10,,{ZETA},20271217,40,P
"""


async def upstream_and_relay(
    start: StartServer, tmp_path: Path, **relay: Any
) -> tuple[RunningServer, RunningServer]:
    extra = tmp_path / "upstream.csv"
    extra.write_text(UPSTREAM_CATALOGUE)
    upstream = await start(catalogue=extra)
    downstream = await start(source="relay", upstream=upstream.base_url, **relay)
    await until(lambda: relay_status(downstream)["authenticated"])
    assert downstream.gateway.catalogue.find(ZETA) is None
    return upstream, downstream


def api(server: RunningServer) -> str:
    return server.base_url + "/v1/api"


async def test_a_search_finds_what_only_the_upstream_knows_and_teaches_the_catalogue(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    rows = await call(http, "GET", api(relay) + "/iserver/secdef/search?symbol=ZETA")
    assert rows == await call(http, "GET", api(upstream) + "/iserver/secdef/search?symbol=ZETA")
    assert [row["conid"] for row in rows] == [str(ZETA)]
    learnt = relay.gateway.catalogue.get(ZETA)
    assert (learnt.symbol, learnt.name, learnt.listing_exchange) == (
        "ZETA",
        "ZETA QUANTUM CORP",
        "NASDAQ",
    )
    # Now the relay's own routes answer it like a built-in instrument.
    info = await call(http, "GET", api(relay) + f"/iserver/contract/{ZETA}/info")
    assert (info["con_id"], info["symbol"]) == (ZETA, "ZETA")
    stocks = await call(http, "GET", api(relay) + "/trsrv/stocks?symbols=ZETA,AAPL")
    assert stocks["ZETA"][0]["contracts"][0]["conid"] == ZETA
    assert stocks["AAPL"][0]["contracts"][0]["conid"] == 265598  # the relay's own


async def test_secdef_and_option_chains_of_upstream_instruments(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    # An option's definition brings its underlying along.
    answer = await call(http, "GET", api(relay) + f"/trsrv/secdef?conids={ZETA_CALL}")
    ((row,),) = [answer["secdef"]]
    assert (row["conid"], row["assetClass"], row["undConid"]) == (ZETA_CALL, "OPT", ZETA)
    call_option = relay.gateway.catalogue.get(ZETA_CALL)
    assert (call_option.underlying_conid, call_option.strike, call_option.expiry) == (
        ZETA,
        45,
        "20271217",
    )
    assert relay.gateway.catalogue.find(ZETA) is not None
    # The chain the relay's catalogue does not list is the upstream's.
    query = f"?conid={ZETA}&sectype=OPT&month=DEC27"
    strikes = await call(http, "GET", api(relay) + "/iserver/secdef/strikes" + query)
    assert strikes == await call(http, "GET", api(upstream) + "/iserver/secdef/strikes" + query)
    assert strikes == {"call": [45.0], "put": [40.0]}
    rows = await call(http, "GET", api(relay) + "/iserver/secdef/info" + query)
    assert sorted(r["conid"] for r in rows) == [ZETA_CALL, ZETA_PUT]
    assert relay.gateway.catalogue.find(ZETA_PUT) is not None  # learnt from the chain
    # Unknown upstream too: the relay says so as for any unknown conid.
    error = await call(http, "GET", api(relay) + "/trsrv/secdef?conids=123456789", status=400)
    assert "Invalid conid 123456789" in error["error"]


async def test_upstream_instruments_stream_on_both_dialects_and_trade_on_paper(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    await call(http, "GET", api(relay) + f"/iserver/contract/{ZETA}/info")  # looked up first
    await call(http, "POST", upstream.base_url + f"/tickgate/market/{ZETA}/halt")
    client = await api_socket(relay, http, ws_connect)
    portal = await portal_socket(relay, http, ws_connect)
    await client.send(f'smd+{ZETA}+{{"fields":["31","84","85","86","88"]}}')
    await portal.send(f's+md+{ZETA}+{{"fields":"31,84,86"}}')
    await client.recv_until(smd(ZETA))
    await until(lambda: upstream.gateway.hub.interest(ZETA) == (31, 84, 85, 86, 88))
    quote = {31: "42.10", 84: "42.05", 85: "300", 86: "42.15", 88: "400"}
    upstream.gateway.bus.publish(Tick(ZETA, quote, SERVER_EPOCH_NS))
    await client.recv_until(lambda f: smd(ZETA)(f) and f.get("31") == "42.10")
    await portal.recv_until(lambda f: md(ZETA)(f) and f.get("31") == 42.1)  # a number there

    # A REST snapshot of a relayed conid comes from the relay's own latest-value store.
    snapshot_url = api(relay) + f"/iserver/marketdata/snapshot?conids={ZETA}&fields=31,84,86"
    await call(http, "GET", snapshot_url)  # the pre-flight
    (row,) = await call(http, "GET", snapshot_url)
    assert (row["31"], row["84"], row["86"]) == ("42.10", "42.05", "42.15")

    ack = await place_confirmed(
        http,
        api(relay),
        {"conid": ZETA, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"},
    )
    trades = await call(http, "GET", api(relay) + "/iserver/account/trades?days=1")
    assert [(int(t["conid"]), t["price"]) for t in trades] == [(ZETA, "42.15")]
    assert ack[0]["order_id"]
    upstream_orders = await call(http, "GET", api(upstream) + "/iserver/account/orders?force=True")
    assert upstream_orders["orders"] == []


async def test_snapshots_and_history_of_unstreamed_upstream_instruments_are_the_upstreams(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    await call(http, "POST", upstream.base_url + f"/tickgate/market/{ZETA}/halt")
    upstream.gateway.bus.publish(Tick(ZETA, {31: "43.21"}, SERVER_EPOCH_NS))
    await until(lambda: upstream.gateway.market.snapshot(ZETA, (31,)) == {31: "43.21"})
    await call(http, "GET", api(relay) + "/iserver/accounts")  # primes the relay's session
    url = f"/iserver/marketdata/snapshot?conids={ZETA}&fields=31"
    # Nobody streams ZETA through the relay: the row is the upstream's, whose first answer
    # is its own pre-flight; the relay caches each answer for a second.
    async with asyncio.timeout(10):
        while "31" not in (row := (await call(http, "GET", api(relay) + url))[0]):
            await asyncio.sleep(0.1)
    assert row["31"] == "43.21" and relay.gateway.catalogue.find(ZETA) is not None

    query = f"?conid={ZETA}&period=2d&bar=1h"
    bars = await call(http, "GET", api(relay) + "/iserver/marketdata/history" + query)
    direct = await call(http, "GET", api(upstream) + "/iserver/marketdata/history" + query)
    # The same bars (the last one may have grown between the two calls).
    assert bars["data"][:-1] == direct["data"][:-1] and bars["symbol"] == "ZETA"
    assert ZETA in relay.runner.app[RELAY_LOOKUPS].learnt


async def test_a_conid_streamed_without_a_lookup_is_learnt_first(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    client = await api_socket(relay, http, ws_connect)
    portal = await portal_socket(relay, http, ws_connect)
    # A bot that knows its conids streams them straight away, on either dialect.
    await client.send(f'smd+{ZETA_PUT}+{{"fields":["31"]}}')
    await portal.send(f's+md+{ZETA}+{{"fields":"31"}}')
    await portal.send("s+md+123456789")  # known nowhere: refused as on any gateway
    await client.recv_until(smd(ZETA_PUT))
    assert relay.gateway.catalogue.get(ZETA_PUT).underlying_conid == ZETA
    await until(lambda: upstream.gateway.hub.interest(ZETA) == (31,))
    error = await portal.recv_until(lambda f: "error" in f)
    assert error == {"topic": "md+123456789", "error": "Invalid conid 123456789"}
    await until(lambda: upstream.gateway.hub.interest(ZETA_PUT) == (31,))


async def test_one_conid_the_upstream_does_not_know_does_not_hide_the_others(
    start: StartServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    _, relay = await upstream_and_relay(start, tmp_path)
    url = api(relay) + f"/trsrv/secdef?conids={ZETA_PUT},123456789"
    error = await call(http, "GET", url, status=400)  # the relay's own answer, as ever
    assert error["error"] == "Invalid conid 123456789"
    assert relay.gateway.catalogue.get(ZETA_PUT).underlying_conid == ZETA  # learnt regardless


async def test_smh_history_of_an_upstream_instrument_is_the_upstreams(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    client = await api_socket(relay, http, ws_connect)
    # Never looked up before: the smh itself has the relay learn ZETA, then ask the upstream.
    await client.send(f'smh+{ZETA}+{{"period":"2d","bar":"1h","outsideRth":true}}')
    frame = await client.recv_until(lambda f: f.get("topic") == f"smh+{ZETA}", timeout=30)
    query = f"?conid={ZETA}&period=2d&bar=1h&outsideRth=true"
    direct = await call(http, "GET", api(upstream) + "/iserver/marketdata/history" + query)
    # The upstream's bars (its last one may have grown since the relay asked).
    assert len(frame["data"]) > 2 and frame["data"][:-1] == direct["data"][:-1]
    assert frame["symbol"] == "ZETA" and ZETA in relay.runner.app[RELAY_LOOKUPS].learnt
    # Not what the relay's own history would have invented for the instrument it learnt.
    relay.gateway.history.lend_from(None)
    own = relay.gateway.history.bars(ZETA, period="2d", bar="1h", outside_rth=True)
    assert [float(b.close) for b in own][:-1] != [p["c"] for p in frame["data"]][:-1]


async def test_an_upstream_refusing_smh_history_is_told_in_its_words(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect, tmp_path: Path
) -> None:
    upstream, relay = await upstream_and_relay(start, tmp_path)
    await call(http, "GET", api(relay) + f"/iserver/contract/{ZETA}/info")  # learnt
    fault = {"path": "/iserver/marketdata/history", "status": 503, "seconds": 60}
    await call(http, "POST", upstream.base_url + "/tickgate/faults/rest", json=fault)
    client = await api_socket(relay, http, ws_connect)
    await client.send(f'smh+{ZETA}+{{"period":"1d","bar":"5min"}}')
    error = await client.recv_until(lambda f: "error" in f, timeout=30)
    assert (error["topic"], error["request"]) == ("error", f"smh+{ZETA}")
    assert error["error"].startswith(f"upstream {upstream.base_url} answered 503")
