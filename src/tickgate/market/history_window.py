"""One instrument's data as one request sees it: where the window ends and starts, and its bars.

The rules (documented for users in `tickgate.market.history`): the window ends at the latest
data at or before the requested end; minute and hour periods reach back in clock time, ``Nd``
over the last N trading dates with data, weeks, months and years in calendar time; the first
bar is whole. Synthetic data covers everything before the anchor, live minutes what follows.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tickgate.market.bars import Bar, LiveBars, aggregate
from tickgate.market.history_calendar import (
    DAY_NS,
    Schedule,
    bucket_floor_ns,
    bucket_key,
    date_start_ns,
    trading_date,
)
from tickgate.market.history_query import BarSize, Period, PeriodUnit
from tickgate.market.history_synth import SyntheticHistory, TickBar

__all__ = ["InstrumentData", "months_back"]


@dataclass(frozen=True, slots=True)
class InstrumentData:
    """The synthetic history and live bars of one instrument, seen in one session view."""

    synthetic: SyntheticHistory
    live: LiveBars | None
    schedule: Schedule
    rth_only: bool
    tick: Decimal

    def bars(self, period: Period, size: BarSize, end_ns: int) -> list[Bar]:
        """Chronological bars of size `size` of the window of `period` ending by `end_ns`;
        [] when there is no data at or before `end_ns`."""
        last = self.data_end(end_ns)
        if last is None:
            return []
        lo = bucket_floor_ns(self.first_instant(period, last), size, self.schedule)
        anchor = self.synthetic.anchor_ns

        def fits(start_ns: int, end_ns: int) -> bool:
            key = bucket_key(start_ns, size, self.schedule)
            return key == bucket_key(end_ns - 1, size, self.schedule)

        atoms = self.synthetic.atoms(lo, min(last, anchor), rth_only=self.rth_only, fits=fits)
        bars = [_decimal_bar(a, self.tick) for a in atoms]
        if self.live is not None:
            bars += self.live.minutes(max(lo, anchor), last)
        return self._resample(bars, size)

    def data_end(self, end_ns: int) -> int | None:
        """The end of the latest data at or before `end_ns`, or None when there is none."""
        ends = [] if self.live is None else [self.live.last_end_before(end_ns)]
        for segment, _ in self.synthetic.windows():
            if segment.start_ns < end_ns and (segment.rth or not self.rth_only):
                ends.append(min(segment.end_ns, end_ns))
                break
        found = [e for e in ends if e is not None]
        return max(found) if found else None

    def first_instant(self, period: Period, last_ns: int) -> int:
        """Where a window of `period` ending at `last_ns` starts (before snapping to a bar)."""
        if period.intraday:
            return last_ns - period.seconds * 1_000_000_000
        if period.unit is PeriodUnit.DAY:
            return self._days_back(period.count, last_ns)
        if period.unit is PeriodUnit.WEEK:
            return last_ns - period.count * 7 * DAY_NS
        return months_back(last_ns, period.count * (12 if period.unit is PeriodUnit.YEAR else 1))

    def _days_back(self, count: int, last_ns: int) -> int:
        # Trading dates with data, latest first: live minutes, then synthetic windows.
        dates: list[int] = []
        starts = [] if self.live is None else [b.start_ns for b in self.live.minutes(0, last_ns)]
        for start in reversed(starts):
            self._note_date(dates, start)
        for segment, _ in self.synthetic.windows():
            if len(dates) >= count:
                break
            if segment.start_ns < last_ns and (segment.rth or not self.rth_only):
                self._note_date(dates, segment.start_ns)
        chosen = dates[:count][-1] if dates else trading_date(last_ns, self.schedule).toordinal()
        return date_start_ns(date.fromordinal(chosen), self.schedule)

    def _note_date(self, dates: list[int], start_ns: int) -> None:
        day = trading_date(start_ns, self.schedule).toordinal()
        if not dates or dates[-1] != day:
            dates.append(day)

    def _resample(self, bars: list[Bar], size: BarSize) -> list[Bar]:
        out: list[Bar] = []
        group: list[Bar] = []
        key = None
        for bar in bars:
            bar_key = bucket_key(bar.start_ns, size, self.schedule)
            if group and bar_key != key:
                out.append(aggregate(group))
                group = []
            key = bar_key
            group.append(bar)
        if group:
            out.append(aggregate(group))
        return out


def months_back(moment_ns: int, months: int) -> int:
    """`moment_ns` moved back by calendar `months` (the day clamped to the month's length)."""
    moment = datetime.fromtimestamp(moment_ns // 1_000_000_000, UTC)
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    shifted = moment.replace(year=year, month=month + 1, day=day)
    return moment_ns + (shifted - moment) // timedelta(microseconds=1) * 1000


def _decimal_bar(atom: TickBar, tick: Decimal) -> Bar:
    return Bar(
        atom.start_ns,
        atom.open * tick,
        atom.high * tick,
        atom.low * tick,
        atom.close * tick,
        atom.volume,
    )
