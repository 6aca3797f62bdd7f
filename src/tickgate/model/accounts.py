"""Paper accounts: configuration of an isolated trading account."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DEFAULT_ACCOUNT_ID = "DU1234567"
DEFAULT_STARTING_CASH = Decimal("1000000")


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One paper account: its id, base currency and the cash it starts with.

    Raises ValueError when the id is empty or the starting cash is negative.
    """

    account_id: str = DEFAULT_ACCOUNT_ID
    base_currency: str = "USD"
    starting_cash: Decimal = DEFAULT_STARTING_CASH

    def __post_init__(self) -> None:
        if not self.account_id:
            raise ValueError("an account needs a non-empty id")
        if self.starting_cash < 0:
            raise ValueError(f"starting cash of {self.account_id} must not be negative")
