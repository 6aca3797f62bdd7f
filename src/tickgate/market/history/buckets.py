"""Trading windows and bar buckets for synthetic history and resampling, read off `calendar`.

The sessions themselves (time zones, hours, holidays, early closes) belong to
`tickgate.market.calendar`; this module only adds what history needs on top:

* a session's windows (pre-market, regular hours, after-hours; one window where a market has
  no extended hours) with their shares of the date's volume and variance;
* bar buckets: intraday buckets are cut on the market's wall clock from local midnight (a 1h
  bar covers 10:00-11:00 local, so US regular hours open with a half bar at 09:30, also on the
  days daylight saving starts or ends); day, week and month buckets follow the trading date.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from tickgate.clock import NS_PER_DAY, NS_PER_MINUTE
from tickgate.market.calendar import CME_GLOBEX, FX, US_REGULAR, MarketCalendar
from tickgate.market.history.query import BarSize, BarUnit

__all__ = [
    "Segment",
    "bucket_floor_ns",
    "bucket_key",
    "gap_variance",
    "segments_before",
]


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


# (volume share, variance share) of the windows before, during and after regular hours, and
# the share of a day's variance in the closed hours before the session.
_EXTENDED_SHARES = (((0.05, 0.10), (0.88, 0.75), (0.07, 0.05)), 0.10)
_SHARES: dict[str, tuple[tuple[tuple[float, float], ...], float]] = {
    US_REGULAR.name: (((0.0, 0.0), (1.0, 0.85), (0.0, 0.0)), 0.15),
    CME_GLOBEX.name: (((0.22, 0.25), (0.74, 0.65), (0.04, 0.05)), 0.05),
    FX.name: (((0.0, 0.0), (1.0, 0.95), (0.0, 0.0)), 0.05),
}


def _shares(calendar: MarketCalendar) -> tuple[tuple[tuple[float, float], ...], float]:
    return _SHARES.get(calendar.name, _EXTENDED_SHARES)


def gap_variance(calendar: MarketCalendar) -> float:
    """Share of a day's variance that falls in the closed hours before a session."""
    return _shares(calendar)[1]


def segments_before(calendar: MarketCalendar, end_ns: int) -> Iterator[Segment]:
    """Every trading window that starts before `end_ns`, latest first, cut at `end_ns`.

    The iterator is endless (it walks back through the calendar's sessions); callers stop it.
    """
    windows, _ = _shares(calendar)
    for hours in calendar.sessions_before(end_ns):
        parts = [
            (hours.start_ns, hours.open_ns, False, windows[0]),
            (hours.open_ns, hours.close_ns, True, windows[1]),
            (hours.close_ns, hours.end_ns, False, windows[2]),
        ]
        for start, end, rth, (volume, variance) in reversed(parts):
            if start < end and start < end_ns:
                yield Segment(start, min(end, end_ns), end - start, rth, volume, variance)


def bucket_key(utc_ns: int, bar: BarSize, calendar: MarketCalendar) -> int:
    """An integer naming the bar of size `bar` that `utc_ns` falls in; keys never decrease
    as time goes on."""
    if bar.intraday:
        return bucket_floor_ns(utc_ns, bar, calendar)
    day = calendar.trading_date(utc_ns)
    if bar.unit is BarUnit.DAY:
        return day.toordinal()
    if bar.unit is BarUnit.WEEK:
        return day.toordinal() - day.weekday()
    return day.year * 12 + day.month - 1


def bucket_floor_ns(utc_ns: int, bar: BarSize, calendar: MarketCalendar) -> int:
    """First instant of the bar of size `bar` that contains `utc_ns`."""
    if bar.intraday:
        offset = calendar.offset_ns(utc_ns)
        shifted = utc_ns + offset
        floored = (
            shifted
            - shifted % NS_PER_DAY
            + (shifted % NS_PER_DAY)
            // (bar.minutes * NS_PER_MINUTE)
            * (bar.minutes * NS_PER_MINUTE)
        )
        start = floored - calendar.offset_ns(floored - offset)
        # Around a daylight-saving switch the wall-clock floor can land after the instant (the
        # repeated hour); the bucket then starts an hour earlier on the same wall clock.
        return start if start <= utc_ns else floored - offset
    day = calendar.trading_date(utc_ns)
    if bar.unit is BarUnit.WEEK:
        day -= timedelta(days=day.weekday())
    elif bar.unit is BarUnit.MONTH:
        day = day.replace(day=1)
    return calendar.date_start_ns(day)
