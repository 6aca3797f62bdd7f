"""The api dialect's client side read against tickgate's own server side: first a server
session's outbox fed straight into the client, then over a real socket."""

from __future__ import annotations

import aiohttp
import pytest
from tests.conftest import StartServer
from tests.dialects.conftest import Engines, Wire

from tickgate.clock import NS_PER_MS
from tickgate.dialects.api import ApiDialect
from tickgate.errors import ProtocolError
from tickgate.protocol.api import client as events
from tickgate.protocol.api.client import ApiClient

AAPL = 265598


def test_the_client_reads_what_a_server_session_sends(engines: Engines) -> None:
    engines.tick(AAPL, f31="189.50", f84="189.49", f55="AAPL")
    wire, client = Wire(), ApiClient()
    server = ApiDialect(engines.context, wire.outbox, peer="test", now=engines.now())
    server.opened(engines.now())
    assert [client.receive(p) for p in wire.payloads()] == [events.WaitingForSession()]
    server.receive(client.authenticate(engines.gateway.session.id), engines.now())
    burst = [client.receive(p) for p in wire.payloads()]
    assert burst[0] == events.Connected("tickgate")
    assert isinstance(burst[1], events.Accounts) and burst[1].args["accounts"]
    assert isinstance(burst[2], events.Status) and burst[2].authenticated and client.authenticated
    assert burst[3] == events.Heartbeat(engines.clock.now_ns() // NS_PER_MS)

    server.receive(client.subscribe(AAPL, [31]), engines.now())
    [snapshot] = [client.receive(p) for p in wire.payloads()]
    assert isinstance(snapshot, events.MarketData) and snapshot.conid == AAPL
    assert snapshot.values[31] == "189.50" and 84 not in snapshot.values
    server.receive(client.subscribe(AAPL, [84]), engines.now())  # adds a field
    [full] = [client.receive(p) for p in wire.payloads()]
    assert isinstance(full, events.MarketData) and full.values[84] == "189.49"
    assert client.streams == {AAPL: (31, 84)}

    server.receive(client.tickle(), engines.now())
    server.receive(client.heartbeat(), engines.now())
    server.receive("smd+99999999+{}", engines.now())
    tickled, echo, error = [client.receive(p) for p in wire.payloads()]
    assert isinstance(tickled, events.Tickled) and tickled.session == engines.gateway.session.id
    assert echo == events.Message("ech+hb")
    assert error == events.ErrorFrame("Invalid conid 99999999", "smd+99999999")

    server.receive(client.unsubscribe(AAPL), engines.now())
    assert wire.payloads() == [] and client.streams == {}
    engines.gateway.session.logout()
    [status] = [client.receive(p) for p in wire.payloads()]
    assert status == events.Status(False, status.args) and not client.authenticated


@pytest.mark.parametrize("payload", [b"nope", b"[1]", b'{"topic":"smd+1","conid":"x"}'])
def test_frames_that_are_not_the_dialects_raise_protocol_error(payload: bytes) -> None:
    with pytest.raises(ProtocolError):
        ApiClient().receive(payload)


async def test_the_client_speaks_to_a_real_server_over_a_socket(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(ticks_per_second=2000.0)
    async with http.post(server.base_url + "/v1/api/tickle") as response:
        session = (await response.json())["session"]
    client = ApiClient()
    async with http.ws_connect(server.ws_base + "/v1/api/ws") as ws:

        async def next_event() -> events.ServerEvent:
            message = await ws.receive(timeout=5)
            return client.receive(message.data)

        assert await next_event() == events.WaitingForSession()
        await ws.send_str(client.authenticate(session))
        while not isinstance(await next_event(), events.Status):
            pass
        assert client.authenticated
        await ws.send_str(client.subscribe(AAPL, [31, 84]))
        event = await next_event()
        while not isinstance(event, events.MarketData):
            event = await next_event()
        assert event.conid == AAPL and event.updated_ms is not None


def test_a_split_sts_with_only_competing_keeps_the_authentication() -> None:
    client = ApiClient()
    client.receive(b'{"topic":"sts","args":{"authenticated":true}}')
    event = client.receive(b'{"topic":"sts","args":{"competing":true}}')
    assert isinstance(event, events.Status) and event.authenticated and event.args["competing"]
    event = client.receive(b'{"topic":"sts","args":{"authenticated":false}}')
    assert isinstance(event, events.Status) and not event.authenticated
    assert not client.authenticated
