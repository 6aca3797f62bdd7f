"""The plugin's answers to misuse: an unknown fault kind, option or clock start is told plainly
(what was wrong, where it came from, what is valid), never a bare error from deep inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tickgate.clock import FakeClock
from tickgate.pytest_plugin import ControlError, StartGateway, TickgateServer
from tickgate.server.faults.routes import KINDS

DEFAULT_START_NS = FakeClock().now_ns()  # 2026-01-01T00:00:00Z


def test_an_unknown_fault_kind_is_a_404_naming_the_kinds(tickgate_server: TickgateServer) -> None:
    with pytest.raises(ControlError, match="unknown fault kind 'bogus'; the kinds are ") as wrong:
        tickgate_server.fault("bogus")
    assert wrong.value.status == 404
    assert all(kind in str(wrong.value) for kind in KINDS)
    # The DELETE route for one fault's id still answers its own way.
    with pytest.raises(ControlError, match="no active fault 7"):
        tickgate_server.request("DELETE", "/tickgate/faults/7")
    assert tickgate_server.fault("competing") == {"sockets": 0}  # the kinds' routes still win


def test_an_unknown_factory_option_is_named_with_close_matches(
    tickgate_server_factory: StartGateway,
) -> None:
    with pytest.raises(TypeError, match=r"^tickgate_server_factory\(...\): 'no_such_option'") as e:
        tickgate_server_factory(no_such_option=3)
    assert "the options are seed, tls, catalogue, accounts, clock" in str(e.value)
    assert "ticks_per_second" in str(e.value)  # and the Config fields
    with pytest.raises(TypeError, match=r"'ticks_per_secnd': unknown option \(did you mean ti"):
        tickgate_server_factory(ticks_per_secnd=5.0)
    with pytest.raises(TypeError, match="'port': the fixture sets it"):
        tickgate_server_factory(port=5000)


@pytest.mark.tickgate(bogus=1)
def test_an_unknown_marker_option_is_named_as_the_markers(request: pytest.FixtureRequest) -> None:
    with pytest.raises(TypeError, match=r"^@pytest.mark.tickgate\(...\): 'bogus': unknown option"):
        request.getfixturevalue("tickgate_server")


def test_a_reply_seed_of_the_tests_own_wins_over_the_seeds(
    tickgate_server_factory: StartGateway,
) -> None:
    assert tickgate_server_factory(seed=3, reply_seed=4).config.reply_seed == 4


def test_a_fake_clock_starts_at_an_aware_datetime_in_any_zone() -> None:
    new_year = datetime(2026, 1, 1, tzinfo=UTC)
    assert FakeClock(new_year).now_ns() == DEFAULT_START_NS
    eastern = timezone(timedelta(hours=-5))
    assert FakeClock(datetime(2025, 12, 31, 19, tzinfo=eastern)).now_ns() == DEFAULT_START_NS
    later = new_year + timedelta(microseconds=123_457)  # exact, no float rounding
    assert FakeClock(later).now_ns() == DEFAULT_START_NS + 123_457_000
    assert FakeClock(DEFAULT_START_NS + 1).now_ns() == DEFAULT_START_NS + 1


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (datetime(2026, 1, 5, 14, 30), "aware datetime, not the naive '2026-01-05T14:30:00'"),
        (1.5e18, "integer nanoseconds since the Unix epoch or an aware datetime, not float"),
        (True, "not bool True"),
        ("2026-01-05", "not str '2026-01-05'"),
    ],
)
def test_a_fake_clock_refuses_any_other_start_up_front(start: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        FakeClock(start)  # type: ignore[arg-type]


def test_a_gateway_runs_on_a_fake_clock_started_at_a_datetime(
    tickgate_server_factory: StartGateway,
) -> None:
    clock = FakeClock(datetime(2026, 1, 7, 15, tzinfo=UTC))  # a Wednesday, 10:00 New York
    server = tickgate_server_factory(clock=clock)
    assert server.advance(1) == clock.now_ns()
    [market] = [m for m in server.status()["markets"] if m["name"] == "US equities"]
    assert market["phase"] == "regular"
