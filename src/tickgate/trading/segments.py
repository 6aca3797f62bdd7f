"""An account's figures split as IBKR's account summary splits them: the securities segment
(stocks, options, FX, indices, and all the cash) and the commodities segment (futures), each
with the margin model of `tickgate.trading.portfolio`, and their total.

The total is the portfolio's own figures (same positions, same rates), so the summary views
agree with `/portfolio/{acct}/summary` to the last digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tickgate.model.instruments import SecType
from tickgate.trading.portfolio import MARGIN_RATES, ZERO, MarginFigures, Portfolio, Position

SECURITIES, COMMODITIES, TOTAL = "securities", "commodities", "total"


@dataclass(frozen=True, slots=True)
class Segment(MarginFigures):
    """Cash, position values and margins of one segment (or of the whole account)."""

    cash: Decimal
    market_value: Decimal
    gross_position_value: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal

    @property
    def leverage(self) -> Decimal | None:
        """Gross position value over net liquidation (None when there is no net value)."""
        if self.net_liquidation <= 0:
            return None
        return self.gross_position_value / self.net_liquidation


def _segment(portfolio: Portfolio, cash: Decimal, positions: Iterable[Position]) -> Segment:
    # Each position's value in the base currency, at the rate the portfolio's figures use.
    values = [(portfolio.in_base(p.market_value, p.currency), p.sec_type) for p in positions]
    return Segment(
        cash,
        sum((v for v, _ in values), ZERO),
        sum((abs(v) for v, _ in values), ZERO),
        sum((abs(v) * MARGIN_RATES[kind][0] for v, kind in values), ZERO),
        sum((abs(v) * MARGIN_RATES[kind][1] for v, kind in values), ZERO),
    )


def segments(portfolio: Portfolio) -> dict[str, Segment]:
    """`securities`, `commodities` and `total` of `portfolio`, in that order."""
    held = [p for p in portfolio.positions.values() if p.quantity != 0]
    futures = [p for p in held if p.sec_type is SecType.FUT]
    others = [p for p in held if p.sec_type is not SecType.FUT]
    return {
        SECURITIES: _segment(portfolio, portfolio.cash, others),
        COMMODITIES: _segment(portfolio, ZERO, futures),
        TOTAL: _segment(portfolio, portfolio.cash, held),
    }
