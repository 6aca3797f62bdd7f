"""Historical bars for ``/iserver/marketdata/history`` and the ``smh`` topic.

`HistoryService` answers history requests from a deterministic synthetic pre-history (see
`history_synth`) that ends at the anchor, the instant the service was built (the simulator's
start, where every instrument stands at its reference price), followed by the 1-minute bars it
records from the market engine's live trades.

Windows (protocol reference §8.4): bars end at ``startTime`` (UTC, clamped to now) or now. When
that instant lies outside any data (a weekend, the night), the window ends at the latest data
before it, like IBKR answering a Saturday request with Friday's bars. Minute and hour periods
reach back that much clock time; ``Nd`` takes the last N trading dates that have data; weeks,
months and years are calendar spans. The window's first bar is always whole: its start is moved
back to the start of the bar it falls in. Live bars are kept whatever the session (the simulator
trades whenever tickgate runs) while ``outside_rth=False`` keeps only regular-hours synthetic
windows. Quote sources are modelled from trades: midpoint and bid_ask bars are the trade bars,
bid and ask ones one tick below and above; none of them has volume.
"""

from __future__ import annotations

import calendar
import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from tickgate.clock import Clock
from tickgate.errors import RequestError
from tickgate.market.bars import MINUTE_NS, Bar, LiveBars, aggregate
from tickgate.market.history_calendar import (
    DAY_NS,
    Schedule,
    bucket_floor_ns,
    bucket_key,
    date_start_ns,
    schedule_of,
    trading_date,
)
from tickgate.market.history_payload import history_payload, smh_payload
from tickgate.market.history_query import (
    MAX_POINTS,
    BarSize,
    Period,
    PeriodUnit,
    check_step,
    parse_bar,
    parse_period,
)
from tickgate.market.history_synth import Resolution, SyntheticHistory, TickBar
from tickgate.model.instruments import Instrument

__all__ = [
    "LIVE_MINUTES",
    "SOURCES",
    "HistoryService",
    "Instruments",
    "history_payload",
    "parse_bar",
    "parse_period",
    "parse_start_time",
    "smh_payload",
]

#: Live 1-minute bars kept per conid: a week of round-the-clock trading.
LIVE_MINUTES = 7 * 1440
#: Synthetic histories kept at once (least recently used ones are rebuilt on demand).
SYNTHETIC_CACHE = 64
SOURCES = ("trades", "midpoint", "bid_ask", "bid", "ask")
_START_TIME = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}$")


class Instruments(Protocol):
    """Where the service looks instruments up (the catalogue)."""

    def get(self, conid: int) -> Instrument:
        """The instrument of `conid`; raises NotFoundError when there is none."""
        ...


def parse_start_time(text: str) -> int:
    """Epoch ns of a ``YYYYMMDD-HH:mm:ss`` UTC time. Raises RequestError (400) otherwise."""
    try:
        if not _START_TIME.match(text):
            raise ValueError(text)
        moment = datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise RequestError(
            f"invalid startTime {text!r}: expected YYYYMMDD-HH:mm:ss (UTC)"
        ) from None
    return int(moment.timestamp()) * 1_000_000_000


class HistoryService:
    """Bars of every instrument: synthetic before the anchor, recorded live trades after it.

    `anchor_ns` defaults to the clock's time at construction. Same seed and anchor, same
    synthetic history. Memory: at most `live_minutes` live bars per conid that traded, and
    `SYNTHETIC_CACHE` synthetic histories. Owned by the event loop: not thread-safe.
    """

    def __init__(
        self,
        instruments: Instruments,
        *,
        seed: int,
        clock: Clock,
        anchor_ns: int | None = None,
        live_minutes: int = LIVE_MINUTES,
    ) -> None:
        self._instruments = instruments
        self._seed = seed
        self._clock = clock
        anchor = clock.now_ns() if anchor_ns is None else anchor_ns
        self._anchor_ns = anchor - anchor % MINUTE_NS
        self._live_minutes = live_minutes
        self._live: dict[int, LiveBars] = {}
        self._synthetic: OrderedDict[int, SyntheticHistory] = OrderedDict()

    def record(self, conid: int, changed: Mapping[int, str], ts_ns: int) -> None:
        """The market engine listener: account a trade reported in `changed`. Never raises."""
        live = self._live.get(conid)
        if live is None:
            live = self._live[conid] = LiveBars(
                since_ns=self._anchor_ns, capacity=self._live_minutes
            )
        live.record(changed, ts_ns)

    def bars(
        self,
        conid: int,
        *,
        period: Period | str,
        bar: BarSize | str,
        start_time: str | None = None,
        outside_rth: bool = False,
        source: str = "trades",
    ) -> list[Bar]:
        """Chronological bars of `conid` for the window described in the module docstring.

        Returns [] when the window holds no data. Raises NotFoundError for an unknown conid and
        RequestError (400) for a bad period, bar, start time or source, a bar outside the
        period's step sizes, or more than `MAX_POINTS` bars.
        """
        instrument = self._instruments.get(conid)
        period = parse_period(period) if isinstance(period, str) else period
        size = parse_bar(bar) if isinstance(bar, str) else bar
        check_step(period, size)
        kind = source.lower()
        if kind not in SOURCES:
            raise RequestError(f"invalid source {source!r}: expected one of {', '.join(SOURCES)}")
        now = self._clock.now_ns()
        end = now if start_time is None else min(parse_start_time(start_time), now)
        out = self._window(instrument, period, size, end, rth_only=not outside_rth)
        if len(out) > MAX_POINTS:
            raise RequestError(
                f"period {period.text} with bar {size.text} gives {len(out)} bars, more than "
                f"the {MAX_POINTS} allowed: ask for a larger bar or a shorter period"
            )
        return _as_source(out, kind, instrument.min_tick)

    def _window(
        self, instrument: Instrument, period: Period, size: BarSize, end: int, *, rth_only: bool
    ) -> list[Bar]:
        synthetic = self._synthetic_of(instrument)
        live = self._live.get(instrument.conid)
        schedule = schedule_of(instrument)
        last = _data_end(synthetic, live, end, rth_only=rth_only)
        if last is None:
            return []
        first = self._first(synthetic, live, period, last, schedule, rth_only=rth_only)
        lo = bucket_floor_ns(first, size, schedule)
        coarsest = _resolution(size)
        atoms = synthetic.atoms(
            lo, min(last, self._anchor_ns), rth_only=rth_only, coarsest=coarsest
        )
        bars = [_decimal_bar(a, instrument.min_tick) for a in atoms]
        if live is not None:
            bars += live.minutes(max(lo, self._anchor_ns), last)
        return _resample(bars, size, schedule)

    def _first(
        self,
        synthetic: SyntheticHistory,
        live: LiveBars | None,
        period: Period,
        last: int,
        schedule: Schedule,
        *,
        rth_only: bool,
    ) -> int:
        if period.intraday:
            return last - period.seconds * 1_000_000_000
        if period.unit is PeriodUnit.DAY:
            return _days_back(synthetic, live, period.count, last, schedule, rth_only=rth_only)
        if period.unit is PeriodUnit.WEEK:
            return last - period.count * 7 * DAY_NS
        months = period.count * (12 if period.unit is PeriodUnit.YEAR else 1)
        return _months_back(last, months)

    def _synthetic_of(self, instrument: Instrument) -> SyntheticHistory:
        history = self._synthetic.get(instrument.conid)
        if history is None:
            history = SyntheticHistory(instrument, seed=self._seed, anchor_ns=self._anchor_ns)
            self._synthetic[instrument.conid] = history
            if len(self._synthetic) > SYNTHETIC_CACHE:
                self._synthetic.popitem(last=False)
        self._synthetic.move_to_end(instrument.conid)
        return history


