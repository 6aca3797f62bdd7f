"""The api dialect's session, fed text and time directly: no socket, no event loop."""

from __future__ import annotations

import dataclasses
import logging
from decimal import Decimal as D

import pytest
from tests.dialects.conftest import Engines, MakeEngines, Wire

from tickgate.clock import NS_PER_MS, NS_PER_S
from tickgate.dialects.api import ApiDialect
from tickgate.dialects.effects import Close, Offload, Trust

AAPL = 265598
ACCT = "DU1234567"


def open_session(
    engines: Engines, *, cookie: str | None = None, wire: Wire | None = None
) -> tuple[ApiDialect, Wire]:
    wire = wire or Wire()
    session = ApiDialect(
        engines.context, wire.outbox, peer="test", now=engines.now(), cookie=cookie
    )
    session.opened(engines.now())
    return session, wire


def authenticated(engines: Engines) -> tuple[ApiDialect, Wire]:
    session, wire = open_session(engines, cookie=engines.gateway.session.id)
    wire.frames()
    session.effects()
    return session, wire


def test_the_api_cookie_authenticates_with_the_connect_burst(engines: Engines) -> None:
    session, wire = open_session(engines, cookie=engines.gateway.session.id)
    topics = [f.get("topic") for f in wire.frames()]
    assert topics == ["system", "act", "sts", "system"]
    assert session.effects() == [Trust()]
    assert session.next_deadline_ns() == engines.clock.monotonic_ns() + 10 * NS_PER_S


def test_without_a_session_the_socket_is_closed_at_the_deadline(engines: Engines) -> None:
    session, wire = open_session(engines)
    assert wire.payloads() == [b'{"message":"waiting for session"}']
    session.receive("spl", engines.now())
    assert wire.payloads() == [b'{"message":"waiting for session"}']
    due = session.next_deadline_ns()
    assert due == engines.clock.monotonic_ns() + 10 * NS_PER_S
    engines.clock.advance(seconds=10)
    session.on_timer(engines.now())
    [close] = session.effects()
    assert isinstance(close, Close) and close.code == 1008 and "10 s" in close.reason
    assert session.next_deadline_ns() is None


def test_a_session_message_authenticates_and_cancels_the_deadline(engines: Engines) -> None:
    session, wire = open_session(engines)
    session.receive('{"session":"wrong"}', engines.now())
    session.receive(f'{{"session":"{engines.gateway.session.id}"}}', engines.now())
    topics = [f.get("topic") for f in wire.frames()[1:]]
    assert topics == [None, "system", "act", "sts", "system"]
    engines.clock.advance(seconds=10)
    session.on_timer(engines.now())
    assert [e for e in session.effects() if isinstance(e, Close)] == []


