"""Commission schedules.

The default is modelled on IBKR Pro *fixed* pricing:
- shares (STK, and anything not listed below): USD 0.005 per share, at least USD 1.00 per
  order execution, at most 1% of the trade value;
- futures and options: USD 0.85 per contract, no minimum or cap (IBKR's real option minimum and
  exchange fees are left out on purpose: one flat, predictable number per contract).
Commissions are charged per fill, rounded to the cent (half up), in the instrument's currency:
for an instrument quoted in another currency than the schedule's (USD), the fixed amounts (per
share, minimum, per contract) are converted at the simulated FX rate of the moment
(`in_currency`); the 1% cap is a fraction of the trade's own value and needs no conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from tickgate.model.instruments import Instrument, SecType
from tickgate.trading.portfolio import Rates

_CENT = Decimal("0.01")
_PER_CONTRACT_TYPES = frozenset({SecType.FUT, SecType.OPT})


@dataclass(frozen=True, slots=True)
class CommissionSchedule:
    """A fixed-rate commission schedule; see the module docstring for the default."""

    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")
    max_fraction_of_value: Decimal = Decimal("0.01")
    per_contract: Decimal = Decimal("0.85")
    currency: str = "USD"  # what the fixed amounts are in

    def commission(self, instrument: Instrument, quantity: Decimal, price: Decimal) -> Decimal:
        """The commission (>= 0) for one fill of `quantity` at `price` on `instrument`."""
        quantity = abs(quantity)
        if quantity == 0:
            return Decimal("0.00")
        if instrument.sec_type in _PER_CONTRACT_TYPES:
            return (quantity * self.per_contract).quantize(_CENT, ROUND_HALF_UP)
        value = quantity * abs(price) * instrument.multiplier
        fee = max(quantity * self.per_share, self.minimum)
        # The 1% cap wins over the minimum, as on IBKR's fixed schedule (tiny trades pay less).
        fee = min(fee, value * self.max_fraction_of_value)
        return fee.quantize(_CENT, ROUND_HALF_UP)


def in_currency(schedule: CommissionSchedule, currency: str, rates: Rates) -> CommissionSchedule:
    """`schedule` with its fixed amounts in `currency` at the current rate (unchanged when
    it already is in it, or when no rate links the two)."""
    if currency == schedule.currency:
        return schedule
    rate = rates.rate(schedule.currency, currency)
    if rate is None:
        return schedule
    return replace(
        schedule,
        per_share=schedule.per_share * rate,
        minimum=schedule.minimum * rate,
        per_contract=schedule.per_contract * rate,
        currency=currency,
    )


FREE = CommissionSchedule(
    per_share=Decimal(0),
    minimum=Decimal(0),
    max_fraction_of_value=Decimal(0),
    per_contract=Decimal(0),
)
"""A schedule that charges nothing, for tests and zero-cost simulations."""
