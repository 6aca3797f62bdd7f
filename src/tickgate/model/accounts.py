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


#: The advisor master account of an `--advisor` login (IBKR numbers them F and 7 digits).
DEFAULT_ADVISOR_ID = "F1234567"


def advisor_master(sub_accounts: tuple[AccountConfig, ...]) -> AccountConfig:
    """The advisor's master account as an account of its own: no cash and no positions (its
    orders are split over the sub-accounts), in the first sub-account's base currency. Every
    account route and stream then answers for it with those figures, as IBKR does for an F
    account, instead of "does not exist"."""
    base = sub_accounts[0].base_currency if sub_accounts else "USD"
    return AccountConfig(DEFAULT_ADVISOR_ID, base_currency=base, starting_cash=Decimal(0))


#: Sub-accounts `--advisor` makes when no `[[accounts]]` are configured.
DEFAULT_SUB_ACCOUNTS = 3


def sub_accounts(
    count: int, *, first: str = DEFAULT_ACCOUNT_ID, starting_cash: Decimal = DEFAULT_STARTING_CASH
) -> tuple[AccountConfig, ...]:
    """`count` paper accounts numbered on from `first` (DU1234567, DU1234568, ...), each with
    `starting_cash`: the client accounts of an advisor login that configured none.

    Raises ValueError when `count` is not positive or `first` does not end in digits.
    """
    if count < 1:
        raise ValueError("an advisor needs at least one sub-account")
    digits = len(first) - len(first.rstrip("0123456789"))
    if digits == 0:
        raise ValueError(f"sub-account ids are numbered on from {first!r}: it must end in digits")
    prefix, number = first[:-digits], int(first[-digits:])
    return tuple(
        AccountConfig(f"{prefix}{number + offset:0{digits}d}", starting_cash=starting_cash)
        for offset in range(count)
    )