def test_heartbeats_carry_the_wall_clock_and_follow_the_interval(engines: Engines) -> None:
    session, wire = authenticated(engines)
    engines.clock.advance(seconds=10)
    session.on_timer(engines.now())
    assert wire.frames() == [{"topic": "system", "hb": engines.clock.now_ns() // NS_PER_MS}]
    assert session.next_deadline_ns() == engines.clock.monotonic_ns() + 10 * NS_PER_S


def test_heartbeats_carry_the_machines_time_when_the_gateway_time_is_simulated(
    engines: Engines,
) -> None:
    # Shifted (tests) or replayed time is the market's; a client compares heartbeats with its
    # own clock, so they carry the machine's time, here a year after the gateway's.
    session, wire = authenticated(engines)
    engines.clock.advance(seconds=10)
    year_on = 365 * 86_400 * NS_PER_S
    now = dataclasses.replace(engines.now(), host_ns=engines.clock.now_ns() + year_on)
    session.on_timer(now)
    assert wire.frames() == [{"topic": "system", "hb": now.host_ns // NS_PER_MS}]


def test_smd_streams_adds_fields_on_resend_and_expires_without_renewal(
    engines_factory: MakeEngines,
) -> None:
    engines = engines_factory(smd_expiry_seconds=60, heartbeat_seconds=3600.0)
    engines.tick(AAPL, f31="189.50", f84="189.49", f55="AAPL")
    session, wire = authenticated(engines)
    session.receive('smd+265598+{"fields":["31"]}', engines.now())
    [frame] = wire.frames()
    assert frame["topic"] == "smd+265598" and frame["31"] == "189.50" and "84" not in frame
    session.receive('smd+265598+{"fields":["84"]}', engines.now())
    [frame] = wire.frames()
    assert frame["31"] == "189.50" and frame["84"] == "189.49"
    hub = engines.gateway.hub
    [subscription] = hub.subscriptions_of(wire.outbox, "api")
    assert subscription.fields == (31, 84)
    assert session.next_deadline_ns() == subscription.expires_ns
    engines.clock.advance(seconds=59)
    session.on_timer(engines.now())
    assert hub.subscription(wire.outbox, AAPL, "api") is not None
    engines.clock.advance(seconds=1)
    session.on_timer(engines.now())
    assert hub.subscription(wire.outbox, AAPL, "api") is None
    assert hub.lines_in_use() == 0


def test_smd_refusals(engines_factory: MakeEngines) -> None:
    engines = engines_factory(md_lines=1)
    session, wire = authenticated(engines)
    session.receive("smd+99999999+{}", engines.now())
    session.receive("smd+265598+{}", engines.now())
    session.receive("smd+272093+{}", engines.now())
    frames = wire.frames()
    assert frames[0]["error"] == "Invalid conid 99999999"
    assert [f for f in frames[1:-1] if "error" in f] == []
    assert "Max number of market data lines reached (1)" in frames[-1]["error"]


def test_smh_is_computed_off_the_loop_through_an_offload(engines: Engines) -> None:
    session, wire = authenticated(engines)
    session.receive('smh+265598+{"period":"1d","bar":"1h"}', engines.now())
    [offload] = session.effects()
    assert isinstance(offload, Offload) and offload.name.startswith("smh-")
    assert wire.frames() == []
    offload.done(offload.work())
    [frame] = wire.frames()
    assert frame["topic"] == "smh+265598" and frame["data"]
    server_id = frame["serverId"]
    session.receive(f"umh+{server_id}", engines.now())
    session.receive(f"umh+{server_id}", engines.now())
    answers = wire.frames()
    assert "error" not in answers[0] and "no smh request" in answers[1]["error"]


def test_depth_ladders_refresh_every_second_until_ubd(engines: Engines) -> None:
    engines.tick(AAPL, f31="189.50", f84="189.49", f86="189.51", f88="300", f85="200")
    session, wire = authenticated(engines)
    session.receive(f"sbd+{ACCT}+265598", engines.now())
    assert [f["topic"] for f in wire.frames()] == [f"sbd+{ACCT}+265598"]
    engines.clock.advance(seconds=1)
    session.on_timer(engines.now())
    assert [f["topic"] for f in wire.frames()] == [f"sbd+{ACCT}+265598"]
    session.receive(f"ubd+{ACCT}", engines.now())
    engines.clock.advance(seconds=1)
    session.on_timer(engines.now())
    assert [f for f in wire.frames() if f["topic"].startswith("sbd")] == []


def test_tic_and_echo(engines: Engines) -> None:
    session, wire = authenticated(engines)
    session.receive("tic", engines.now())
    session.receive("ech+hb", engines.now())
    payloads = wire.payloads()
    assert b'"topic":"tic"' in payloads[0] and payloads[1] == b"ech+hb"


def test_a_logout_ends_md_streams_and_says_so(engines: Engines) -> None:
    session, wire = authenticated(engines)
    session.receive("smd+265598+{}", engines.now())
    wire.frames()
    engines.gateway.session.logout()
    [status] = wire.frames()
    assert status["topic"] == "sts" and status["args"]["authenticated"] is False
    assert engines.gateway.hub.subscriptions_of(wire.outbox, "api") == []


def test_a_malformed_session_message_is_logged_without_its_text(
    engines: Engines, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    session, wire = open_session(engines)
    text = '{"session":"' + engines.gateway.session.id
    session.receive(text, engines.now())
    assert "malformed JSON" in wire.frames()[-1]["error"]
    assert engines.gateway.session.id not in caplog.text
    assert f"{len(text)} characters: malformed JSON message" in caplog.text


def test_ssd_and_sld_frames_after_the_first_come_from_the_event_alone(engines: Engines) -> None:
    # The first frame answers the subscribe from the engine; a P&L event then carries its own
    # figures, which are not the portfolio's, so a frame showing them was not read back.
    session, wire = authenticated(engines)
    session.receive(f"ssd+{ACCT}+{{}}", engines.now())
    session.receive(f"sld+{ACCT}+{{}}", engines.now())
    [summary, ledger] = wire.frames()
    figures = {e["key"]: e.get("monetaryValue") for e in summary["result"]}
    assert figures["NetLiquidation"] == figures["TotalCashValue"] == 1_000_000.0
    assert ledger["result"][0]["netLiquidationValue"] == 1_000_000.0
    current = engines.gateway.trading.views.pnl_event(ACCT)
    # The currency's own line (its cash, so its net liquidation) is the event's too.
    line = dataclasses.replace(current.currencies[0], cash=D(123))
    event = dataclasses.replace(
        current, net_liquidation=D(123), cash=D(45), daily=D(1), currencies=(line,)
    )
    engines.gateway.accounts.on_event(event, engines.clock.monotonic_ns())
    [ledger, summary] = sorted(wire.frames(), key=lambda f: str(f["topic"]))
    assert summary["topic"] == f"ssd+{ACCT}" and ledger["topic"] == f"sld+{ACCT}"
    figures = {e["key"]: e.get("monetaryValue") for e in summary["result"]}
    assert (figures["NetLiquidation"], figures["TotalCashValue"]) == (123.0, 45.0)
    assert [e["netLiquidationValue"] for e in ledger["result"]] == [123.0, 123.0]
    assert engines.gateway.trading.views.pnl_event(ACCT) == current  # the engine never moved
