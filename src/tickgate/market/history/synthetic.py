"""Deterministic synthetic pre-history of one instrument, in integer ticks.

The history is built top-down so that every resolution agrees exactly with the ones below it:

1. A random walk runs *backwards* from the instrument's reference price at the anchor (the
   simulator's start) through the trading windows of its market calendar (`history.buckets`:
   holidays and early closes included), giving each window an open, high, low, close and
   volume. Windows that touch close at the next one's open; an overnight, weekend or holiday
   break adds a gap.
2. A window is split into 30-minute blocks, and a block into 1-minute bars, by `subdivide`: a
   Brownian bridge pinned at the parent's open, high, low and close, so the parts aggregate back
   to exactly the parent bar.

Every random draw comes from `random.Random` seeded with a string naming the seed, the conid and
the piece of time, so the same seed and anchor always give the same history, whichever
resolution is asked for first. Volatility is the instrument's annualised `volatility` spread
over 252 trading days; volumes are drawn around a per-instrument daily level.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from tickgate.clock import NS_PER_DAY, NS_PER_MINUTE
from tickgate.market.calendar import calendar_of
from tickgate.market.history.buckets import Segment, gap_variance, segments_before
from tickgate.model.instruments import Instrument, SecType

__all__ = ["BLOCK_NS", "HORIZON_NS", "SyntheticHistory", "TickBar", "subdivide"]

#: How far before the anchor the synthetic history reaches (the longest period, 15y, and some).
HORIZON_NS = 16 * 366 * NS_PER_DAY
BLOCK_NS = 30 * NS_PER_MINUTE

# log10 range of a day's volume, per security type.
_VOLUME_DECADES = {
    SecType.STK: (5.8, 7.6),
    SecType.FUT: (4.8, 6.0),
    SecType.CASH: (3.5, 4.5),
    SecType.OPT: (2.3, 3.8),
}


@dataclass(frozen=True, slots=True)
class TickBar:
    """One bar over [start_ns, end_ns) with prices in whole ticks of the instrument."""

    start_ns: int
    end_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int


class SyntheticHistory:
    """The pre-history of one instrument, ending at `anchor_ns` at its reference price.

    Windows are generated lazily, latest first, back to `HORIZON_NS` before the anchor, and kept
    (a few thousand small objects per year asked for); blocks and minutes are regenerated on
    demand. Not thread-safe.
    """

    def __init__(self, instrument: Instrument, *, seed: int, anchor_ns: int) -> None:
        self._instrument = instrument
        self._seed = f"{seed}:{instrument.conid}"
        self._tick = float(instrument.min_tick)
        self._sigma_day = instrument.volatility / math.sqrt(252)
        self._anchor_ns = anchor_ns - anchor_ns % NS_PER_MINUTE
        self._calendar = calendar_of(instrument)
        self._windows = segments_before(self._calendar, self._anchor_ns)
        self._walk: list[tuple[Segment, TickBar]] = []
        self._rng = random.Random(f"{self._seed}:walk")
        low, high = _VOLUME_DECADES.get(instrument.sec_type, (0.0, 0.0))
        volume_rng = random.Random(f"{self._seed}:volume")
        self._day_volume = 0.0 if high == 0 else 10 ** volume_rng.uniform(low, high)
        self._reference = max(1, round(float(instrument.reference_price) / self._tick))

    @property
    def day_volume(self) -> float:
        """The level the synthetic days' volumes are drawn around (0 for unvolumed types)."""
        return self._day_volume

    @property
    def anchor_ns(self) -> int:
        """The end of the synthetic history (the anchor, floored to the minute)."""
        return self._anchor_ns

    def windows(self) -> Iterator[tuple[Segment, TickBar]]:
        """Every trading window with its bar, latest first, down to the horizon."""
        index = 0
        while True:
            if index == len(self._walk) and not self._extend():
                return
            yield self._walk[index]
            index += 1

    def atoms(
        self, lo_ns: int, hi_ns: int, *, rth_only: bool, fits: Callable[[int, int], bool]
    ) -> list[TickBar]:
        """Chronological bars covering the data in [lo_ns, hi_ns), as coarse as allowed.

        A window or a 30-minute block is returned whole when it lies inside [lo_ns, hi_ns) and
        `fits(start_ns, end_ns)` (it falls in one output bar); otherwise it is split down to
        minutes, so no returned bar crosses `lo_ns`, and only the last may run past `hi_ns`
        (up to the end of its minute).
        """
        chunks: list[list[TickBar]] = []
        for segment, bar in self.windows():
            if bar.end_ns <= lo_ns:
                break
            if bar.start_ns < hi_ns and (segment.rth or not rth_only):
                chunks.append(self._descend(segment, bar, lo_ns, hi_ns, fits))
        return [atom for chunk in reversed(chunks) for atom in chunk]

    def _descend(
        self,
        segment: Segment,
        bar: TickBar,
        lo_ns: int,
        hi_ns: int,
        fits: Callable[[int, int], bool],
    ) -> list[TickBar]:
        if lo_ns <= bar.start_ns and bar.end_ns <= hi_ns and fits(bar.start_ns, bar.end_ns):
            return [bar]
        out: list[TickBar] = []
        for block in self._blocks(segment, bar):
            if block.end_ns <= lo_ns or block.start_ns >= hi_ns:
                continue
            inside = lo_ns <= block.start_ns and block.end_ns <= hi_ns
            if inside and fits(block.start_ns, block.end_ns):
                out.append(block)
                continue
            out.extend(m for m in self._minutes(block) if lo_ns <= m.start_ns < hi_ns)
        return out

    def _blocks(self, segment: Segment, bar: TickBar) -> list[TickBar]:
        edges = [*range(bar.start_ns, bar.end_ns, BLOCK_NS), bar.end_ns]
        n = len(edges) - 1
        # Regular hours trade most at the open and the close (the intraday "U").
        weights = [1 + 2 * (2 * (i + 0.5) / n - 1) ** 2 if segment.rth else 1.0 for i in range(n)]
        rng = random.Random(f"{self._seed}:{bar.start_ns}:{bar.end_ns}")
        return subdivide(bar, edges, rng, weights)

    def _minutes(self, block: TickBar) -> list[TickBar]:
        edges = [*range(block.start_ns, block.end_ns, NS_PER_MINUTE), block.end_ns]
        rng = random.Random(f"{self._seed}:{block.start_ns}:{block.end_ns}:m")
        return subdivide(block, edges, rng, [1.0] * (len(edges) - 1))

    def _extend(self) -> bool:
        segment = next(self._windows)
        if segment.start_ns < self._anchor_ns - HORIZON_NS:
            return False
        if not self._walk:
            close = self._reference
        else:
            later, later_bar = self._walk[-1]
            close = later_bar.open
            if segment.end_ns != later.start_ns:
                gap = self._sigma_day * math.sqrt(gap_variance(self._calendar))
                close = self._ticks(close * self._tick * math.exp(-self._rng.gauss(0, gap)))
        self._walk.append((segment, self._window_bar(segment, close)))
        return True

    def _window_bar(self, segment: Segment, close: int) -> TickBar:
        part = (segment.end_ns - segment.start_ns) / segment.full_ns
        sd = self._sigma_day * math.sqrt(segment.variance_share * part)
        rng = self._rng
        price = close * self._tick
        open_ = self._ticks(price * math.exp(-rng.gauss(0, sd)))
        top = max(open_, close) * self._tick * math.exp(abs(rng.gauss(0, sd)) * 0.6)
        bottom = min(open_, close) * self._tick * math.exp(-abs(rng.gauss(0, sd)) * 0.6)
        volume = self._day_volume * segment.volume_share * part * rng.lognormvariate(0, 0.35)
        return TickBar(
            segment.start_ns,
            segment.end_ns,
            open_,
            max(self._ticks(top), open_, close),
            min(self._ticks(bottom), open_, close),
            close,
            int(volume),
        )

    def _ticks(self, price: float) -> int:
        return max(1, round(price / self._tick))


