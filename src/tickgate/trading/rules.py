"""The trading rules the paper engine enforces for one contract, as data.

Read from the same tables and checks the placement path uses (`order_domain.tifs_for`,
`order_domain.whole_units`, the tick grid, the account-currency check), so what
`/iserver/contract/rules` reports is what a placement is then held to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tickgate.model.accounts import AccountConfig
from tickgate.model.instruments import Instrument
from tickgate.model.orders import OrderType, TimeInForce
from tickgate.trading.order_domain import MAX_PLACES, tifs_for, whole_units
from tickgate.trading.portfolio import Rates, SameCurrency


def can_trade(account: AccountConfig, instrument: Instrument, rates: Rates) -> bool:
    """True when `account` may trade `instrument`: cash is kept per currency and valued in
    the account's base currency, so the contract's currency needs a rate to it."""
    return rates.rate(instrument.currency, account.base_currency) is not None


@dataclass(frozen=True, slots=True)
class OrderRules:
    """What orders on one contract may be.

    `tifs` maps each time in force to the order types it is accepted with; `outside_rth` are
    the types `outsideRTH` lets fill in extended hours (at-close orders fill at the close
    whatever it says), `outside_rth_tifs` the times in force it matters for (an OPG order
    waits for the open); `price_increment` is the tick grid, `size_increment` the smallest
    quantity step; `accounts` the configured accounts allowed to trade it.
    """

    order_types: tuple[OrderType, ...]
    tifs: dict[TimeInForce, tuple[OrderType, ...]]
    outside_rth: tuple[OrderType, ...]
    outside_rth_tifs: tuple[TimeInForce, ...]
    price_increment: Decimal
    size_increment: Decimal
    fractional: bool
    accounts: tuple[str, ...]


def order_rules(
    instrument: Instrument, accounts: Iterable[AccountConfig], rates: Rates | None = None
) -> OrderRules:
    """The rules of `instrument` for the configured `accounts`, converting at `rates`."""
    rates = rates or SameCurrency()
    types = tuple(OrderType)
    fractional = not whole_units(instrument)
    return OrderRules(
        order_types=types,
        tifs={tif: tuple(t for t in types if tif in tifs_for(t)) for tif in TimeInForce},
        outside_rth=tuple(t for t in types if not t.at_close),
        outside_rth_tifs=tuple(t for t in TimeInForce if t is not TimeInForce.OPG),
        price_increment=instrument.min_tick,
        size_increment=Decimal(1).scaleb(-MAX_PLACES) if fractional else Decimal(1),
        fractional=fractional,
        accounts=tuple(a.account_id for a in accounts if can_trade(a, instrument, rates)),
    )
