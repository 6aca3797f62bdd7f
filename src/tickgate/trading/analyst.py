"""Portfolio Analyst's read side: each account's daily series up to now, and its transactions.

`PortfolioAnalyst` never changes state. The series is what the store kept at each session close
(`DailyValue`) followed by the day in progress, valued now: a fresh account that never saw a
close still has its first day, from its starting cash to its current net liquidation. The day in
progress is the one the next US equity close ends (after Monday's close, Tuesday).
Transactions are the stored executions; the P&L each realized is found by booking the
account's executions of that contract from its first one (`Position.apply`), as the ledger did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tickgate.model.instruments import Instrument
from tickgate.model.orders import Fill
from tickgate.trading.daily_values import DailyValue
from tickgate.trading.performance import with_today
from tickgate.trading.portfolio import Position
from tickgate.trading.queries import AccountViews
from tickgate.trading.sessions import DAY_CALENDAR
from tickgate.trading.store import EventStore


@dataclass(frozen=True, slots=True)
class Transaction:
    """One execution as Portfolio Analyst lists it, with the P&L it realized."""

    fill: Fill
    instrument: Instrument
    day: date
    realized: Decimal


class PortfolioAnalyst:
    """Queries over `views` (the engine's read side) and `store` (its kept days)."""

    def __init__(self, views: AccountViews, store: EventStore) -> None:
        self._views, self._store = views, store

    def current_day(self) -> date:
        """The trading day in progress: the one the next close ends."""
        now = self._views.clock.now_ns()
        return DAY_CALENDAR.trading_date(DAY_CALENDAR.next_close_ns(now))

    def series(self, account: str) -> list[DailyValue]:
        """`account`'s days, oldest first, the day in progress last. Raises NotFoundError for
        an unknown account."""
        portfolio = self._views.portfolio_of(account)
        live = DailyValue(
            account, self.current_day(), portfolio.session_open_net_liquidation,
            portfolio.net_liquidation, self._views.clock.now_ns(),
        )  # fmt: skip
        return with_today(self._store.daily_values(account), live)

    def transactions(
        self, accounts: Sequence[str], conids: Sequence[int], since_ns: int
    ) -> list[Transaction]:
        """Executions of `accounts` in `conids` at or after `since_ns`, oldest first. Raises
        NotFoundError for an unknown account or conid."""
        for account in accounts:
            self._views.portfolio_of(account)
        instruments = {conid: self._views.instrument(conid) for conid in conids}
        wanted = set(accounts)
        booked: dict[tuple[str, int], Position] = {}
        found: list[Transaction] = []
        for fill in self._views.fills_since(0):
            if fill.account not in wanted or fill.conid not in instruments:
                continue
            instrument = instruments[fill.conid]
            key = (fill.account, fill.conid)
            position = booked.get(key)
            if position is None:
                position = booked[key] = Position(
                    fill.conid, instrument.sec_type, instrument.multiplier
                )
            signed = fill.side.sign * fill.quantity
            realized = position.apply(signed, fill.price, fill.commission)
            if fill.ts_ns >= since_ns:
                day = DAY_CALENDAR.trading_date(fill.ts_ns)
                found.append(Transaction(fill, instrument, day, realized))
        return found
