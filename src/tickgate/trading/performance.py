"""Portfolio Analyst's returns, computed from the daily net-liquidation series.

The method is IBKR's time-weighted return (TWR): each day's return is its closing net
liquidation over its starting one, and a period's cumulative return chains the days of the
period, `(1 + r1)(1 + r2)... - 1`. Deposits cannot distort it: a day stands alone (and tickgate
books no transfers). Several accounts consolidate by adding their values day by day before the
ratio, as one combined account would.

Periods are IBKR's: `1D` (the latest day), `7D`, `1M`, `3M`, `6M` and `12M` (the days after the
same date a week or as many months before the latest), `MTD` and `YTD` (the latest day's month
and year); `1Y`, the older name of `12M`, is accepted too. Pure: the series is passed in.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tickgate.errors import RequestError
from tickgate.protocol.rest_values import shown
from tickgate.trading.daily_values import DailyValue, merged

#: The periods `/pa/performance` takes, as IBKR lists them today (`1Y` is `12M`'s older name).
PERIODS: tuple[str, ...] = ("1D", "7D", "MTD", "1M", "3M", "6M", "12M", "YTD", "1Y")
#: The periods `/pa/allperiods` answers, as IBKR's example lists them.
ALL_PERIODS: tuple[str, ...] = ("1D", "7D", "MTD", "1M", "YTD", "1Y")
_MONTHS = {"1M": 1, "3M": 3, "6M": 6, "12M": 12, "1Y": 12}
ONE = Decimal(1)


def _months_back(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_start(period: str, latest: date) -> date:
    """The first day `period` covers when its latest day is `latest`. Raises RequestError for
    a period IBKR does not name."""
    match period:
        case "1D":
            return latest
        case "7D":
            return latest - timedelta(days=6)
        case "MTD":
            return latest.replace(day=1)
        case "YTD":
            return latest.replace(month=1, day=1)
    if period in _MONTHS:
        return _months_back(latest, _MONTHS[period]) + timedelta(days=1)
    raise RequestError(f"period must be one of {', '.join(PERIODS)}, got {shown(period)}")


def with_today(stored: Sequence[DailyValue], live: DailyValue) -> list[DailyValue]:
    """The stored days followed by the day in progress (`live`): a live day that a close
    already began (a close on request earlier the same day) extends that day."""
    days = list(stored)
    if days and days[-1].day == live.day:
        days[-1] = merged(days[-1], live)
    elif not days or days[-1].day < live.day:
        days.append(live)
    return days


def consolidated(series: Iterable[Sequence[DailyValue]], name: str) -> list[DailyValue]:
    """Several accounts' days added together day by day, as the account `name`."""
    totals: dict[date, DailyValue] = {}
    for days in series:
        for value in days:
            seen = totals.get(value.day)
            if seen is None:
                totals[value.day] = DailyValue(name, value.day, value.start, value.end, value.ts_ns)
            else:
                totals[value.day] = DailyValue(
                    name, value.day, seen.start + value.start, seen.end + value.end,
                    max(seen.ts_ns, value.ts_ns),
                )  # fmt: skip
    return [totals[day] for day in sorted(totals)]


@dataclass(frozen=True, slots=True)
class PeriodReturns:
    """One period of one series: its days, cumulative returns and monthly returns."""

    period: str
    days: list[DailyValue]
    cumulative: list[Decimal]  # after each day, from the period's start
    months: list[tuple[str, Decimal]]  # ("YYYYMM", that month's return within the period)

    @property
    def start_value(self) -> Decimal:
        """Net liquidation when the period began (0 for an empty period)."""
        return self.days[0].start if self.days else Decimal(0)

    @property
    def end_value(self) -> Decimal:
        """Net liquidation at the period's last day (0 for an empty period)."""
        return self.days[-1].end if self.days else Decimal(0)

    @property
    def total(self) -> Decimal:
        """The period's time-weighted return (0 for an empty period)."""
        return self.cumulative[-1] if self.cumulative else Decimal(0)


def period_returns(days: Sequence[DailyValue], period: str) -> PeriodReturns:
    """The returns of `period` ending at the series' latest day. Raises RequestError for an
    unknown period."""
    if not days:
        period_start(period, date.min)  # validates the name
        return PeriodReturns(period, [], [], [])
    first = period_start(period, days[-1].day)
    chosen = [d for d in days if d.day >= first]
    cumulative: list[Decimal] = []
    growth = ONE
    months: dict[str, Decimal] = {}
    for value in chosen:
        factor = ONE + value.day_return
        growth *= factor
        cumulative.append(growth - ONE)
        key = f"{value.day.year:04d}{value.day.month:02d}"
        months[key] = months.get(key, ONE) * factor
    return PeriodReturns(period, chosen, cumulative, [(k, g - ONE) for k, g in months.items()])
