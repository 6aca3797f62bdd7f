"""What an order may be: the numeric domain of its inputs and the rules of its contract.

Pure checks, shared by the REST boundary that builds order commands (`server.rest_commands`),
by the engine's last check before it stores an order (`check_domain`) and by what
`/iserver/contract/rules` reports (`trading.rules`), so a rule is written once. Each raises
`OrderRejected` for an order the rules refuse; `check_trailing` raises `RequestError` for a
percentage out of range, as before.
"""

from __future__ import annotations

from decimal import Decimal

from tickgate.errors import RequestError
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.orders import Order, OrderType, TimeInForce, TrailingType
from tickgate.protocol.rest_values import shown
from tickgate.trading.errors import OrderRejected

_FRACTIONAL_TYPES = frozenset({SecType.CASH})

#: The numeric domain of order inputs (README "Paper trading"). Inside it every computation the
#: engine makes (tick grid, margin, trailing stops) is exact in Python's 28-digit decimal context;
#: outside it `Decimal` raises (Overflow, DivisionImpossible) in the middle of matching.
MAX_PRICE = Decimal(1_000_000_000)
MAX_QUANTITY = Decimal(1_000_000_000)
MAX_PLACES = 10
MAX_TRAILING_PERCENT = Decimal(100)
#: IBKR documents cOID as an arbitrary string; it gives no limit, tickgate takes 128 characters.
MAX_COID_LENGTH = 128
MAX_CONID = 2**31 - 1  # IBKR conids are 32-bit integers


#: Order types a tif OPG (fill at the open) may carry.
OPG_TYPES = frozenset({OrderType.MKT, OrderType.LMT})


def tifs_for(order_type: OrderType) -> tuple[TimeInForce, ...]:
    """The times in force the engine accepts for `order_type` (the rule a placement is
    held to, and the one `/iserver/contract/rules` reports)."""
    if order_type.at_close:
        return (TimeInForce.DAY,)
    return tuple(t for t in TimeInForce if t is not TimeInForce.OPG or order_type in OPG_TYPES)


def whole_units(instrument: Instrument) -> bool:
    """True when orders on `instrument` must be for whole units (all but FX)."""
    return instrument.sec_type not in _FRACTIONAL_TYPES


def check_quantity(quantity: Decimal | None, instrument: Instrument) -> Decimal:
    """The quantity, if positive and whole where the instrument needs whole units.

    Raises OrderRejected otherwise.
    """
    if quantity is None or quantity <= 0:
        raise OrderRejected(f"Order quantity must be positive, got {quantity}")
    if whole_units(instrument) and quantity != quantity.to_integral_value():
        raise OrderRejected(
            f"Fractional quantity {quantity} is not allowed for {instrument.symbol}: "
            "whole units only"
        )
    return quantity


def check_price(price: Decimal | None, instrument: Instrument, key: str) -> Decimal | None:
    """The price, if absent or positive and on the instrument's tick grid.

    Raises OrderRejected otherwise.
    """
    if price is None:
        return None
    if price <= 0:
        raise OrderRejected(f"Invalid {key} {price}: prices must be positive")
    if not instrument.on_tick_grid(price):
        raise OrderRejected(
            f"The {key} {price} does not conform to the minimum price variation of "
            f"{instrument.min_tick} for {instrument.symbol}"
        )
    return price.quantize(instrument.min_tick)


def check_trailing(kind: TrailingType, amount: Decimal | None, order_type: OrderType) -> Decimal:
    """The trailing amount, if positive (and below 100 for a percentage).

    Raises OrderRejected for a missing or non-positive amount, RequestError (400) for a
    percentage of 100 or more (a sell stop at or below zero).
    """
    if amount is None or amount <= 0:
        raise OrderRejected(f"A positive trailingAmt is required for a {order_type.value} order")
    if kind is TrailingType.PERCENT and amount >= MAX_TRAILING_PERCENT:
        raise RequestError(
            f"Invalid trailingAmt: {amount}% is out of range (a percentage below 100)"
        )
    return amount


def check_domain(order: Order) -> Order:
    """`order`, if every number it carries from a client lies in the order domain.

    The engine's last check before it stores a new or modified order, whatever produced it: an
    order it could not compute with (an overflowing trailing amount, say) would otherwise be
    stored and then fail on every quote of its conid. Raises OrderRejected naming the
    field.
    """
    numbers = (
        ("quantity", order.quantity, MAX_QUANTITY),
        ("price", order.price, MAX_PRICE),
        ("auxPrice", order.aux_price, MAX_PRICE),
        ("trailingAmt", order.trailing_amount, MAX_PRICE),
    )
    for name, value, maximum in numbers:
        if value is not None and not _in_domain(value, maximum):
            raise OrderRejected(f"Order rejected: {name} {shown(str(value))} is out of range")
    if (
        order.trailing_type is TrailingType.PERCENT
        and order.trailing_amount is not None
        and order.trailing_amount >= MAX_TRAILING_PERCENT
    ):
        raise OrderRejected("Order rejected: a trailing percentage must be below 100")
    return order


def _in_domain(value: Decimal, maximum: Decimal) -> bool:
    # Short-circuits keep quantize away from values it would raise on.
    return (
        value.is_finite()
        and abs(value) <= maximum
        and value == value.quantize(Decimal(1).scaleb(-MAX_PLACES))
    )
