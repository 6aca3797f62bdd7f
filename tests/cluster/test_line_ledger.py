"""The cluster's market-data lines, counted atomically in a JetStream key-value entry on a
real nats-server: members racing for the last line (ledgers on their own connections, and
real members' clients), release when a stream ends, and the lines of a member gone silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from tests.cluster.conftest import StartMember, wait_for
from tests.cluster.test_roles import AAPL, IBM, MSFT, md_frames, portal_stream
from tests.conftest import WsClient

from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess
from tickgate.server.cluster.compose import LINE_LEDGER
from tickgate.server.cluster.line_ledger import LineLedger

Connect = Callable[..., Awaitable[WsClient]]
OpenLedger = Callable[..., Awaitable[LineLedger]]


@pytest.fixture
async def open_ledger(nats: NatsServerProcess) -> AsyncIterator[OpenLedger]:
    """Ledgers of cluster `race`, each on a NATS connection of its own."""
    buses: list[NatsBus] = []

    async def _open(member: str, limit: int) -> LineLedger:
        bus = await NatsBus.connect(
            NatsOptions(nats.url), prefix="tickgate.race", subscribe_all=False
        )
        buses.append(bus)
        ledger = LineLedger(bus, "race", member, limit, streamed=lambda _conid: False)
        await ledger.start()
        return ledger

    yield _open
    for bus in buses:
        await bus.close()


async def test_of_members_taking_the_last_line_at_once_exactly_one_gets_it(
    open_ledger: OpenLedger,
) -> None:
    ledgers = [await open_ledger(f"member-{i}", 3) for i in range(6)]
    assert await ledgers[0].claim(AAPL) and await ledgers[1].claim(MSFT)
    results = await asyncio.gather(*(ledger.claim(1000 + i) for i, ledger in enumerate(ledgers)))
    assert results.count(True) == 1 and results.count(False) == 5, results
    held = ledgers[0].held()
    assert len(held) <= 3 and {AAPL, MSFT} <= held
    # Every member sees the same three lines once it reads again.
    assert await ledgers[5].claim(AAPL)  # a conid already streamed costs no line
    assert len(ledgers[5].held()) == 3


async def stream_or_refusal(ws: WsClient, conid: int) -> dict[str, Any]:
    return await ws.recv_until(lambda f: f.get("topic") == f"md+{conid}", timeout=15)


async def test_two_edges_clients_asking_for_the_last_line_at_once_get_one_stream(
    start_member: StartMember, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    core = await start_member("core", md_lines=2)
    first = await start_member("edge", md_lines=2)
    second = await start_member("edge", md_lines=2)
    on_core = await portal_stream(core, http, ws_connect, AAPL, "31")
    await md_frames(on_core, AAPL, 1)
    sockets = [
        await portal_stream(first, http, ws_connect, AAPL, "31"),
        await portal_stream(second, http, ws_connect, AAPL, "31"),
    ]
    for ws in sockets:
        await md_frames(ws, AAPL, 1)
    # One line left: each edge's client asks for a different new conid, at once.
    wanted = (MSFT, IBM)
    await asyncio.gather(
        *(
            ws.send(f's+md+{conid}+{{"fields":"31"}}')
            for ws, conid in zip(sockets, wanted, strict=True)
        )
    )
    answers = [
        await stream_or_refusal(ws, conid) for ws, conid in zip(sockets, wanted, strict=True)
    ]
    refused = [a for a in answers if "error" in a]
    assert len(refused) == 1, answers
    assert "market data lines" in refused[0]["error"].lower()
    winner = wanted[answers.index(next(a for a in answers if "error" not in a))]
    ledger = core.server.runner.app[LINE_LEDGER]
    assert await ledger.claim(AAPL) and ledger.held() == {AAPL, winner}
    # The winner's client stops: its line goes back, and the other edge can take it.
    loser_ws, loser = (sockets[1], wanted[1]) if winner == wanted[0] else (sockets[0], wanted[0])
    winner_ws = sockets[wanted.index(winner)]
    await winner_ws.send(f"u+md+{winner}")

    async def released() -> bool:
        await ledger.claim(AAPL)  # reads the entry again
        return winner not in ledger.held()

    async with asyncio.timeout(30):
        while not await released():
            await asyncio.sleep(0.05)
    await loser_ws.send(f's+md+{loser}+{{"fields":"31"}}')
    await md_frames(loser_ws, loser, 1)


async def test_the_core_releases_the_lines_of_a_member_it_does_not_hear_from(
    start_member: StartMember, open_ledger: OpenLedger
) -> None:
    core = await start_member("core", cluster="race", md_lines=2)
    ghost = await open_ledger("edge-ghost", 2)  # claims, but never speaks on the bus
    assert await ghost.claim(AAPL) and await ghost.claim(MSFT)
    ledger = core.server.runner.app[LINE_LEDGER]
    assert await ledger.claim(IBM) is False  # both lines are the ghost's

    async def ghost_gone() -> bool:
        return "edge-ghost" not in await ledger.members()

    async with asyncio.timeout(60):  # three 2 s heartbeats, on a loaded machine
        while not await ghost_gone():
            await asyncio.sleep(0.2)
    assert await ledger.claim(IBM)
    await wait_for(lambda: IBM in ledger.held())
