"""Synthetic pre-history: determinism, the backward walk, and exact subdivision."""

from __future__ import annotations

import random
from itertools import islice, pairwise

from hypothesis import given
from hypothesis import strategies as st
from tests.instruments import instrument, stock

from tickgate.clock import NS_PER_MINUTE
from tickgate.market.history.synthetic import (
    BLOCK_NS,
    HORIZON_NS,
    SyntheticHistory,
    TickBar,
    subdivide,
)
from tickgate.model.instruments import Instrument, SecType

AAPL = stock()
# Wednesday 2026-01-14 15:07:30 UTC (10:07:30 EST): inside regular hours.
ANCHOR = 1_768_403_250_000_000_000


def history(seed: int = 1, instrument: Instrument = AAPL) -> SyntheticHistory:
    return SyntheticHistory(instrument, seed=seed, anchor_ns=ANCHOR)


def test_the_walk_ends_at_the_reference_price_at_the_anchor() -> None:
    segment, bar = next(history().windows())
    assert bar.end_ns == ANCHOR - 30 * 1_000_000_000  # floored to the minute
    assert segment.rth
    assert bar.close * AAPL.min_tick == AAPL.reference_price


def test_same_seed_same_history_other_seed_other_history() -> None:
    first = list(islice(history(1).windows(), 200))
    again = list(islice(history(1).windows(), 200))
    other = list(islice(history(2).windows(), 200))
    assert first == again
    assert [b for _, b in first] != [b for _, b in other]


def test_touching_windows_continue_and_every_bar_is_consistent() -> None:
    windows = list(islice(history().windows(), 300))
    for (later, later_bar), (earlier, earlier_bar) in pairwise(windows):
        assert earlier.end_ns <= later.start_ns
        if earlier.end_ns == later.start_ns:
            assert earlier_bar.close == later_bar.open
    for _, bar in windows:
        assert 1 <= bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.volume >= 0


def test_the_history_stops_at_the_horizon() -> None:
    oldest_start = None
    count = 0
    for segment, _ in history(instrument=AAPL).windows():
        oldest_start = segment.start_ns
        count += 1
    assert oldest_start is not None
    assert ANCHOR - HORIZON_NS <= oldest_start < ANCHOR - HORIZON_NS + 4 * 86_400 * 10**9
    assert count < 16 * 262 * 3


def test_atoms_at_any_resolution_aggregate_to_the_same_day() -> None:
    synthetic = history()
    day_start, day_end = 1_768_228_200_000_000_000, 1_768_251_600_000_000_000  # Mon 12th RTH
    coarse = synthetic.atoms(day_start, day_end, rth_only=True, fits=lambda s, e: True)
    blocks = synthetic.atoms(day_start, day_end, rth_only=True, fits=lambda s, e: e - s <= BLOCK_NS)
    minutes = synthetic.atoms(day_start, day_end, rth_only=True, fits=lambda s, e: False)
    assert len(coarse) == 1
    assert len(blocks) == 13
    assert len(minutes) == 390
    for parts in (blocks, minutes):
        assert parts[0].open == coarse[0].open
        assert parts[-1].close == coarse[0].close
        assert max(p.high for p in parts) == coarse[0].high
        assert min(p.low for p in parts) == coarse[0].low
        assert sum(p.volume for p in parts) == coarse[0].volume


def test_atoms_never_cross_the_window_edges() -> None:
    lo, hi = 1_768_228_200_000_000_000 + 17 * NS_PER_MINUTE, 1_768_240_000_000_000_000
    atoms = history().atoms(lo, hi, rth_only=False, fits=lambda s, e: True)
    assert atoms[0].start_ns == lo
    assert all(lo <= a.start_ns and a.end_ns <= hi + NS_PER_MINUTE for a in atoms)
    assert all(a.end_ns == b.start_ns for a, b in pairwise(atoms))


def test_quiet_instruments_have_no_volume() -> None:
    index = instrument(
        416904,
        "SPX",
        SecType.IND,
        name="S&P 500 Stock Index",
        exchange="CBOE",
        price="6100.00",
        volatility=0.18,
    )
    assert all(bar.volume == 0 for _, bar in islice(history(instrument=index).windows(), 20))


@st.composite
def bars_and_parts(draw: st.DrawFn) -> tuple[TickBar, int, int]:
    low = draw(st.integers(1, 10_000))
    high = low + draw(st.integers(0, 500))
    open_, close = (draw(st.integers(low, high)) for _ in range(2))
    volume = draw(st.integers(0, 10**9))
    return (
        TickBar(0, 0, open_, high, low, close, volume),
        draw(st.integers(1, 60)),
        draw(st.integers(0, 2**32)),
    )


@given(bars_and_parts())
def test_subdivide_splits_a_bar_exactly(case: tuple[TickBar, int, int]) -> None:
    bar, n, seed = case
    edges = [i * NS_PER_MINUTE for i in range(n + 1)]
    bar = TickBar(0, edges[-1], bar.open, bar.high, bar.low, bar.close, bar.volume)
    parts = subdivide(bar, edges, random.Random(seed), [1.0 + i % 3 for i in range(n)])
    assert [p.start_ns for p in parts] == edges[:-1]
    assert parts[0].open == bar.open and parts[-1].close == bar.close
    assert all(a.close == b.open for a, b in pairwise(parts))
    assert max(p.high for p in parts) == bar.high
    assert min(p.low for p in parts) == bar.low
    assert all(bar.low <= p.low <= min(p.open, p.close) for p in parts)
    assert all(max(p.open, p.close) <= p.high <= bar.high for p in parts)
    assert sum(p.volume for p in parts) == bar.volume
