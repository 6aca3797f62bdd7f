"""Market calendars: when each market trades, in its own time zone. The one owner of "is it open?".

Every other part of tickgate (the simulator's sessions, the daily close, DAY/OPG/MOC timing,
history windows and buckets, the futures and option expiries, `/trsrv/secdef/schedule`) asks
this module. Local times are converted with `zoneinfo`, so daylight saving needs no rule of
our own; holidays and early closes come from the `holidays` package's exchange calendars
(`financial_holidays("NYSE")` and `("CME")`, categories ``public`` and ``half_day``), which are
maintained upstream and reach back far enough for 15 years of synthetic history.

A *session* belongs to one trading date (a weekday that is not a holiday) and runs, in the
market's local time:

* US equities (NYSE, Nasdaq, ARCA): pre-market 04:00-09:30, regular 09:30-16:00, after-hours
  16:00-20:00, America/New_York; on NYSE early-close days (the day after Thanksgiving, Christmas
  Eve, July 3 when it is a weekday before a July 4 holiday) regular hours end at 13:00 and
  after-hours at 17:00.
* US options and indices: regular hours only, 09:30-16:00 (13:00 on early closes).
* CME Globex futures: 17:00 of the previous day to 16:00, America/Chicago, so the daily
  16:00-17:00 maintenance break falls between two sessions and Monday's session opens on
  Sunday at 17:00. Regular (liquid) hours are 08:30-15:00, the rest is extended. On CME's
  early-close days trading stops at 12:00.
* FX (IDEALPRO): around the clock from Sunday 17:00 to Friday 17:00 New York time; each session
  runs from 17:00 of the previous day and is regular hours throughout; no holidays.

Guarantees: sessions of one calendar never overlap and come in date order; every answer is a
pure function of the instant asked about (no clock is read here). Thread-safe: results are
cached behind a lock, since history computations run on worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from tickgate.clock import NS_PER_DAY, NS_PER_HOUR, NS_PER_MINUTE, NS_PER_S
from tickgate.model.instruments import Instrument, SecType

__all__ = [
    "CALENDARS",
    "CME_GLOBEX",
    "FX",
    "US_EQUITY",
    "US_REGULAR",
    "Hours",
    "MarketCalendar",
    "Phase",
    "calendar_of",
]

_EPOCH = date(1970, 1, 1)
_CACHE_LOCK = threading.Lock()


class Phase(StrEnum):
    """Where an instant falls in a market's day."""

    CLOSED = "closed"
    EXTENDED = "extended"  # pre-market, after-hours, or a futures session outside liquid hours
    REGULAR = "regular"


@dataclass(frozen=True, slots=True)
class Hours:
    """One session of a trading date `day`, as epoch ns: trading runs over [start_ns, end_ns),
    regular hours over [open_ns, close_ns). start <= open <= close <= end."""

    day: date
    start_ns: int
    open_ns: int
    close_ns: int
    end_ns: int
    early_close: bool

    def phase(self, ns: int) -> Phase:
        """The phase of instant `ns` within this session (CLOSED outside it)."""
        if self.open_ns <= ns < self.close_ns:
            return Phase.REGULAR
        if self.start_ns <= ns < self.end_ns:
            return Phase.EXTENDED
        return Phase.CLOSED

    def boundaries(self) -> tuple[int, int, int, int]:
        """The instants the phase can change at: start, open, close, end."""
        return self.start_ns, self.open_ns, self.close_ns, self.end_ns


@lru_cache(maxsize=256)
def _holidays_of(market: str, category: str, year: int) -> frozenset[date]:
    # `holidays` fills its years lazily inside a dict; build each (market, year) once, locked.
    with _CACHE_LOCK:
        found = holidays.financial_holidays(market, years=year, categories=(category,))
        return frozenset(found)


def _exchange_days(market: str, category: str) -> Callable[[int], frozenset[date]]:
    return lambda year: _holidays_of(market, category, year)


def _none(year: int) -> frozenset[date]:
    return frozenset()


