"""The accounts' daily net-liquidation series: one value per account and trading day.

Portfolio Analyst's returns are computed from it. A row is written at each session close (the
engine's `close_session`, which `DayCycle` drives): the account's net liquidation when the day
began and when it closed. A day is self-contained, so a chain of days is the time-weighted
return even when a configured starting cash changed between two runs (both ends shift alike);
tickgate books no deposits or withdrawals, so nothing else moves money in or out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DailyValue:
    """One account's trading day: net liquidation at its start and at its close (`ts_ns`).

    A second close on the same day extends it: the stores keep the first `start` and take the
    later `end` and `ts_ns`.
    """

    account: str
    day: date
    start: Decimal
    end: Decimal
    ts_ns: int

    @property
    def day_return(self) -> Decimal:
        """The day's return as a fraction (0 when the day started at nothing)."""
        if self.start == 0:
            return Decimal(0)
        return self.end / self.start - 1


def merged(earlier: DailyValue, later: DailyValue) -> DailyValue:
    """`earlier` extended by a later close of the same account and day."""
    return DailyValue(earlier.account, earlier.day, earlier.start, later.end, later.ts_ns)
