"""Expiry calendars of the built-in futures and option chains, and the month codes IBKR uses.

Business days are the trading days of the CME Globex calendar (`tickgate.market.calendar`):
weekdays that are not CME holidays, floating and observed holidays included.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from datetime import date, timedelta

from tickgate.market.calendar import CME_GLOBEX
from tickgate.protocol.rest.contracts import MONTHS as _MONTHS

__all__ = [
    "ExpiryRule",
    "crude_oil_last_trade",
    "expiries",
    "gold_last_trade",
    "month_code",
    "third_friday",
]

_FRIDAY = 4

# Maps a contract month (year, month) to its last trading day.
ExpiryRule = Callable[[int, int], date]


def month_code(expiry: str) -> str:
    """IBKR month code of a YYYYMMDD expiry: `"20270115"` -> `"JAN27"`.

    Raises ValueError when `expiry` is not a valid YYYYMMDD date.
    """
    day = parse_expiry(expiry)
    return f"{_MONTHS[day.month - 1]}{day.year % 100:02d}"


def parse_expiry(expiry: str) -> date:
    """The date of a YYYYMMDD string. Raises ValueError for anything else."""
    if len(expiry) != 8 or not expiry.isascii() or not expiry.isdigit():
        raise ValueError(f"expiry must be YYYYMMDD, got {expiry!r}")
    return date(int(expiry[:4]), int(expiry[4:6]), int(expiry[6:]))


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month: the standard monthly equity option and index future expiry."""
    first = date(year, month, 1)
    first_friday = first + timedelta(days=(_FRIDAY - first.weekday()) % 7)
    return first_friday + timedelta(weeks=2)


def _is_business_day(day: date) -> bool:
    return CME_GLOBEX.is_trading_day(day)


def _business_days_before(day: date, count: int) -> date:
    while count:
        day -= timedelta(days=1)
        if _is_business_day(day):
            count -= 1
    return day


def crude_oil_last_trade(year: int, month: int) -> date:
    """NYMEX CL: 3 business days before the 25th of the month before the contract month
    (4 business days before it when the 25th is not a business day)."""
    prior_year, prior_month = (year, month - 1) if month > 1 else (year - 1, 12)
    the_25th = date(prior_year, prior_month, 25)
    return _business_days_before(the_25th, 3 if _is_business_day(the_25th) else 4)


def gold_last_trade(year: int, month: int) -> date:
    """COMEX GC: the third-last business day of the contract month."""
    day = date(year, month, calendar.monthrange(year, month)[1])
    while not _is_business_day(day):
        day -= timedelta(days=1)
    return _business_days_before(day, 2)


def _contract_months(start: date, months: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    # Starts one month back: a CL contract month's last trading day lies in the month before it.
    year, month = (start.year, start.month - 1) if start.month > 1 else (start.year - 1, 12)
    while True:
        if month in months:
            yield year, month
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)


def expiries(
    rule: ExpiryRule, months: tuple[int, ...], *, today: date, count: int
) -> list[tuple[int, int, date]]:
    """The next `count` contracts of a cycle as (year, contract month, last trading day).

    Guarantees: sorted by last trading day, every day is on or after `today` (a contract still
    trades on its last day), and consecutive cycle months are never skipped.
    """
    found: list[tuple[int, int, date]] = []
    for year, month in _contract_months(today, months):
        last = rule(year, month)
        if last >= today:
            found.append((year, month, last))
        if len(found) == count:
            return found
    raise AssertionError("unreachable: the contract month generator is infinite")
