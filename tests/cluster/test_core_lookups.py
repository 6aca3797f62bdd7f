"""Contract lookups on an edge for instruments only the core knows: a relay core whose upstream
has instruments the cluster's catalogue lacks, on a real nats-server with a real upstream
gateway. The edge asks the core, then serves them like its own; a core that cannot be asked
is a 503 JSON at once or after the lookup's timeout, never a hang."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from tests.cluster.conftest import Member, StartMember
from tests.cluster.test_catalogue_sync import Connect
from tests.cluster.test_roles import md_frames, portal_stream
from tests.conftest import StartServer, call
from tests.sources.relay.test_relay import relay_status, until
from tests.sources.relay.test_upstream_instruments import (
    UPSTREAM_CATALOGUE,
    ZETA,
    ZETA_CALL,
    ZETA_PUT,
)

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.server.cluster.catalogue_sync import FIND_TIMEOUT_S
from tickgate.server.relay_lookups import RELAY_LOOKUPS

pytestmark = pytest.mark.timeout(120)

NOBODY = 987_654  # a conid neither the cluster nor the upstream knows


async def relay_cluster(
    start: StartServer, start_member: StartMember, tmp_path: Path
) -> tuple[str, Member, Member]:
    """An upstream gateway with the ZETA instruments, a relay core in front of it and an edge
    (members share their settings); neither member knows ZETA yet."""
    extra = tmp_path / "upstream.csv"
    extra.write_text(UPSTREAM_CATALOGUE)
    upstream = await start(catalogue=extra)
    core = await start_member("core", source="relay", upstream=upstream.base_url)
    edge = await start_member("edge", source="relay", upstream=upstream.base_url)
    await until(lambda: relay_status(core.server)["authenticated"])
    for member in (core, edge):
        assert member.server.gateway.catalogue.find(ZETA) is None
    return upstream.base_url + "/v1/api", core, edge


def api(member: Member) -> str:
    return member.base_url + "/v1/api"


async def test_a_search_on_an_edge_finds_what_only_the_cores_upstream_knows(
    start: StartServer, start_member: StartMember, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    upstream, core, edge = await relay_cluster(start, start_member, tmp_path)
    rows = await call(http, "GET", api(edge) + "/iserver/secdef/search?symbol=ZETA")
    assert rows == await call(http, "GET", upstream + "/iserver/secdef/search?symbol=ZETA")
    assert [row["conid"] for row in rows] == [str(ZETA)]
    # Learnt by the core from its upstream, and here before the search answered.
    assert ZETA in core.server.runner.app[RELAY_LOOKUPS].learnt
    assert edge.server.gateway.catalogue.get(ZETA) == core.server.gateway.catalogue.get(ZETA)
    info = await call(http, "GET", api(edge) + f"/iserver/contract/{ZETA}/info")
    assert (info["con_id"], info["symbol"]) == (ZETA, "ZETA")
    # What neither knows is still an empty search.
    assert await call(http, "GET", api(edge) + "/iserver/secdef/search?symbol=QQQZZ") == []


async def test_conid_lookups_on_an_edge_ask_the_core_and_answer_like_its_own(
    start: StartServer, start_member: StartMember, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    _, core, edge = await relay_cluster(start, start_member, tmp_path)
    info = await call(http, "GET", api(edge) + f"/iserver/contract/{ZETA_CALL}/info")
    assert info["con_id"] == ZETA_CALL
    catalogue = edge.server.gateway.catalogue
    assert catalogue.get(ZETA_CALL).underlying_conid == ZETA and ZETA in catalogue
    secdef = await call(http, "GET", api(edge) + f"/trsrv/secdef?conids={ZETA_PUT}")
    assert [row["conid"] for row in secdef["secdef"]] == [ZETA_PUT]
    # The same answers the core gives for them.
    assert secdef == await call(http, "GET", api(core) + f"/trsrv/secdef?conids={ZETA_PUT}")
    # A conid nobody knows is answered as one gateway answers it.
    async with http.get(api(core) + f"/iserver/contract/{NOBODY}/info") as on_core:
        expected = on_core.status, await on_core.json()
    async with http.get(api(edge) + f"/iserver/contract/{NOBODY}/info") as on_edge:
        assert (on_edge.status, await on_edge.json()) == expected


async def test_a_stream_on_an_edge_of_a_conid_only_the_core_knows_gets_values(
    start: StartServer,
    start_member: StartMember,
    http: aiohttp.ClientSession,
    ws_connect: Connect,
    tmp_path: Path,
) -> None:
    _, _, edge = await relay_cluster(start, start_member, tmp_path)
    ws = await portal_stream(edge, http, ws_connect, ZETA, "31,84,86")
    (frame,) = await md_frames(ws, ZETA, 1)
    assert float(frame["31"]) > 0, frame
    assert ZETA in edge.server.gateway.catalogue


async def test_without_a_core_an_unknown_conid_on_an_edge_is_a_503_at_once(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    await core.stop()
    for path in (f"/iserver/contract/{NOBODY}/info", f"/trsrv/secdef?conids={NOBODY}"):
        async with http.get(api(edge) + path) as response:
            body = await response.json()
            assert response.status == 503, body
            assert "no core is serving this cluster" in body["error"]
            assert str(NOBODY) in body["error"]
    # What the edge knows itself is still answered.
    info = await call(http, "GET", api(edge) + "/iserver/contract/265598/info")
    assert info["con_id"] == 265598


async def test_a_core_that_does_not_answer_a_lookup_is_a_503_after_the_timeout(
    start_member: StartMember, http: aiohttp.ClientSession, nats: NatsServerProcess
) -> None:
    core = await start_member("core")
    edge = await start_member("edge")
    await core.stop()
    # Someone listens on the lookup's subject and never answers (a core stuck mid-request).
    mute = await NatsBus.connect(
        NatsOptions(nats.url), prefix=edge.membership.prefix, subscribe_all=False
    )
    await mute.client.subscribe(f"{mute.prefix}.catalogue.find")
    await mute.round_trip()
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with http.get(api(edge) + f"/iserver/contract/{NOBODY}/info") as response:
            body = await response.json()
        assert response.status == 503, body
        assert f"did not look it up within {FIND_TIMEOUT_S:g} s" in body["error"]
        assert loop.time() - began >= FIND_TIMEOUT_S
    finally:
        await mute.close()
