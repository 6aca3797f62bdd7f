"""`_updated` of `smd` frames on `/v1/api/ws` over a real socket: the time of the last change of
the conid's values, for the first frame of a subscription and the updates after it alike, so it
never goes backwards for one conid on one connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from tests.conftest import WsClient
from tests.server.fixed_market import FixedMarket, start_fixed
from tests.server.test_ws_api import Connect, authed

from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.server.app import RunningServer

AAPL = 265598
MS = 1_000_000


@pytest.fixture
async def fixed(tmp_path: Path) -> AsyncIterator[tuple[RunningServer, FixedMarket]]:
    market = FixedMarket({AAPL: ("199.98", "200.02", "200.00")})
    server = await start_fixed(tmp_path, market)
    yield server, market
    await server.stop()


async def smd_frame(ws: WsClient, wanted: str) -> dict[str, object]:
    return await ws.recv_until(lambda f: f.get("topic") == f"smd+{AAPL}" and wanted in f, 10)


async def test_updated_is_the_time_of_the_last_change_and_never_goes_back(
    fixed: tuple[RunningServer, FixedMarket], http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    server, market = fixed
    ws = await authed(server, http, ws_connect)
    await ws.send(f'smd+{AAPL}+{{"fields":["31","84"]}}')
    first = await smd_frame(ws, "84")
    # The quote was last changed when the fixed market published it, not when we asked.
    assert first["_updated"] == market.ts_ns // MS
    # A source stamps its ticks with their own time (here 1 ms after the first quote, well
    # before this frame was sent): the update is newer than the first frame, and says so.
    bus = server.gateway.bus
    bus.publish(Tick(AAPL, {F.BID: "199.97", F.LAST: "199.99"}, market.ts_ns + MS))
    update = await smd_frame(ws, "84")
    assert update["84"] == "199.97"
    assert update["_updated"] == market.ts_ns // MS + 1
    # Subscribing again answers with the same notion of time.
    await ws.send(f'smd+{AAPL}+{{"fields":["31","84","86"]}}')
    again = await smd_frame(ws, "86")
    assert again["_updated"] == update["_updated"]
    await ws.close()
