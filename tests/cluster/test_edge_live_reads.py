"""REST reads of current values on an edge (no subscription held) answer what the core, as
one gateway, answers: the edge follows the conids the route reads and waits for their image.
Over a real nats-server; the simulator is all but still (one tick per 1000 s) and the test
moves the values itself on the core, so the two answers must be equal."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from tests.cluster.conftest import Member, StartMember
from tests.conftest import call

from tickgate.market.fx import FxRates
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F

MSFT = 272093
STILL = 0.001  # ticks per second: none during a test


def move(core: Member, conid: int, bid: str, ask: str) -> None:
    """New values for `conid` on the core (as its source would publish them)."""
    gateway = core.server.gateway
    fields = {F.BID: bid, F.ASK: ask, F.LAST: ask}
    gateway.bus.publish(Tick(conid, fields, gateway.clock.now_ns()))


def fx_conid(core: Member, base: str, quote: str) -> int:
    rates = FxRates(core.server.gateway.catalogue, core.server.gateway.market)
    (pair,) = [p for p in rates.pairs if (p.base, p.quote) == (base, quote)]
    return pair.instrument.conid


async def both(http: aiohttp.ClientSession, core: Member, edge: Member, query: str) -> Any:
    """The answers of the core and of the edge to `query`, which must be equal (but for the
    time each member stamps its answer with)."""
    on_core = await call(http, "GET", core.base_url + query)
    on_edge = await call(http, "GET", edge.base_url + query)
    assert unstamped(on_edge) == unstamped(on_core)
    return on_edge


def unstamped(body: Any) -> Any:
    if isinstance(body, list):
        return [{k: v for k, v in row.items() if k != "_updated"} for row in body]
    return body


async def test_md_snapshot_on_an_edge_has_the_cores_current_values(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    core = await start_member("core", ticks_per_second=STILL)
    edge = await start_member("edge", ticks_per_second=STILL)
    move(core, MSFT, "401.10", "401.20")
    (row,) = await both(http, core, edge, f"/v1/api/md/snapshot?conids={MSFT}&fields=31,84,86")
    assert (row["84"], row["86"], row["31"]) == ("401.10", "401.20", "401.20")
    # The edge's /metrics says what it follows and that nothing waits for an image.
    metrics = await (await http.get(edge.base_url + "/metrics")).text()
    assert "tickgate_cluster_followed_conids 1.0" in metrics
    assert "tickgate_cluster_conids_awaiting_image 0.0" in metrics
    assert re.search(r"^tickgate_cluster_image_requests_total [1-9]", metrics, re.M)
    core_metrics = await (await http.get(core.base_url + "/metrics")).text()
    assert "tickgate_cluster_followed_conids" not in core_metrics


async def test_exchange_rates_on_an_edge_are_the_cores_current_rates(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    core = await start_member("core", ticks_per_second=STILL)
    edge = await start_member("edge", ticks_per_second=STILL)
    move(core, fx_conid(core, "GBP", "USD"), "1.33105", "1.33110")
    move(core, fx_conid(core, "EUR", "USD"), "1.16055", "1.16060")
    direct = await both(http, core, edge, "/v1/api/iserver/exchangerate?source=GBP&target=USD")
    assert direct["rate"] == 1.331075
    inverse = await both(http, core, edge, "/v1/api/iserver/exchangerate?source=USD&target=EUR")
    assert round(1 / inverse["rate"], 6) == 1.160575
    # A cross rate reads both pairs.
    await both(http, core, edge, "/v1/api/iserver/exchangerate?source=GBP&target=EUR")
