"""Typed commands into the trading engine, built at the REST boundary (`server.rest_commands`).

The engine never reads client JSON: a command holds typed, already well-formed values (checked
against the contract's rules by `order_domain`), and the engine adds what needs its state
(references, buying power, transitions).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tickgate.model.instruments import Instrument
from tickgate.model.orders import OrderType, Side, TimeInForce, TrailingType


class InstrumentLookup(Protocol):
    """What the trading engine needs of the catalogue."""

    def find(self, conid: int) -> Instrument | None:
        """The instrument with `conid`, or None."""
        ...


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """One order of a placement. `parent_ref` is the parent's cOID or order id, as sent."""

    conid: int
    side: Side
    order_type: OrderType
    quantity: Decimal
    tif: TimeInForce
    price: Decimal | None = None
    aux_price: Decimal | None = None
    c_oid: str | None = None
    parent_ref: str | None = None
    trailing_type: TrailingType | None = None
    trailing_amount: Decimal | None = None
    outside_rth: bool = False
    currency_conversion: bool = False
    #: IBKR's `isSingleGroup`: the orders of one placement that set it form one OCA group.
    single_group: bool = False


@dataclass(frozen=True, slots=True)
class ModifyOrder:
    """New values for a working order; None leaves a value as it is. The trailing type and
    amount are given together or not at all."""

    order_id: int
    quantity: Decimal | None = None
    price: Decimal | None = None
    aux_price: Decimal | None = None
    tif: TimeInForce | None = None
    trailing_type: TrailingType | None = None
    trailing_amount: Decimal | None = None
    outside_rth: bool | None = None

    def changes(self) -> dict[str, Any]:
        """The given values by `Order` field name."""
        names = ("quantity", "price", "aux_price", "tif", "trailing_type", "trailing_amount",
                 "outside_rth")  # fmt: skip
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}
