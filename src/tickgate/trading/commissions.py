"""Commission schedules.

The default is modelled on IBKR Pro *fixed* pricing:
- shares (STK, and anything not listed below): USD 0.005 per share, at least USD 1.00 per
  order execution, at most 1% of the trade value;
- futures and options: USD 0.85 per contract, no minimum or cap (IBKR's real option minimum and
  exchange fees are left out on purpose: one flat, predictable number per contract).
Commissions are charged per fill, rounded to the cent (half up), in the account currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from tickgate.model.instruments import Instrument, SecType

_CENT = Decimal("0.01")
_PER_CONTRACT_TYPES = frozenset({SecType.FUT, SecType.OPT})


@dataclass(frozen=True, slots=True)
class CommissionSchedule:
    """A fixed-rate commission schedule; see the module docstring for the default."""

    per_share: Decimal = Decimal("0.005")
    minimum: Decimal = Decimal("1.00")
    max_fraction_of_value: Decimal = Decimal("0.01")
    per_contract: Decimal = Decimal("0.85")

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


FREE = CommissionSchedule(
    per_share=Decimal(0),
    minimum=Decimal(0),
    max_fraction_of_value=Decimal(0),
    per_contract=Decimal(0),
)
"""A schedule that charges nothing, for tests and zero-cost simulations."""