def _data_end(
    synthetic: SyntheticHistory, live: LiveBars | None, end: int, *, rth_only: bool
) -> int | None:
    """The end of the latest data at or before `end`, or None when there is none."""
    ends = [] if live is None else [live.last_end_before(end)]
    for segment, _ in synthetic.windows():
        if segment.start_ns < end and (segment.rth or not rth_only):
            ends.append(min(segment.end_ns, end))
            break
    found = [e for e in ends if e is not None]
    return max(found) if found else None


def _days_back(
    synthetic: SyntheticHistory,
    live: LiveBars | None,
    count: int,
    last: int,
    schedule: Schedule,
    *,
    rth_only: bool,
) -> int:
    """Start of the `count`-th latest trading date with data before `last`."""
    starts = [] if live is None else [b.start_ns for b in reversed(live.minutes(0, last))]
    dates: list[int] = []
    for start in starts:
        day = trading_date(start, schedule).toordinal()
        if not dates or dates[-1] != day:
            dates.append(day)
    for segment, _ in synthetic.windows():
        if len(dates) >= count:
            break
        if segment.start_ns < last and (segment.rth or not rth_only):
            day = trading_date(segment.start_ns, schedule).toordinal()
            if not dates or dates[-1] != day:
                dates.append(day)
    chosen = dates[:count][-1] if dates else trading_date(last, schedule).toordinal()
    return date_start_ns(date.fromordinal(chosen), schedule)


def _months_back(moment_ns: int, months: int) -> int:
    """`moment_ns` moved back by calendar months (the day clamped to the month's length)."""
    moment = datetime.fromtimestamp(moment_ns // 1_000_000_000, UTC)
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    shifted = moment.replace(year=year, month=month + 1, day=day)
    return moment_ns + (shifted - moment) // timedelta(microseconds=1) * 1000


def _resolution(size: BarSize) -> Resolution:
    if not size.intraday:
        return Resolution.SEGMENT
    return Resolution.BLOCK if size.minutes % Resolution.BLOCK == 0 else Resolution.MINUTE


def _decimal_bar(atom: TickBar, tick: Decimal) -> Bar:
    return Bar(
        atom.start_ns,
        atom.open * tick,
        atom.high * tick,
        atom.low * tick,
        atom.close * tick,
        atom.volume,
    )


def _resample(bars: list[Bar], size: BarSize, schedule: Schedule) -> list[Bar]:
    """Chronological `bars`, each within one bucket of `size`, merged bucket by bucket."""
    out: list[Bar] = []
    group: list[Bar] = []
    key = None
    for bar in bars:
        bar_key = bucket_key(bar.start_ns, size, schedule)
        if group and bar_key != key:
            out.append(aggregate(group))
            group = []
        key = bar_key
        group.append(bar)
    if group:
        out.append(aggregate(group))
    return out


def _as_source(bars: list[Bar], source: str, tick: Decimal) -> list[Bar]:
    if source == "trades":
        return bars
    shift = {"bid": -tick, "ask": tick}.get(source, Decimal(0))
    return [
        Bar(
            b.start_ns,
            max(tick, b.open + shift),
            max(tick, b.high + shift),
            max(tick, b.low + shift),
            max(tick, b.close + shift),
            0,
        )
        for b in bars
    ]
