"""The grammar of a history request: periods, bar sizes and the step-size table.

Protocol reference §5.2 and §8.4. Spellings are case-insensitive and may carry spaces between
number and unit (``"5 min"``); ``mins`` is accepted for ``min`` because TWS users type it.
``m`` is a month and ``min`` a minute, as in the reference.

Step sizes: IBKR documents allowed bars for a few periods only (1min, 1h, 1d, 1w, 1m, 3m, 6m,
1y, 2y, 3y, 15y). A period in between uses the row of the smallest documented period that is at
least as long, so ``2h`` follows the ``1d`` row and ``5d`` the ``1w`` row. The reference gives
``30min`` as the default bar of the ``1m`` row although its allowed range starts at ``1h``; the
default there is ``1h`` so that a defaulted request is always valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tickgate.errors import RequestError
from tickgate.protocol.rest_values import shown

__all__ = [
    "MAX_POINTS",
    "BarSize",
    "BarUnit",
    "Period",
    "PeriodUnit",
    "check_step",
    "default_bar",
    "parse_bar",
    "parse_period",
]

#: Most bars one request may return (reference §8.4, §9).
MAX_POINTS = 1000

_MINUTE = 60
_DAY = 86_400


class PeriodUnit(StrEnum):
    """Unit of a period, spelled as on the wire."""

    MINUTE = "min"
    HOUR = "h"
    DAY = "d"
    WEEK = "w"
    MONTH = "m"
    YEAR = "y"


class BarUnit(StrEnum):
    """Unit of a bar size, spelled as on the wire."""

    MINUTE = "min"
    HOUR = "h"
    DAY = "d"
    WEEK = "w"
    MONTH = "m"


# Nominal lengths, for ordering and for `barLength`; a month counts 30 days, a year 365.
_PERIOD_SECONDS = {"min": _MINUTE, "h": 3600, "d": _DAY, "w": 7 * _DAY, "m": 30 * _DAY}
_PERIOD_SECONDS["y"] = 365 * _DAY
_PERIOD_MAX = {"min": 30, "h": 8, "d": 1000, "w": 792, "m": 182, "y": 15}
_BARS: tuple[str, ...] = ("1min", "2min", "3min", "5min", "10min", "15min", "30min")
_BARS += ("1h", "2h", "3h", "4h", "8h", "1d", "1w", "1m")
# ASCII only: `\d` would otherwise match any Unicode digit ("١d"). Numbers far past every
# unit's range still parse, so "99999d" is told the range of days, not a wrong spelling.
_SPELLING = re.compile(r"^\s*(\d{1,12})\s*(mins|min|h|d|w|m|y)\s*$", re.IGNORECASE | re.ASCII)


class _Span:
    """What periods and bar sizes share: `count` units of time, spelt like ``"5min"``."""

    __slots__ = ()
    count: int
    unit: PeriodUnit | BarUnit

    @property
    def text(self) -> str:
        """The canonical wire spelling, e.g. ``"2h"`` or ``"5min"``."""
        return f"{self.count}{self.unit.value}"

    @property
    def seconds(self) -> int:
        """Nominal length in seconds (months count 30 days, years 365)."""
        return self.count * _PERIOD_SECONDS[self.unit.value]

    @property
    def intraday(self) -> bool:
        """True for minute and hour spans: cut on the clock rather than by trading date."""
        return self.unit.value in ("min", "h")


@dataclass(frozen=True, slots=True)
class Period(_Span):
    """How far back a history request reaches: `count` units (``1 <= count <= unit max``)."""

    count: int
    unit: PeriodUnit


@dataclass(frozen=True, slots=True)
class BarSize(_Span):
    """The length of one bar; only the sizes of reference §5.2 can be built by `parse_bar`."""

    count: int
    unit: BarUnit

    @property
    def minutes(self) -> int:
        """Length in minutes; meaningful for intraday bars (all of which divide a day)."""
        return self.seconds // _MINUTE


def parse_period(text: str) -> Period:
    """Parse a period such as ``"1d"``, ``"30min"`` or ``"15y"``.

    Raises RequestError (400) when the spelling or the unit's range (min 1-30, h 1-8, d 1-1000,
    w 1-792, m 1-182, y 1-15) is wrong; the message names the accepted range.
    """
    match = _SPELLING.match(text) if isinstance(text, str) else None
    if match is None:
        raise RequestError(f"invalid period {shown(text)}: expected a number and a unit, e.g. '1d'")
    count, unit = int(match.group(1)), match.group(2).lower().replace("mins", "min")
    if not 1 <= count <= _PERIOD_MAX[unit]:
        raise RequestError(
            f"invalid period {shown(text)}: "
            f"{unit} periods go from 1{unit} to {_PERIOD_MAX[unit]}{unit}"
        )
    return Period(count, PeriodUnit(unit))


def parse_bar(text: str) -> BarSize:
    """Parse a bar size; only 1min 2min 3min 5min 10min 15min 30min 1h 2h 3h 4h 8h 1d 1w 1m.

    Raises RequestError (400) for anything else, listing the accepted sizes.
    """
    match = _SPELLING.match(text) if isinstance(text, str) else None
    unit = "" if match is None else match.group(2).lower().replace("mins", "min")
    if match is None or f"{int(match.group(1))}{unit}" not in _BARS:
        raise RequestError(f"invalid bar {shown(text)}: expected one of {', '.join(_BARS)}")
    return BarSize(int(match.group(1)), BarUnit(unit))


# (documented period, smallest bar, largest bar, default bar), shortest period first.
_STEPS = (
    ("1min", "1min", "1min", "1min"),
    ("1h", "1min", "8h", "1min"),
    ("1d", "1min", "8h", "1min"),
    ("1w", "10min", "1w", "15min"),
    ("1m", "1h", "1m", "1h"),
    ("3m", "2h", "1m", "1d"),
    ("6m", "4h", "1m", "1d"),
    ("1y", "8h", "1m", "1d"),
    ("2y", "1d", "1m", "1d"),
    ("3y", "1d", "1m", "1w"),
    ("15y", "1w", "1m", "1w"),
)


def _step_row(period: Period) -> tuple[str, str, str, str]:
    for row in _STEPS:
        if parse_period(row[0]).seconds >= period.seconds:
            return row
    return _STEPS[-1]


def default_bar(period: Period) -> BarSize:
    """The bar IBKR uses for `period` when the request names none (always a valid bar)."""
    return parse_bar(_step_row(period)[3])


def check_step(period: Period, bar: BarSize) -> None:
    """Refuse a bar size outside the step-size range of `period` (reference §8.4). A bar as
    long as the period itself is always accepted (``period=1d&bar=1d`` is the day's bar, as
    the real gateway answers it), even where the table's largest bar is shorter.

    Raises RequestError (400) naming the allowed range.
    """
    documented, smallest, largest, _ = _step_row(period)
    longest = max(parse_bar(largest).seconds, min(bar.seconds, period.seconds))
    if not parse_bar(smallest).seconds <= bar.seconds <= longest:
        raise RequestError(
            f"bar {bar.text} is not allowed for period {period.text}: periods up to "
            f"{documented} take bars from {smallest} to {largest}, or one bar of the period"
        )
