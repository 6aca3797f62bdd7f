"""MarketSimulator: market invariants, option behaviour, determinism, halts and sessions."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.instruments import instrument, stock

from tickgate.errors import NotFoundError
from tickgate.market.engine import MarketEngine
from tickgate.model.instruments import Instrument, Right, SecType
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.sources.simulator.pricing import RATE, expiry_ns, years_between

START = 1_767_279_600_000_000_000  # 2026-01-01T15:00:00Z
AAPL, SPX, ES, EUR = 265598, 416904, 495512551, 12087792
STRIKES = (170, 180, 190, 200, 210)


def option_conid(strike: int, right: Right) -> int:
    return 800_000 + 10 * strike + (right is Right.PUT)


def catalogue() -> list[Instrument]:
    """A stock with a small option chain, an index with a future, and an FX pair."""
    out = [
        instrument(AAPL, "AAPL", SecType.STK, price="189.50", volatility=0.25),
        instrument(SPX, "SPX", SecType.IND, price="5000.00", volatility=0.15),
        instrument(
            ES,
            "ES",
            SecType.FUT,
            price="5030.00",
            volatility=0.15,
            tick="0.25",
            underlying_conid=SPX,
            expiry="20260320",
        ),
        instrument(EUR, "EUR", SecType.CASH, price="1.0842", volatility=0.07, tick="0.00005"),
    ]
    for strike in STRIKES:
        for right in Right:
            out.append(
                instrument(
                    option_conid(strike, right),
                    "AAPL",
                    SecType.OPT,
                    price="5.00",
                    volatility=0.3,
                    underlying_conid=AAPL,
                    expiry="20260220",
                    strike=Decimal(strike),
                    right=right,
                )
            )
    return out


INSTRUMENTS = {i.conid: i for i in catalogue()}


def run(simulator: MarketSimulator, *, seconds: float, batches: int, per_batch: int) -> list[Tick]:
    ticks, now = [], simulator.now_ns
    for _ in range(batches):
        now += int(seconds * 1e9 / batches)
        ticks += simulator.advance(now, per_batch)
    return ticks


def mid(values: dict[int, str]) -> float:
    return (F.parse_price(values[F.BID]) + F.parse_price(values[F.ASK])) / 2


class Invariants:
    """Applies ticks to a real engine and checks the market it shows after each one."""

    def __init__(self) -> None:
        self.engine = MarketEngine(INSTRUMENTS.values())
        self.volume: dict[int, int] = {}
        self.ts = 0

    def apply(self, tick: Tick) -> None:
        assert tick.fields, "a tick carries at least one change"
        assert tick.ts_ns >= self.ts
        self.ts = tick.ts_ns
        self.engine.apply(tick)
        instrument = INSTRUMENTS[tick.conid]
        values = self.engine.snapshot(tick.conid)
        for fid in (F.BID, F.ASK, F.LAST, F.HIGH, F.LOW, F.OPEN, F.PRIOR_CLOSE):
            if fid in values:
                assert instrument.on_tick_grid(Decimal(values[fid].lstrip("CH"))), (fid, values)
        if instrument.sec_type is not SecType.IND:
            self.check_quote(instrument, values)
        if F.HIGH in values:
            last = F.parse_price(values[F.LAST])
            assert F.parse_price(values[F.LOW]) <= last <= F.parse_price(values[F.HIGH])

    def check_quote(self, instrument: Instrument, values: dict[int, str]) -> None:
        assert 0 < F.parse_price(values[F.BID]) < F.parse_price(values[F.ASK])
        lot = 100 if instrument.sec_type is SecType.STK else 1
        for fid in (F.BID_SIZE, F.ASK_SIZE, F.LAST_SIZE):
            size = F.parse_size(values[fid])
            assert size > 0 and size % lot == 0, (fid, values[fid])
        volume = int(values[F.VOLUME_EXACT])
        assert volume >= self.volume.get(instrument.conid, 0)
        self.volume[instrument.conid] = volume


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_market_invariants_hold(seed: int) -> None:
    simulator = MarketSimulator(catalogue(), seed=seed, start_ns=START)
    check = Invariants()
    for tick in simulator.initial_ticks():
        check.apply(tick)
    ticks = run(simulator, seconds=600, batches=200, per_batch=100)
    assert len(ticks) > 15_000
    for tick in ticks:
        check.apply(tick)
    # The walk moved prices and volume grew on every quoted instrument.
    assert all(
        check.volume[c] > 0 for c in INSTRUMENTS if INSTRUMENTS[c].sec_type is not SecType.IND
    )


def test_same_seed_same_ticks_and_other_seed_other_ticks() -> None:
    def ticks(seed: int) -> list[Tick]:
        simulator = MarketSimulator(catalogue(), seed=seed, start_ns=START)
        out = simulator.initial_ticks() + run(simulator, seconds=10, batches=7, per_batch=300)
        out += simulator.halt(AAPL) + run(simulator, seconds=1, batches=3, per_batch=50)
        return out + simulator.resume(AAPL)

    assert ticks(42) == ticks(42)
    assert ticks(42) != ticks(43)


def test_initial_ticks_carry_a_full_quote() -> None:
    simulator = MarketSimulator(catalogue(), seed=1, start_ns=START)
    first = {tick.conid: tick.fields for tick in simulator.initial_ticks()}
    assert first.keys() == INSTRUMENTS.keys()
    quote = {
        F.BID,
        F.ASK,
        F.BID_SIZE,
        F.ASK_SIZE,
        F.LAST,
        F.LAST_SIZE,
        F.VOLUME,
        F.OPEN,
        F.HIGH,
        F.LOW,
    }
    day = {F.PRIOR_CLOSE, F.CHANGE, F.CHANGE_PCT}
    assert quote | day <= first[AAPL].keys()
    assert first[AAPL][F.PRIOR_CLOSE] == "189.50"
    assert first[EUR][F.PRIOR_CLOSE] == "1.08420"
    greeks = {F.DELTA, F.GAMMA, F.THETA, F.VEGA, F.IMPLIED_VOL, F.OPTION_OPEN_INTEREST}
    assert quote | day | greeks <= first[option_conid(190, Right.CALL)].keys()
    assert first[option_conid(190, Right.CALL)][F.IMPLIED_VOL] == "30.0%"
    assert quote | day | {F.FUTURES_OPEN_INTEREST} <= first[ES].keys()
    assert {F.LAST, F.OPEN, F.HIGH, F.LOW} | day <= first[SPX].keys()
    assert F.BID not in first[SPX] and F.VOLUME not in first[SPX]
    # Open: the day's first print makes the last a live price (no C prefix).
    assert not first[AAPL][F.LAST].startswith(("C", "H"))


def test_prices_are_near_the_prior_close_and_futures_carry_a_small_basis() -> None:
    simulator = MarketSimulator(catalogue(), seed=3, start_ns=START)
    first = {tick.conid: tick.fields for tick in simulator.initial_ticks()}
    assert F.parse_price(first[AAPL][F.LAST]) == pytest.approx(189.5, rel=0.05)
    basis = F.parse_price(first[ES][F.LAST]) / F.parse_price(first[SPX][F.LAST]) - 1
    assert 0 < basis < 0.01


def test_stock_volatility_scales_with_elapsed_time() -> None:
    stock = [instrument(1, "X", SecType.STK, price="100.00", volatility=0.3)]
    returns = []
    for seed in range(300):
        simulator = MarketSimulator(stock, seed=seed, start_ns=START)
        start = mid(simulator.initial_ticks()[0].fields)
        values = {}
        for tick in run(simulator, seconds=23_400, batches=50, per_batch=2):
            values.update(tick.fields)
        returns.append(math.log(mid(values) / start))
    # One trading day of a 30% volatility: variance 0.3² / 252.
    assert statistics.pvariance(returns) / (0.3**2 / 252) == pytest.approx(1.0, abs=0.25)


def test_options_move_with_the_underlying() -> None:
    simulator = MarketSimulator(catalogue(), seed=11, start_ns=START)
    engine = MarketEngine(INSTRUMENTS.values())
    seen: dict[int, list[tuple[float, float]]] = {}
    for tick in simulator.initial_ticks() + run(simulator, seconds=3600, batches=400, per_batch=50):
        engine.apply(tick)
        if tick.conid in INSTRUMENTS and INSTRUMENTS[tick.conid].sec_type is SecType.OPT:
            option, underlying = engine.snapshot(tick.conid), engine.snapshot(AAPL)
            seen.setdefault(tick.conid, []).append((mid(underlying), mid(option)))
    for strike in STRIKES:
        for right, sign in ((Right.CALL, 1), (Right.PUT, -1)):
            pairs = seen[option_conid(strike, right)]
            spots, options = zip(*pairs, strict=True)
            # Over hours the underlying moves far more than spreads and rounding: the option's
            # mid follows it, up for calls and down for puts.
            assert sign * statistics.correlation(spots, options) > 0.9, (strike, right)


def test_put_call_parity_roughly_holds_at_each_open() -> None:
    simulator = MarketSimulator(catalogue(), seed=5, start_ns=START)
    engine = MarketEngine(INSTRUMENTS.values())
    for tick in simulator.initial_ticks():
        engine.apply(tick)
    check_parity(engine, START)
    later = START + 6 * 3600 * 10**9
    for tick in run(
        simulator, seconds=6 * 3600, batches=100, per_batch=100
    ) + simulator.close_session(later):
        engine.apply(tick)
    next_day = later + 18 * 3600 * 10**9
    for tick in simulator.open_session(next_day):
        engine.apply(tick)
    check_parity(engine, next_day)


def check_parity(engine: MarketEngine, now: int) -> None:
    stock = engine.snapshot(AAPL)
    spot = mid(stock)
    years = years_between(now, expiry_ns("20260220"))
    for strike in STRIKES:
        call = engine.snapshot(option_conid(strike, Right.CALL))
        put = engine.snapshot(option_conid(strike, Right.PUT))
        gap = mid(call) - mid(put) - (spot - strike * math.exp(-RATE * years))
        widths = [F.parse_price(q[F.ASK]) - F.parse_price(q[F.BID]) for q in (call, put, stock)]
        assert abs(gap) <= sum(widths) / 2 + 0.02, (strike, gap)


def test_halt_freezes_one_instrument_with_the_h_prefix() -> None:
    simulator = MarketSimulator(catalogue(), seed=2, start_ns=START)
    last = {t.conid: t.fields[F.LAST] for t in simulator.initial_ticks()}
    [halted] = simulator.halt(AAPL)
    assert halted.fields == {F.LAST: "H" + last[AAPL]}
    assert simulator.halt(AAPL) == []
    ticks = run(simulator, seconds=60, batches=10, per_batch=200)
    assert ticks and all(t.conid != AAPL for t in ticks)
    [resumed] = simulator.resume(AAPL)
    assert resumed.fields == {F.LAST: last[AAPL]}
    assert any(t.conid == AAPL for t in run(simulator, seconds=60, batches=10, per_batch=200))


def test_session_close_and_next_open() -> None:
    simulator = MarketSimulator(catalogue(), seed=4, start_ns=START)
    engine = MarketEngine(INSTRUMENTS.values())
    for tick in simulator.initial_ticks() + run(simulator, seconds=60, batches=10, per_batch=100):
        engine.apply(tick)
    close_at = START + 61 * 10**9
    for tick in simulator.close_session(close_at):
        engine.apply(tick)
    closing = engine.snapshot(AAPL)
    assert closing[F.LAST].startswith("C")
    assert simulator.advance(close_at + 10**9, 100) == []
    for tick in simulator.open_session(close_at + 3600 * 10**9):
        engine.apply(tick)
    opening = engine.snapshot(AAPL)
    assert opening[F.PRIOR_CLOSE] == closing[F.LAST][1:]
    assert not opening[F.LAST].startswith("C")
    assert int(opening[F.VOLUME_EXACT]) < int(closing[F.VOLUME_EXACT])
    assert opening[F.OPEN] == opening[F.HIGH] == opening[F.LOW] == opening[F.LAST]


def test_a_closed_start_shows_prior_closes() -> None:
    simulator = MarketSimulator(catalogue(), seed=4, start_ns=START, session_open=False)
    first = {tick.conid: tick.fields for tick in simulator.initial_ticks()}
    assert first[AAPL][F.LAST] == "C189.50"
    assert first[AAPL][F.CHANGE] == "0.00"
    assert first[AAPL][F.VOLUME] == "0"
    assert F.OPEN not in first[AAPL] and F.HIGH not in first[AAPL]
    assert first[SPX][F.LAST] == "C5000.00"
    assert simulator.advance(START + 10**9, 10) == []
    opened = {t.conid: t.fields for t in simulator.open_session(START + 2 * 10**9)}
    assert not opened[AAPL][F.LAST].startswith("C")


def test_bad_calls_are_refused() -> None:
    simulator = MarketSimulator(catalogue(), seed=1, start_ns=START)
    simulator.advance(START + 10, 1)
    with pytest.raises(ValueError, match="time cannot go back"):
        simulator.advance(START, 1)
    with pytest.raises(ValueError, match="n_ticks"):
        simulator.advance(START + 20, -1)
    with pytest.raises(NotFoundError):
        simulator.halt(1)


def test_an_instrument_pinned_to_a_rate_gets_that_share_of_the_events() -> None:
    pinned = dataclasses.replace(stock(1, "HOT", "HOT CORP"), ticks_per_second=100.0)
    others = [stock(10 + n, f"S{n}", f"STOCK {n}") for n in range(20)]
    sim = MarketSimulator([pinned, *others], seed=5, start_ns=0, ticks_per_second=1000.0)
    counts: Counter[int] = Counter()
    for step in range(1, 201):
        counts.update(t.conid for t in sim.advance(step * 10_000_000, 200))
    share = counts[1] / sum(counts.values())
    assert 0.08 < share < 0.12  # 100 of 1000 ticks/s


def test_a_closed_market_shows_its_close_and_does_not_tick_until_its_day_starts() -> None:
    others = [conid for conid in INSTRUMENTS if conid != AAPL]
    simulator = MarketSimulator(catalogue(), seed=4, start_ns=START, closed=[AAPL])
    engine = MarketEngine(INSTRUMENTS.values())
    for tick in simulator.initial_ticks():
        engine.apply(tick)
    assert engine.snapshot(AAPL)[F.LAST] == "C189.50"
    ticked = {t.conid for t in run(simulator, seconds=60, batches=10, per_batch=100)}
    assert AAPL not in ticked and ticked
    at = START + 3600 * 10**9
    for tick in simulator.start_days([AAPL], at):
        engine.apply(tick)
    assert not engine.snapshot(AAPL)[F.LAST].startswith("C")
    later = {t.conid for t in simulator.advance(at + 60 * 10**9, 2000)}
    assert AAPL in later
    for tick in simulator.close_markets(others, at + 61 * 10**9):
        engine.apply(tick)
    assert {t.conid for t in simulator.advance(at + 120 * 10**9, 500)} == {AAPL}
    with pytest.raises(NotFoundError):
        simulator.close_markets([1], at + 121 * 10**9)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_each_tick_carries_every_change_and_no_repeat(seed: int) -> None:
    # The market engine is the one judge of change: a tick the simulator sends during the
    # session holds exactly what the engine finds changed (no repeats clogging the bus and
    # recordings), and at the end a full render changes nothing (no change was left out).
    simulator = MarketSimulator(catalogue(), seed=seed, start_ns=START)
    engine = MarketEngine(INSTRUMENTS.values())
    for tick in simulator.initial_ticks():
        engine.apply(tick)
    ticks = run(simulator, seconds=300, batches=50, per_batch=100)
    ticks += simulator.halt(AAPL) + run(simulator, seconds=10, batches=2, per_batch=50)
    ticks += simulator.resume(AAPL) + run(simulator, seconds=10, batches=2, per_batch=50)
    for tick in ticks:
        assert engine.apply(tick) == tick.fields
    later = START + 400 * 10**9
    day = simulator.close_markets([AAPL, ES], later) + simulator.start_days([AAPL], later + 1)
    day += simulator.close_session(later + 2) + simulator.close_session(later + 3)
    day += simulator.open_session(later + 3600 * 10**9)
    day += run(simulator, seconds=60, batches=10, per_batch=100)
    for tick in day:
        engine.apply(tick)
    for tick in simulator.initial_ticks():
        assert engine.apply(tick) == {}, tick.conid