def subdivide(
    bar: TickBar, edges: Sequence[int], rng: random.Random, weights: Sequence[float]
) -> list[TickBar]:
    """Split `bar` at `edges` (its start, inner cut points, its end) into consecutive parts.

    Guarantees: the first part opens at `bar.open`, the last closes at `bar.close`, each part
    opens where the previous closed, every price stays within [bar.low, bar.high], the highest
    high is `bar.high`, the lowest low is `bar.low`, and volumes (split by `weights` with noise)
    sum to `bar.volume`.
    """
    n = len(edges) - 1
    if n == 1:
        return [replace(bar, start_ns=edges[0], end_ns=edges[1])]
    path = _path(bar, n, rng)
    volumes = _apportion(bar.volume, weights, rng)
    wick_sd = (bar.high - bar.low) / (4 * math.sqrt(n))
    parts = []
    for i in range(n):
        o, c = path[i], path[i + 1]
        wick = int(abs(rng.gauss(0, wick_sd)))
        high = min(bar.high, max(o, c) + wick)
        low = max(bar.low, min(o, c) - wick)
        parts.append(TickBar(edges[i], edges[i + 1], o, high, low, c, volumes[i]))
    # With two parts the path may miss the extremes: some part must still touch them.
    if max(p.high for p in parts) < bar.high:
        i = rng.randrange(n)
        parts[i] = replace(parts[i], high=bar.high)
    if min(p.low for p in parts) > bar.low:
        i = rng.randrange(n)
        parts[i] = replace(parts[i], low=bar.low)
    return parts


def _path(bar: TickBar, n: int, rng: random.Random) -> list[int]:
    pins = [(0, bar.open), (n, bar.close)]
    if n >= 3:
        at_high, at_low = rng.sample(range(1, n), 2)
        pins += [(at_high, bar.high), (at_low, bar.low)]
    pins.sort()
    sd = max(1, bar.high - bar.low) / (2 * math.sqrt(n))
    points = [bar.open] * (n + 1)
    for (i0, v0), (i1, v1) in pairwise(pins):
        steps = i1 - i0
        walk = [0.0]
        for _ in range(steps):
            walk.append(walk[-1] + rng.gauss(0, sd))
        for k in range(1, steps + 1):
            x = v0 + (v1 - v0) * k / steps + walk[k] - walk[steps] * k / steps
            points[i0 + k] = min(bar.high, max(bar.low, round(x)))
    return points


def _apportion(total: int, weights: Sequence[float], rng: random.Random) -> list[int]:
    noisy = [w * rng.lognormvariate(0, 0.3) for w in weights]
    scale = total / sum(noisy)
    raw = [w * scale for w in noisy]
    shares = [int(r) for r in raw]
    # Largest remainders get the units lost to rounding down, so the parts sum to `total`.
    order = sorted(range(len(raw)), key=lambda i: (shares[i] - raw[i], i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares
