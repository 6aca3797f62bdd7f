"""Trading sessions and bar buckets on US/Eastern time, for synthetic history and resampling.

No time-zone database is needed: the US daylight-saving rule (second Sunday of March to first
Sunday of November, 02:00 local) is computed. Exchange holidays are not modelled: every weekday
trades. Schedules (protocol reference §5.2, "RTH 09:30-16:00 US/Eastern"):

* EXTENDED (stocks): pre-market 04:00-09:30, regular hours 09:30-16:00, after-hours 16:00-20:00.
* REGULAR (options, indices): 09:30-16:00 only.
* AROUND_THE_CLOCK (FX, futures): 18:00 of the previous day to 17:00, Monday to Friday; the
  whole session counts as regular hours, and it belongs to the date on which it ends.

Intraday buckets are cut on the clock from local midnight (a 1h bar covers 10:00-11:00 ET, so
regular hours open with a half bar at 09:30); day, week and month buckets follow the trading
date. Every intraday bar size divides a day, so buckets never straddle midnight.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from functools import lru_cache

from tickgate.market.history_query import BarSize, BarUnit
from tickgate.model.instruments import Instrument, SecType

__all__ = [
    "Schedule",
    "Segment",
    "bucket_floor_ns",
    "bucket_key",
    "date_start_ns",
    "eastern_offset_ns",
    "local_to_utc_ns",
    "schedule_of",
    "segments_before",
    "trading_date",
]

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
_EPOCH = date(1970, 1, 1)


class Schedule(Enum):
    """When an instrument trades."""

    EXTENDED = "extended"
    REGULAR = "regular"
    AROUND_THE_CLOCK = "around the clock"


@dataclass(frozen=True, slots=True)
class Segment:
    """A contiguous trading window of one trading date, [start_ns, end_ns).

    `full_ns` is the window's length before any truncation (at the history's anchor);
    `volume_share` and `variance_share` are its parts of the date's volume and variance.
    """

    start_ns: int
    end_ns: int
    full_ns: int
    rth: bool
    volume_share: float
    variance_share: float


# (start minute, end minute, regular hours, volume share, variance share); minutes are local
# to the trading date, negative ones belong to the previous calendar day.
_WINDOWS = {
    Schedule.EXTENDED: (
        (240, 570, False, 0.05, 0.10),
        (570, 960, True, 0.88, 0.75),
        (960, 1200, False, 0.07, 0.05),
    ),
    Schedule.REGULAR: ((570, 960, True, 1.0, 0.85),),
    Schedule.AROUND_THE_CLOCK: ((-360, 1020, True, 1.0, 0.95),),
}

#: Share of a day's variance that falls in the closed hours before the first segment.
GAP_VARIANCE = {Schedule.EXTENDED: 0.10, Schedule.REGULAR: 0.15, Schedule.AROUND_THE_CLOCK: 0.05}


def schedule_of(instrument: Instrument) -> Schedule:
    """The trading schedule tickgate simulates for `instrument`'s security type."""
    if instrument.sec_type is SecType.STK:
        return Schedule.EXTENDED
    if instrument.sec_type in (SecType.CASH, SecType.FUT):
        return Schedule.AROUND_THE_CLOCK
    return Schedule.REGULAR


def _day_ns(day: date) -> int:
    return (day - _EPOCH).days * DAY_NS


@lru_cache(maxsize=64)
def _dst_ns(year: int) -> tuple[int, int]:
    march = date(year, 3, 1)
    start = march + timedelta(days=(6 - march.weekday()) % 7 + 7)
    november = date(year, 11, 1)
    end = november + timedelta(days=(6 - november.weekday()) % 7)
    # 02:00 local: 07:00 UTC while on standard time, 06:00 UTC while on daylight time.
    return _day_ns(start) + 7 * HOUR_NS, _day_ns(end) + 6 * HOUR_NS


