"""Instruments added to a catalogue at run time reach every member of a cluster: real members
on a real nats-server, the core's additions (an auto-instrument, a direct `Catalogue.add` as
a relay makes) and an edge's (an auto-instrument searched there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

import aiohttp
import pytest
from tests.cluster.conftest import Member, StartMember, wait_for
from tests.cluster.test_roles import md_frames, portal_stream
from tests.conftest import WsClient, call

from tickgate.market.catalogue.generated import generated_conid
from tickgate.model.instruments import Instrument, Right, SecType
from tickgate.server.cluster.catalogue_sync import (
    InstrumentWireError,
    decode_batch,
    decode_instrument,
    encode_batch,
    encode_instrument,
)

Connect = Callable[..., Awaitable[WsClient]]
ACME = Instrument(
    conid=90000001,
    symbol="ACME",
    name="ACME CORP",
    sec_type=SecType.STK,
    exchange="SMART",
    currency="USD",
    min_tick=Decimal("0.01"),
    reference_price=Decimal("42.00"),
    volatility=0.3,
    listing_exchange="NYSE",
    ticks_per_second=50.0,
    sector="Industrials",
)
ACME_CALL = replace(
    ACME,
    conid=90000003,
    name="ACME 45 CALL",
    sec_type=SecType.OPT,
    multiplier=100,
    underlying_conid=ACME.conid,
    expiry="20270319",
    strike=Decimal("45"),
    right=Right.CALL,
    reference_price=Decimal("1.80"),
    ticks_per_second=None,
    sector=None,
)


def test_instruments_travel_exactly() -> None:
    for instrument in (ACME, ACME_CALL):
        assert decode_instrument(encode_instrument(instrument)) == instrument
    assert decode_batch(encode_batch([ACME, ACME_CALL])) == [ACME, ACME_CALL]
    with pytest.raises(InstrumentWireError):
        decode_instrument({**encode_instrument(ACME), "sec_type": "BOND"})
    with pytest.raises(InstrumentWireError):
        decode_batch(b'{"conid": 1}')


async def search(http: aiohttp.ClientSession, member: Member, symbol: str) -> list[int]:
    found = await call(
        http, "GET", member.base_url + f"/v1/api/iserver/secdef/search?symbol={symbol}"
    )
    return [int(row["conid"]) for row in found]


async def streams(
    member: Member, http: aiohttp.ClientSession, ws_connect: Connect, conid: int
) -> None:
    """A client of `member` streams `conid` and gets values from the core's source."""
    ws = await portal_stream(member, http, ws_connect, conid, "31,84,86")
    (frame,) = await md_frames(ws, conid, 1)
    assert float(frame["31"]) > 0, frame


async def test_an_instrument_the_core_creates_reaches_running_and_later_edges(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core", auto_instruments=True)
    edge = await start_member("edge", auto_instruments=True)
    conid = generated_conid("ZQXW")
    assert conid not in edge.server.gateway.catalogue
    assert await search(http, core, "ZQXW") == [conid]
    await wait_for(lambda: conid in edge.server.gateway.catalogue)
    await streams(edge, http, ws_connect, conid)
    late = await start_member("edge")  # no auto-instruments of its own: it learns it
    await wait_for(lambda: conid in late.server.gateway.catalogue)
    assert late.server.gateway.catalogue.get(conid) == core.server.gateway.catalogue.get(conid)
    await streams(late, http, ws_connect, conid)


async def test_instruments_added_on_the_core_as_a_relay_adds_them_reach_edges(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    core.server.gateway.catalogue.add([ACME, ACME_CALL])
    catalogue = edge.server.gateway.catalogue
    await wait_for(lambda: ACME_CALL.conid in catalogue)
    assert catalogue.get(ACME.conid) == ACME and catalogue.get(ACME_CALL.conid) == ACME_CALL
    assert await search(http, edge, "ACME") == [ACME.conid]
    await streams(edge, http, ws_connect, ACME.conid)


async def test_an_instrument_an_edge_creates_is_the_cores_before_its_search_answers(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core", auto_instruments=True)
    edge = await start_member("edge", auto_instruments=True)
    other = await start_member("edge", auto_instruments=True)
    conid = generated_conid("QWXZ")
    assert await search(http, edge, "QWXZ") == [conid]
    assert conid in core.server.gateway.catalogue  # at once: the search waited for it
    await streams(edge, http, ws_connect, conid)
    await wait_for(lambda: conid in other.server.gateway.catalogue)
