"""Health: failures counted per component, logged once then at most once per interval, and a
component healthy again once it has not failed for a while."""

from __future__ import annotations

import logging

import pytest

from tickgate.clock import FakeClock
from tickgate.market.health import Health


def test_first_failure_is_logged_with_traceback_then_summaries_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    health = Health(clock.monotonic_ns, log_interval_ns=60_000_000_000)
    caplog.set_level(logging.ERROR, logger="tickgate.health")
    for price in range(500):
        health.failed("trading", "conid 265598", ValueError(f"bad price {price}"))
    assert len(caplog.records) == 1
    assert caplog.records[0].exc_info is not None
    assert "trading failed on conid 265598" in caplog.records[0].getMessage()
    clock.advance(seconds=60)
    health.failed("trading", "conid 8314", ValueError("bad price 500"))
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage() == (
        "trading failed 500 more times (501 in all); latest on conid 8314: "
        "ValueError: bad price 500"
    )
    health.failed("history", "conid 1", KeyError(7))  # another component: its own first log
    assert len(caplog.records) == 3


def test_report_names_each_component_and_recovers_after_a_quiet_period() -> None:
    clock = FakeClock()
    health = Health(clock.monotonic_ns, recovery_ns=60_000_000_000)
    health.register("streaming")
    health.register("trading")
    assert health.report() == {
        "healthy": True,
        "components": {
            "streaming": {"healthy": True, "failures": 0},
            "trading": {"healthy": True, "failures": 0},
        },
    }
    health.failed("trading", "conid 265598", RuntimeError("store is read-only"))
    clock.advance(seconds=2)
    report = health.report()
    assert report["healthy"] is False
    assert report["components"]["streaming"] == {"healthy": True, "failures": 0}
    assert report["components"]["trading"] == {
        "healthy": False,
        "failures": 1,
        "lastError": "RuntimeError: store is read-only",
        "lastFailureOn": "conid 265598",
        "secondsSinceFailure": 2.0,
    }
    assert not health.healthy("trading")
    clock.advance(seconds=58)
    assert health.healthy("trading") and health.report()["healthy"] is True
    assert health.report()["components"]["trading"]["failures"] == 1
