"""SimulatorSource: due ticks follow the clock exactly, catch up in batches, never drift."""

from __future__ import annotations

import asyncio

import pytest
from tests.instruments import stock

from tickgate.clock import FakeClock
from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.sources.simulator.source import SimulatorSource

START = 1_767_279_600_000_000_000
MS = 1_000_000


def catalogue() -> list[Instrument]:
    return [
        stock(conid, f"S{conid}", f"S{conid}", price=str(50 + conid), volatility=0.3)
        for conid in range(1, 6)
    ]


def simulator(seed: int = 9) -> MarketSimulator:
    return MarketSimulator(catalogue(), seed=seed, start_ns=START)


def reference(calls: list[tuple[int, int]]) -> list[Tick]:
    """What a simulator with the same seed produces for explicit `(elapsed_ns, n)` calls."""
    sim = simulator()
    ticks = sim.initial_ticks()
    for elapsed, n in calls:
        ticks += sim.advance(START + elapsed, n)
    return ticks


def test_steps_request_exactly_the_ticks_due_by_the_clock() -> None:
    clock, got = FakeClock(), list[Tick]()
    source = SimulatorSource(simulator(), clock, ticks_per_second=1000)
    assert source.start(got.append) == 5
    for step_ms in (2.5, 2.5, 5, 0.1, 40):
        clock.advance(ns=int(step_ms * MS))
        source.step(got.append)
    # Due after 2.5, 5, 10, 10.1 and 50.1 ms at 1000/s: 2, 5, 10, 10, 50 ticks in all.
    calls = [
        (int(2.5 * MS), 2),
        (5 * MS, 3),
        (10 * MS, 5),
        (int(10.1 * MS), 0),
        (int(50.1 * MS), 40),
    ]
    assert got == reference(calls)


def test_a_slow_sink_makes_bigger_batches_not_drift() -> None:
    clock, got = FakeClock(), list[Tick]()

    def slow_sink(tick: Tick) -> None:
        got.append(tick)
        clock.advance(ms=1)  # every tick costs a millisecond of the clock

    source = SimulatorSource(simulator(), clock, ticks_per_second=1000)
    source.start(slow_sink)  # 5 initial ticks: the clock is now 5 ms on
    first = source.step(slow_sink)  # 5 events due; delivering their ticks costs `first` ms
    second = source.step(slow_sink)  # so `first` more are due, at the clock's time
    assert first > 0 and second > 0
    expected = reference([(5 * MS, 5), ((5 + first) * MS, first)])
    assert got == expected
    assert got[-1].ts_ns <= START + (5 + first) * MS


def test_a_long_stall_skips_the_backlog_but_keeps_time() -> None:
    clock, got = FakeClock(), list[Tick]()
    source = SimulatorSource(simulator(), clock, ticks_per_second=1000, max_backlog_s=0.1)
    source.start(got.append)
    clock.advance(seconds=10)
    source.step(got.append)
    clock.advance(ms=3)
    source.step(got.append)
    assert got == reference([(10_000 * MS, 100), (10_003 * MS, 3)])


def test_step_before_start_and_bad_rates_are_refused() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        SimulatorSource(simulator(), FakeClock(), ticks_per_second=10).step(lambda tick: None)
    with pytest.raises(ValueError):
        SimulatorSource(simulator(), FakeClock(), ticks_per_second=0)


async def test_run_sleeps_to_a_fixed_schedule_until_cancelled() -> None:
    clock, got, pauses = FakeClock(), list[Tick](), list[float]()

    async def fake_sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) > 4:
            raise asyncio.CancelledError
        clock.advance(ns=round(seconds * 1e9))
        if len(pauses) == 2:
            clock.advance(ms=12)  # the loop woke up late: the next step catches up at once

    source = SimulatorSource(
        simulator(), clock, ticks_per_second=1000, step_ns=5 * MS, sleep=fake_sleep
    )
    assert source.name == "simulator"
    with pytest.raises(asyncio.CancelledError):
        await source.run(got.append)
    assert pauses == [0.005, 0.005, 0.0, 0.005, 0.005]
    assert got == reference([(5 * MS, 5), (22 * MS, 17), (22 * MS, 0), (27 * MS, 5)])