def eastern_offset_ns(utc_ns: int) -> int:
    """Offset of US/Eastern from UTC at `utc_ns`: -4h in daylight-saving time, else -5h."""
    start, end = _dst_ns(_year_of_day(utc_ns // DAY_NS))
    return -4 * HOUR_NS if start <= utc_ns < end else -5 * HOUR_NS


@lru_cache(maxsize=8192)
def _year_of_day(day_index: int) -> int:
    return (_EPOCH + timedelta(days=day_index)).year


def local_to_utc_ns(day: date, minute: int) -> int:
    """UTC instant of `minute` minutes after local midnight of `day` in US/Eastern."""
    local = _day_ns(day) + minute * MINUTE_NS
    return local - eastern_offset_ns(local + 5 * HOUR_NS)


def _local(utc_ns: int) -> tuple[date, int]:
    shifted = utc_ns + eastern_offset_ns(utc_ns)
    return _EPOCH + timedelta(days=shifted // DAY_NS), (shifted % DAY_NS) // MINUTE_NS


def trading_date(utc_ns: int, schedule: Schedule) -> date:
    """The trading date `utc_ns` belongs to (evening FX/futures trading counts for the next day)."""
    day, minute = _local(utc_ns)
    if schedule is Schedule.AROUND_THE_CLOCK and minute >= 18 * 60:
        return day + timedelta(days=1)
    return day


def date_start_ns(day: date, schedule: Schedule) -> int:
    """First instant of trading date `day`: local midnight, or 18:00 the day before for FX."""
    if schedule is Schedule.AROUND_THE_CLOCK:
        return local_to_utc_ns(day - timedelta(days=1), 18 * 60)
    return local_to_utc_ns(day, 0)


def _date_segments(day: date, schedule: Schedule) -> list[Segment]:
    segments = []
    for first, last, rth, volume, variance in _WINDOWS[schedule]:
        start = local_to_utc_ns(day, first)
        end = local_to_utc_ns(day, last)
        segments.append(Segment(start, end, end - start, rth, volume, variance))
    return segments


def segments_before(schedule: Schedule, end_ns: int) -> Iterator[Segment]:
    """Every trading window that starts before `end_ns`, latest first, cut at `end_ns`.

    The iterator is endless (it walks back through weekdays); callers stop it.
    """
    day = trading_date(end_ns, schedule) + timedelta(days=1)
    while True:
        if day.weekday() < 5:
            for segment in reversed(_date_segments(day, schedule)):
                if segment.start_ns < end_ns:
                    end = min(segment.end_ns, end_ns)
                    yield Segment(
                        segment.start_ns,
                        end,
                        segment.full_ns,
                        segment.rth,
                        segment.volume_share,
                        segment.variance_share,
                    )
        day -= timedelta(days=1)


def bucket_key(utc_ns: int, bar: BarSize, schedule: Schedule) -> int:
    """An integer naming the bar of size `bar` that `utc_ns` falls in; keys grow with time."""
    if bar.intraday:
        return bucket_floor_ns(utc_ns, bar, schedule)
    day = trading_date(utc_ns, schedule)
    if bar.unit is BarUnit.DAY:
        return day.toordinal()
    if bar.unit is BarUnit.WEEK:
        return day.toordinal() - day.weekday()
    return day.year * 12 + day.month - 1


def bucket_floor_ns(utc_ns: int, bar: BarSize, schedule: Schedule) -> int:
    """First instant of the bar of size `bar` that contains `utc_ns`."""
    if bar.intraday:
        midnight = local_to_utc_ns(_local(utc_ns)[0], 0)
        size = bar.minutes * MINUTE_NS
        return midnight + (utc_ns - midnight) // size * size
    day = trading_date(utc_ns, schedule)
    if bar.unit is BarUnit.WEEK:
        day -= timedelta(days=day.weekday())
    elif bar.unit is BarUnit.MONTH:
        day = day.replace(day=1)
    return date_start_ns(day, schedule)
