"""Bars: aggregation, and recording live trades into 1-minute bars."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tickgate.clock import NS_PER_MINUTE, FakeClock
from tickgate.market.bars import Bar, LiveBars, aggregate
from tickgate.protocol import fields as F

D = Decimal
START = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z, a minute boundary


def test_aggregate_takes_first_open_extremes_last_close_and_summed_volume() -> None:
    bars = [
        Bar(START, D("10.00"), D("10.50"), D("9.90"), D("10.20"), 100),
        Bar(START + NS_PER_MINUTE, D("10.20"), D("10.90"), D("10.10"), D("10.80"), 50),
        Bar(START + 2 * NS_PER_MINUTE, D("10.80"), D("10.85"), D("9.50"), D("9.70"), 7),
    ]
    assert aggregate(bars) == Bar(START, D("10.00"), D("10.90"), D("9.50"), D("9.70"), 157)
    with pytest.raises(ValueError, match="no bars"):
        aggregate([])


def trades(live: LiveBars, clock: FakeClock, *changes: dict[int, str]) -> None:
    for changed in changes:
        live.record(changed, clock.now_ns())
        clock.advance(seconds=10)


def recorded(*changes: dict[int, str]) -> tuple[LiveBars, FakeClock]:
    """Live bars from START (100 minutes kept) that recorded `changes` 10 s apart, and their
    clock, 10 s past the last one."""
    clock = FakeClock(START)
    live = LiveBars(since_ns=START, capacity=100)
    trades(live, clock, *changes)
    return live, clock


def test_trades_of_one_minute_make_one_bar_and_the_next_minute_a_new_one() -> None:
    live, _ = recorded(
        {F.LAST: "168.42", F.LAST_SIZE: "100", F.VOLUME_EXACT: "1000"},
        {F.LAST: "168.50", F.VOLUME_EXACT: "1300"},
        {F.LAST: "168.10", F.VOLUME_EXACT: "1350"},
        {F.VOLUME_EXACT: "1400"},  # a trade at the unchanged price 168.10
        {F.LAST: "168.20", F.VOLUME_EXACT: "1,420"},
        {F.LAST: "168.30", F.VOLUME_EXACT: "1500"},
        {F.LAST: "168.60", F.VOLUME_EXACT: "1600"},  # 60 s later: the second minute
    )
    assert live.minutes(0, 2**63) == [
        Bar(
            START, D("168.42"), D("168.50"), D("168.10"), D("168.30"), 100 + 300 + 50 + 50 + 20 + 80
        ),
        Bar(START + NS_PER_MINUTE, D("168.60"), D("168.60"), D("168.60"), D("168.60"), 100),
    ]
    assert live.last_end_before(START + NS_PER_MINUTE) == START + NS_PER_MINUTE
    assert live.last_end_before(START + NS_PER_MINUTE + 5) == START + NS_PER_MINUTE + 5
    assert live.last_end_before(START) is None


def test_last_size_counts_when_there_is_no_cumulative_volume() -> None:
    live, _ = recorded({F.LAST: "10.00", F.LAST_SIZE: "200"}, {F.LAST: "10.01"})
    assert live.minutes(0, 2**63)[0].volume == 200


def test_a_falling_cumulative_volume_starts_a_new_day() -> None:
    live, _ = recorded(
        {F.LAST: "10.00", F.VOLUME_EXACT: "5000"},
        {F.LAST: "10.02", F.VOLUME_EXACT: "40"},
    )
    assert live.minutes(0, 2**63)[0].volume == 40


def test_prior_close_halted_and_malformed_values_are_not_trades() -> None:
    live, clock = recorded(
        {F.LAST: "C168.00", F.VOLUME_EXACT: "10"},
        {F.LAST: "H168.00"},
        {F.LAST: "n/a", F.VOLUME_EXACT: "lots"},
        {F.LAST: "-1"},
        {F.BID: "168.00"},
    )
    assert len(live) == 0
    trades(live, clock, {F.LAST: "168.05", F.VOLUME_EXACT: "25"})
    assert live.minutes(0, 2**63) == [
        Bar(START, D("168.05"), D("168.05"), D("168.05"), D("168.05"), 15)
    ]


def test_ticks_before_the_start_or_for_a_dropped_minute_are_ignored() -> None:
    live = LiveBars(since_ns=START, capacity=100)
    live.record({F.LAST: "1.00"}, START - 1)
    assert len(live) == 0
    live.record({F.LAST: "1.00"}, START + 5 * NS_PER_MINUTE)
    live.record({F.LAST: "2.00"}, START + 2 * NS_PER_MINUTE)  # late, for a minute never seen
    live.record({F.LAST: "1.50"}, START + 5 * NS_PER_MINUTE + 1)
    assert [b.start_ns for b in live.minutes(0, 2**63)] == [START + 5 * NS_PER_MINUTE]
    assert live.minutes(0, 2**63)[0].high == D("1.50")


def test_only_the_latest_minutes_are_kept() -> None:
    live = LiveBars(since_ns=START, capacity=3)
    for minute in range(10):
        live.record({F.LAST: f"{100 + minute}.00"}, START + minute * NS_PER_MINUTE)
    kept = live.minutes(0, 2**63)
    assert [b.open for b in kept] == [D("107.00"), D("108.00"), D("109.00")]
    assert live.minutes(START + 8 * NS_PER_MINUTE, START + 9 * NS_PER_MINUTE) == [kept[1]]