@dataclass(frozen=True, slots=True)
class _Minutes:
    """A session's shape in minutes after local midnight of its trading date (negative: the
    evening before)."""

    start: int
    open: int
    close: int
    end: int


class MarketCalendar:
    """The sessions of one market. See the module docstring for the built-in ones."""

    def __init__(
        self,
        name: str,
        zone: str,
        *,
        hours: _Minutes,
        early: _Minutes | None = None,
        closed_days: Callable[[int], frozenset[date]] = _none,
        early_days: Callable[[int], frozenset[date]] = _none,
    ) -> None:
        self.name = name
        self.zone = ZoneInfo(zone)
        self._hours = hours
        self._early = early or hours
        self._closed_days = closed_days
        self._early_days = early_days
        self._session_cache: dict[date, Hours | None] = {}
        # Offsets change on whole hours in every zone used here: cache them per UTC hour.
        self._offset_of_hour = lru_cache(maxsize=1 << 17)(self._offset_at_hour)

    def __repr__(self) -> str:
        return f"MarketCalendar({self.name!r})"

    @property
    def has_extended_hours(self) -> bool:
        """True when the market trades outside its regular hours."""
        shape = self._hours
        return shape.start < shape.open or shape.close < shape.end

    @property
    def regular_minutes(self) -> int:
        """Length of a full (not early-closing) day's regular hours in minutes."""
        return self._hours.close - self._hours.open

    def is_trading_day(self, day: date) -> bool:
        """True when `day` has a session (a weekday that is not a full holiday)."""
        return day.weekday() < 5 and day not in self._closed_days(day.year)

    def is_early_close(self, day: date) -> bool:
        """True when `day` is a trading day that closes early."""
        return self.is_trading_day(day) and day in self._early_days(day.year)

    def session(self, day: date) -> Hours | None:
        """The session of trading date `day`, or None on a weekend or holiday."""
        if day in self._session_cache:
            return self._session_cache[day]
        hours = None
        if self.is_trading_day(day):
            early = self.is_early_close(day)
            shape = self._early if early else self._hours
            hours = Hours(
                day,
                self.local_ns(day, shape.start),
                self.local_ns(day, shape.open),
                self.local_ns(day, shape.close),
                self.local_ns(day, shape.end),
                early,
            )
        with _CACHE_LOCK:
            self._session_cache[day] = hours
        return hours

    def local_ns(self, day: date, minute: int) -> int:
        """Epoch ns of `minute` minutes after local midnight of `day` (wall-clock minutes: on a
        daylight-saving switch day 02:30 means what a clock on the wall shows)."""
        moment = datetime.combine(day, time()) + timedelta(minutes=minute)
        return int(moment.replace(tzinfo=self.zone).timestamp()) * NS_PER_S

    def _offset_at_hour(self, hour: int) -> int:
        moment = datetime.fromtimestamp(hour * 3600, UTC).astimezone(self.zone)
        offset = moment.utcoffset()
        assert offset is not None
        return int(offset.total_seconds()) * NS_PER_S

    def offset_ns(self, ns: int) -> int:
        """Local time minus UTC at instant `ns`, in ns."""
        return self._offset_of_hour(ns // NS_PER_HOUR)

    def local(self, ns: int) -> tuple[date, int]:
        """Instant `ns` as its local date and minute of that day."""
        shifted = ns + self.offset_ns(ns)
        days, rest = divmod(shifted, NS_PER_DAY)
        return _EPOCH + timedelta(days=days), rest // NS_PER_MINUTE

    def trading_date(self, ns: int) -> date:
        """The trading date `ns` belongs to: its local date, or the next one once the evening
        session of the next date has begun (17:00 for FX and CME). Defined at every instant,
        also when the market is closed (a Saturday belongs to Saturday or Sunday)."""
        day, minute = self.local(ns)
        if self._hours.start < 0 and minute >= 1440 + self._hours.start:
            return day + timedelta(days=1)
        return day

    def date_start_ns(self, day: date) -> int:
        """The first instant of trading date `day`: local midnight, or the previous evening's
        session start for markets that open the evening before."""
        return self.local_ns(day, min(0, self._hours.start))

    def sessions_before(self, end_ns: int) -> Iterator[Hours]:
        """Every session that starts before `end_ns`, latest first (endless: callers stop)."""
        day = self.trading_date(end_ns) + timedelta(days=1)
        while True:
            hours = self.session(day)
            if hours is not None and hours.start_ns < end_ns:
                yield hours
            day -= timedelta(days=1)

    def sessions_after(self, ns: int) -> Iterator[Hours]:
        """Every session that ends after `ns`, earliest first (endless: callers stop)."""
        day = self.trading_date(ns) - timedelta(days=1)
        while True:
            hours = self.session(day)
            if hours is not None and hours.end_ns > ns:
                yield hours
            day += timedelta(days=1)

    def current_or_next(self, ns: int) -> Hours:
        """The session in progress at `ns`, else the next one."""
        return next(self.sessions_after(ns))

    def phase(self, ns: int) -> Phase:
        """The phase of the market at instant `ns`."""
        return self.current_or_next(ns).phase(ns)

    def next_change_ns(self, ns: int) -> int:
        """The first instant after `ns` at which the phase may change."""
        for hours in self.sessions_after(ns):
            for boundary in hours.boundaries():
                if boundary > ns:
                    return boundary
        raise AssertionError("unreachable: sessions_after is endless")

    def next_open_ns(self, ns: int) -> int:
        """The first regular open strictly after `ns`."""
        return next(h.open_ns for h in self.sessions_after(ns) if h.open_ns > ns)

    def next_close_ns(self, ns: int) -> int:
        """The first regular close strictly after `ns`."""
        return next(h.close_ns for h in self.sessions_after(ns) if h.close_ns > ns)

    def previous_close_ns(self, ns: int) -> int:
        """The latest regular close at or before `ns`."""
        return next(h.close_ns for h in self.sessions_before(ns + 1) if h.close_ns <= ns)


US_EQUITY = MarketCalendar(
    "US equities",
    "America/New_York",
    hours=_Minutes(4 * 60, 9 * 60 + 30, 16 * 60, 20 * 60),
    early=_Minutes(4 * 60, 9 * 60 + 30, 13 * 60, 17 * 60),
    closed_days=_exchange_days("NYSE", "public"),
    early_days=_exchange_days("NYSE", "half_day"),
)
US_REGULAR = MarketCalendar(
    "US options and indices",
    "America/New_York",
    hours=_Minutes(9 * 60 + 30, 9 * 60 + 30, 16 * 60, 16 * 60),
    early=_Minutes(9 * 60 + 30, 9 * 60 + 30, 13 * 60, 13 * 60),
    closed_days=_exchange_days("NYSE", "public"),
    early_days=_exchange_days("NYSE", "half_day"),
)
CME_GLOBEX = MarketCalendar(
    "CME Globex",
    "America/Chicago",
    hours=_Minutes(-7 * 60, 8 * 60 + 30, 15 * 60, 16 * 60),
    early=_Minutes(-7 * 60, 8 * 60 + 30, 12 * 60, 12 * 60),
    closed_days=_exchange_days("CME", "public"),
    early_days=_exchange_days("CME", "half_day"),
)
FX = MarketCalendar(
    "FX",
    "America/New_York",
    hours=_Minutes(-7 * 60, -7 * 60, 17 * 60, 17 * 60),
)

#: Every built-in calendar, in the order the startup banner lists them.
CALENDARS = (US_EQUITY, US_REGULAR, CME_GLOBEX, FX)


def calendar_of(instrument: Instrument) -> MarketCalendar:
    """The calendar `instrument` trades on, by its security type: stocks and ETFs on the US
    equity calendar (with extended hours), options and indices on regular hours only, futures
    on CME Globex, FX pairs around the clock."""
    if instrument.sec_type is SecType.STK:
        return US_EQUITY
    if instrument.sec_type is SecType.FUT:
        return CME_GLOBEX
    if instrument.sec_type is SecType.CASH:
        return FX
    return US_REGULAR
