"""One instrument's data as one request sees it: where the window ends and starts, and its bars.

The rules (documented for users in `tickgate.market.history.service`): the window ends at the latest
data at or before the requested end; minute and hour periods reach back in clock time, ``Nd``
to the start of the N-th latest trading session of the instrument's calendar (its regular open
for regular-hours requests), weeks, months and years in calendar time; the first bar is whole.
Synthetic data covers everything before the anchor, live minutes what follows; a regular-hours
request keeps only the minutes the calendar puts in regular hours.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tickgate.clock import NS_PER_DAY, NS_PER_MINUTE, NS_PER_S
from tickgate.market.bars import Bar, LiveBars, aggregate
from tickgate.market.calendar import MarketCalendar, Phase
from tickgate.market.history.buckets import bucket_floor_ns, bucket_key, segments_before
from tickgate.market.history.query import BarSize, Period, PeriodUnit
from tickgate.market.history.synthetic import SyntheticHistory, TickBar

__all__ = ["InstrumentData", "months_back"]


@dataclass(frozen=True, slots=True)
class InstrumentData:
    """The synthetic history and live bars of one instrument, seen in one session view."""

    synthetic: SyntheticHistory
    live: LiveBars | None
    calendar: MarketCalendar
    rth_only: bool
    tick: Decimal

    def bars(self, period: Period, size: BarSize, end_ns: int) -> list[Bar]:
        """Chronological bars of size `size` of the window of `period` ending by `end_ns`;
        [] when there is no data at or before `end_ns`."""
        last = self.data_end(end_ns)
        if last is None:
            return []
        lo = bucket_floor_ns(self.first_instant(period, last), size, self.calendar)
        anchor = self.synthetic.anchor_ns

        def fits(start_ns: int, end_ns: int) -> bool:
            key = bucket_key(start_ns, size, self.calendar)
            return key == bucket_key(end_ns - 1, size, self.calendar)

        atoms = self.synthetic.atoms(lo, min(last, anchor), rth_only=self.rth_only, fits=fits)
        bars = [_decimal_bar(a, self.tick) for a in atoms]
        bars += self._live_minutes(max(lo, anchor), last)
        return self._resample(bars, size)

    def _live_minutes(self, lo_ns: int, hi_ns: int) -> list[Bar]:
        if self.live is None:
            return []
        minutes = self.live.minutes(lo_ns, hi_ns)
        if not self.rth_only:
            return minutes
        phase = self.calendar.phase
        return [b for b in minutes if phase(b.start_ns) is Phase.REGULAR]

    def data_end(self, end_ns: int) -> int | None:
        """The end of the latest data at or before `end_ns`, or None when there is none."""
        ends: list[int | None] = []
        if self.live is not None and not self.rth_only:
            ends.append(self.live.last_end_before(end_ns))
        elif self.live is not None:
            # Regular hours only: the latest live minute the calendar counts as regular hours.
            for hours in self.calendar.sessions_before(end_ns):
                if hours.close_ns <= self.synthetic.anchor_ns:
                    break
                regular = self._live_minutes(hours.open_ns, min(hours.close_ns, end_ns))
                if regular:
                    ends.append(min(regular[-1].start_ns + NS_PER_MINUTE, end_ns))
                    break
        for segment, _ in self.synthetic.windows():
            if segment.start_ns < end_ns and (segment.rth or not self.rth_only):
                ends.append(min(segment.end_ns, end_ns))
                break
        found = [e for e in ends if e is not None]
        return max(found) if found else None

    def first_instant(self, period: Period, last_ns: int) -> int:
        """Where a window of `period` ending at `last_ns` starts (before snapping to a bar)."""
        if period.intraday:
            return last_ns - period.seconds * NS_PER_S
        if period.unit is PeriodUnit.DAY:
            return self._days_back(period.count, last_ns)
        if period.unit is PeriodUnit.WEEK:
            return last_ns - period.count * 7 * NS_PER_DAY
        return months_back(last_ns, period.count * (12 if period.unit is PeriodUnit.YEAR else 1))

    def _days_back(self, count: int, last_ns: int) -> int:
        # The calendar's sessions, not the dates that happen to hold data: a live trade after
        # midnight (round-the-clock simulation) does not start a trading day.
        seen = 0
        for hours in self.calendar.sessions_before(last_ns):
            start = hours.open_ns if self.rth_only else hours.start_ns
            if start < last_ns:
                seen += 1
                if seen == count:
                    return start
        raise AssertionError("unreachable: sessions_before is endless")

    def _resample(self, bars: list[Bar], size: BarSize) -> list[Bar]:
        out: list[Bar] = []
        group: list[Bar] = []
        key = None
        for bar in bars:
            bar_key = bucket_key(bar.start_ns, size, self.calendar)
            if group and bar_key != key:
                out.append(self._on_grid(aggregate(group), size))
                group = []
            key = bar_key
            group.append(bar)
        if group:
            out.append(self._on_grid(aggregate(group), size))
        return out

    def _on_grid(self, bar: Bar, size: BarSize) -> Bar:
        """`bar` stamped with the start of its intraday bucket, or of the trading window it
        opens when that is later (US regular hours' 1h bars start at 09:30): a bar whose data
        begins late (the simulator's first live minute, 02:01) is still the 02:00 bar."""
        if not size.intraday:
            return bar
        floor = bucket_floor_ns(bar.start_ns, size, self.calendar)
        if bar.start_ns == floor:
            return bar
        window = next(segments_before(self.calendar, bar.start_ns + 1))
        return replace(bar, start_ns=max(floor, window.start_ns))


def months_back(moment_ns: int, months: int) -> int:
    """`moment_ns` moved back by calendar `months` (the day clamped to the month's length)."""
    moment = datetime.fromtimestamp(moment_ns // NS_PER_S, UTC)
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
