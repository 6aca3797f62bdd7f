"""The portal dialect's session, fed text and time directly: no socket, no event loop."""

from __future__ import annotations

import logging

import pytest
from tests.dialects.conftest import Engines, MakeEngines, Wire

from tickgate.dialects.effects import Deliver, Trust
from tickgate.dialects.portal import PortalDialect

AAPL, MSFT = 265598, 272093
ACCT = "DU1234567"


def open_session(engines: Engines, wire: Wire | None = None) -> tuple[PortalDialect, Wire]:
    wire = wire or Wire()
    session = PortalDialect(engines.context, wire.outbox, peer="test", now=engines.now())
    session.opened(engines.now())
    return session, wire


def primed(engines: Engines) -> Engines:
    engines.gateway.session.primed = True
    return engines


def test_a_snapshot_subscription_sends_what_is_known_then_every_change(engines: Engines) -> None:
    primed(engines).tick(AAPL, f31="189.50", f84="189.49")
    session, wire = open_session(engines)
    session.receive('s+md+265598+{"snapshot":true,"fields":[31,84,86]}', engines.now())
    # Prices are JSON numbers, as in the seed's sample response.
    assert wire.frames() == [{"topic": "md+265598", "31": 189.5, "84": 189.49}]
    assert session.effects() == [Trust()]  # a subscription the session accepted lifts the limit
    engines.tick(AAPL, f31="189.51", f7051="x")
    assert wire.frames() == [{"topic": "md+265598", "31": 189.51}]
    session.receive("u+md+265598", engines.now())
    engines.tick(AAPL, f31="189.52")
    assert wire.frames() == []


def test_refusals_are_error_frames_with_the_topic(engines: Engines) -> None:
    session, wire = open_session(engines)
    session.receive("s+md+265598", engines.now())
    assert "primed session" in wire.frames()[0]["error"]
    primed(engines)
    session.receive("s+md+99999999", engines.now())
    session.receive("u+md+265598", engines.now())
    session.receive("s+md+x", engines.now())
    errors = wire.frames()
    assert [e.get("topic") for e in errors[:2]] == ["md+99999999", "md+265598"]
    assert "Invalid conid" in errors[0]["error"] and "not subscribed" in errors[1]["error"]
    assert "error" in errors[2]
    assert session.effects() == []


def test_market_data_lines_are_counted_across_sessions_by_the_hub(
    engines_factory: MakeEngines,
) -> None:
    engines = primed(engines_factory(md_lines=1))
    first, first_wire = open_session(engines)
    second, second_wire = open_session(engines)
    first.receive("s+md+265598", engines.now())
    second.receive("s+md+272093", engines.now())
    assert first_wire.frames() == []  # accepted: no snapshot asked, no error
    assert second_wire.frames()[0]["error"] == (
        "Max number of market data lines reached (1); unsubscribe one first"
    )
    second.receive("s+md+265598", engines.now())  # a conid streamed already costs no line
    assert second_wire.frames() == [] and engines.gateway.hub.lines_in_use() == 1
    first.closed()
    assert engines.gateway.hub.lines_in_use() == 1
    second.closed()
    second.closed()  # idempotent
    assert engines.gateway.hub.lines_in_use() == 0


def test_a_logout_ends_market_data_and_says_so(engines: Engines) -> None:
    session, wire = open_session(primed(engines))
    session.receive("s+md+265598", engines.now())
    engines.gateway.session.logout()
    assert "not authenticated" in wire.frames()[-1]["error"]
    assert engines.gateway.hub.subscriptions_of(wire.outbox, "portal") == []


def test_account_data_starts_with_the_days_orders_and_pnl(engines: Engines) -> None:
    session, wire = open_session(engines)
    session.receive("s+realtime-account-data+NOPE", engines.now())
    assert "unknown account" in wire.frames()[0]["error"]
    session.receive(f"s+realtime-account-data+{ACCT}", engines.now())
    frames = wire.frames()
    assert frames[0] == {"topic": f"realtime-account-data+{ACCT}", "orders": []}
    assert f"{ACCT}.Core" in frames[1]["pnl"]
    assert [e for e in session.effects() if isinstance(e, Deliver)] == []
    session.receive(f"u+realtime-account-data+{ACCT}", engines.now())
    session.receive(f"u+realtime-account-data+{ACCT}", engines.now())
    assert "not subscribed" in wire.frames()[0]["error"]


def test_oversized_and_too_many_commands_are_refused_in_the_dialects_shape(
    engines_factory: MakeEngines,
) -> None:
    engines = engines_factory(commands_per_second=1.0, command_burst=1, max_frame_bytes=64)
    session, wire = open_session(engines)
    session.receive("x" * 65, engines.now())
    session.receive("u+md+1", engines.now())
    session.receive("u+md+1", engines.now())
    errors = [f["error"] for f in wire.frames()]
    assert "exceeds the limit of 64 bytes" in errors[0]
    assert "not subscribed" in errors[1] and "too many commands" in errors[2]
    engines.clock.advance(seconds=1)
    session.receive("u+md+1", engines.now())
    assert "not subscribed" in wire.frames()[0]["error"]


@pytest.mark.parametrize("text", ['s+md+1+{"fields":"SECRET-TOKEN-abc"}', "SECRET-TOKEN-abc"])
def test_a_bad_command_is_logged_by_length_and_reason_never_its_text(
    engines: Engines, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    caplog.set_level(logging.INFO)
    session, wire = open_session(engines)
    session.receive(text, engines.now())
    assert "error" in wire.frames()[0]
    logged = [r.getMessage() for r in caplog.records if "bad command" in r.getMessage()]
    assert len(logged) == 1 and f"{len(text)} characters" in logged[0]
    assert "SECRET" not in caplog.text


@pytest.mark.parametrize(
    ("bad", "summary"), [(2, "1 more bad command"), (4, "3 more bad commands")]
)
def test_the_close_summary_of_bad_commands_agrees_in_number(
    engines: Engines, caplog: pytest.LogCaptureFixture, bad: int, summary: str
) -> None:
    caplog.set_level(logging.INFO)
    session, _wire = open_session(engines)
    for _ in range(bad):
        session.receive("nonsense", engines.now())
        engines.clock.advance(seconds=1)  # under the command rate limit
    session.notes.log_counts()
    closing = [r.getMessage() for r in caplog.records if "closed after" in r.getMessage()]
    assert closing == [f"connection from test closed after {summary}"]
