"""Layered instruments in the simulator: their own stream, rate and start; the core untouched."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from tests.instruments import option, stock
from tests.sources.simulator.test_market import AAPL, START, catalogue, run

from tickgate.market.catalogue.catalogue import default_catalogue
from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.sources.simulator.market import MarketSimulator

LAYER = [stock(1_900_000_000 + n, f"L{n}", f"LAYER {n}", price="50.00") for n in range(1, 21)]
LAYERED_OPTION = option(
    stock(AAPL), conid=1_900_000_100, expiry="20260116", strike=190, price="5", name="AAPL"
)
CORE = {i.conid for i in catalogue()}


def core_only(ticks: list[Tick]) -> list[Tick]:
    return [tick for tick in ticks if tick.conid in CORE]


def session(simulator: MarketSimulator) -> list[Tick]:
    """A fixed script of calls: a start, ticks, a halt, a close and a new day."""
    out = simulator.initial_ticks() + run(simulator, seconds=20, batches=40, per_batch=50)
    out += simulator.halt(AAPL) + run(simulator, seconds=2, batches=4, per_batch=20)
    out += simulator.resume(AAPL) + simulator.close_session(simulator.now_ns + 1)
    out += simulator.open_session(simulator.now_ns + 1)
    return out + run(simulator, seconds=5, batches=10, per_batch=50)


def test_layered_instruments_change_no_core_tick() -> None:
    plain = session(MarketSimulator(catalogue(), seed=9, start_ns=START))
    layered = MarketSimulator(
        catalogue(),
        seed=9,
        start_ns=START,
        background=[*LAYER, LAYERED_OPTION],
        background_ticks_per_second=200.0,
    )
    ticks = session(layered)
    assert core_only(ticks) == plain
    moved = Counter(tick.conid for tick in ticks if tick.conid not in CORE)
    assert set(moved) == {i.conid for i in [*LAYER, LAYERED_OPTION]}


def test_instruments_added_later_change_no_core_tick_and_start_quoted() -> None:
    plain = MarketSimulator(catalogue(), seed=4, start_ns=START)
    grown = MarketSimulator(catalogue(), seed=4, start_ns=START, background_ticks_per_second=50.0)
    expected = plain.initial_ticks() + run(plain, seconds=3, batches=6, per_batch=40)
    got = grown.initial_ticks() + run(grown, seconds=1, batches=2, per_batch=40)
    added = grown.add(LAYER[:3], closed=[LAYER[2].conid])
    got += run(grown, seconds=2, batches=4, per_batch=40)
    assert core_only(got) == expected
    assert [tick.conid for tick in added] == [i.conid for i in LAYER[:3]]
    for tick in added[:2]:
        assert {F.BID, F.ASK, F.LAST, F.PRIOR_CLOSE} <= tick.fields.keys()
        assert 0 < F.parse_price(tick.fields[F.BID]) < F.parse_price(tick.fields[F.ASK])
        assert F.parse_price(tick.fields[F.LAST]) == pytest.approx(50, rel=0.05)
    assert added[2].fields[F.LAST].startswith("C")  # its market is closed: prior close shown
    assert grown.add(LAYER[:1]) == []  # already simulated: left as it is


def test_an_added_instrument_opens_the_same_whatever_came_before() -> None:
    def opening(before: list[Instrument]) -> dict[int, str]:
        simulator = MarketSimulator(catalogue(), seed=7, start_ns=START)
        simulator.add(before)
        return simulator.add([LAYER[-1]])[0].fields

    assert opening([]) == opening(LAYER[:5]) == opening(LAYER[5:10])


def test_layered_events_follow_their_own_rate_by_simulated_time() -> None:
    simulator = MarketSimulator(
        catalogue(), seed=2, start_ns=START, background=LAYER, background_ticks_per_second=40.0
    )
    ticks = run(simulator, seconds=10, batches=100, per_batch=0)
    layered = [tick for tick in ticks if tick.conid not in CORE]
    assert not core_only(ticks)  # the core asked for nothing
    assert 300 <= len(layered) <= 400  # 400 events; a quote that moved nothing sends no tick
    still = MarketSimulator(catalogue(), seed=2, start_ns=START, background=LAYER)
    assert run(still, seconds=10, batches=10, per_batch=0) == []


def test_a_negative_background_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="background_ticks_per_second"):
        MarketSimulator(catalogue(), seed=1, start_ns=START, background_ticks_per_second=-1)


def test_the_built_in_universe_leaves_the_seeded_default_market_as_it_was() -> None:
    universe = default_catalogue(today=date(2026, 1, 14), universe=True)
    core = {i.conid for i in universe.core()}

    def script(simulator: MarketSimulator) -> list[Tick]:
        out = simulator.initial_ticks() + run(simulator, seconds=2, batches=20, per_batch=100)
        out += simulator.close_session(simulator.now_ns + 1)
        out += simulator.open_session(simulator.now_ns + 1)
        return [
            t for t in out + run(simulator, seconds=1, batches=5, per_batch=100) if t.conid in core
        ]

    seeded = MarketSimulator(universe.core(), seed=42, start_ns=START, ticks_per_second=2000.0)
    layered = MarketSimulator(
        universe.core(),
        seed=42,
        start_ns=START,
        ticks_per_second=2000.0,
        background=universe.layered(),
        background_ticks_per_second=100.0,
    )
    assert script(layered) == script(seeded)
