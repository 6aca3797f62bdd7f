"""Parsing and validating one order request (the JSON object of `POST .../orders`).

Two kinds of refusal, each naming the exact problem:
- a value of the wrong JSON type, spelling or range (outside the order domain below) is a
  `RequestError`, HTTP 400: the request is malformed and nothing about it is an order;
- a well-formed order the trading rules refuse (unknown contract, off the tick grid, not
  positive, fractional shares, ...) is an `OrderRejected`: per protocol reference §10.1 an
  order reject is answered with HTTP 200 and `{"error": "<reason>"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tickgate.errors import RequestError
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.orders import Order, OrderType, Side, TimeInForce, TrailingType
from tickgate.protocol.rest_values import (
    ascii_int,
    bounded_decimal,
    json_bool,
    printable_text,
    shown,
)
from tickgate.trading.errors import OrderRejected

_TYPE_ALIASES = {
    "MARKET": OrderType.MKT,
    "LIMIT": OrderType.LMT,
    "STOP": OrderType.STP,
    "STP LMT": OrderType.STOP_LIMIT,
    "STOPLIMIT": OrderType.STOP_LIMIT,
    "TRAILLIMIT": OrderType.TRAILLMT,
}
_FRACTIONAL_TYPES = frozenset({SecType.CASH})


class InstrumentLookup(Protocol):
    """What the trading engine needs of the catalogue."""

    def find(self, conid: int) -> Instrument | None:
        """The instrument with `conid`, or None."""
        ...


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated order request. `parent_ref` is the parent's cOID or order id, as sent."""

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
_MAX_ENUM_LENGTH = 32


def decimal_of(raw: Mapping[str, Any], key: str, *, maximum: Decimal = MAX_PRICE) -> Decimal | None:
    """`raw[key]` as a Decimal inside the order domain, None when absent or empty.

    Raises RequestError (400) naming `key` for anything but a finite number of at most
    `MAX_PLACES` decimals and magnitude `maximum` (see `rest_values.bounded_decimal`).
    """
    value = raw.get(key)
    if value is None or value == "":
        return None
    return bounded_decimal(value, key, maximum=maximum, places=MAX_PLACES)


def quantity_of(raw: Mapping[str, Any]) -> Decimal | None:
    """`raw["quantity"]` in the order domain (at most `MAX_QUANTITY`), None when absent."""
    return decimal_of(raw, "quantity", maximum=MAX_QUANTITY)


def _enum_value(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value is None or value == "":
        raise RequestError(f"Missing {key}")
    if not isinstance(value, str) or len(value) > _MAX_ENUM_LENGTH:
        raise RequestError(f"Invalid {key}: {shown(value)}; expected a string")
    return value.strip(" \t").upper()


def _instrument(raw: Mapping[str, Any], lookup: InstrumentLookup) -> Instrument:
    conid = ascii_int(raw.get("conid"), "conid", minimum=1, maximum=MAX_CONID)
    instrument = lookup.find(conid)
    if instrument is None:
        raise OrderRejected(f"Invalid conid {conid}: no such contract")
    return instrument


def reference_text(raw: Mapping[str, Any], key: str) -> str | None:
    """An order reference (`cOID`, `parentId`) as text, None when absent or empty.

    A JSON string of printable characters, at most `MAX_COID_LENGTH` of them; `parentId` may
    also be a JSON integer (an order id). Raises RequestError (400) naming `key` otherwise.
    """
    value = raw.get(key)
    if value is None or value == "":
        return None
    if key == "parentId" and isinstance(value, int) and not isinstance(value, bool):
        return str(ascii_int(value, key, minimum=1, maximum=2**63 - 1))
    return printable_text(value, key, max_length=MAX_COID_LENGTH)


def outside_rth_of(raw: Mapping[str, Any]) -> bool | None:
    """`raw["outsideRTH"]` (JSON true/false or "true"/"false"), None when absent."""
    value = raw.get("outsideRTH")
    return None if value is None else json_bool(value, "outsideRTH")


def _order_type(raw: Mapping[str, Any]) -> OrderType:
    text = _enum_value(raw, "orderType")
    if text in _TYPE_ALIASES:
        return _TYPE_ALIASES[text]
    try:
        return OrderType(text)
    except ValueError:
        raise OrderRejected(f"Unsupported orderType {text!r}") from None


def tif_of(raw: Mapping[str, Any], default: str | None = "DAY") -> TimeInForce | None:
    """`raw["tif"]` as a TimeInForce; `default` when absent (None: absent stays None).

    Raises RequestError (400) for a non-string, OrderRejected for an unknown one.
    """
    if default is None and raw.get("tif") in (None, ""):
        return None
    text = _enum_value(raw, "tif", default)
    if text not in TimeInForce.__members__:
        raise OrderRejected(f"Unsupported tif {text!r}")
    return TimeInForce(text)


#: Order types a tif OPG (fill at the open) may carry.
OPG_TYPES = frozenset({OrderType.MKT, OrderType.LMT})


def tifs_for(order_type: OrderType) -> tuple[TimeInForce, ...]:
    """The times in force the engine accepts for `order_type` (the rule `parse_order`
    enforces, and the one `/iserver/contract/rules` reports)."""
    if order_type.at_close:
        return (TimeInForce.DAY,)
    return tuple(t for t in TimeInForce if t is not TimeInForce.OPG or order_type in OPG_TYPES)


def whole_units(instrument: Instrument) -> bool:
    """True when orders on `instrument` must be for whole units (all but FX)."""
    return instrument.sec_type not in _FRACTIONAL_TYPES


def _side_and_tif(raw: Mapping[str, Any], order_type: OrderType) -> tuple[Side, TimeInForce]:
    side_text, tif = _enum_value(raw, "side"), tif_of(raw)
    if side_text not in Side.__members__:
        raise OrderRejected(f"Invalid side {side_text!r}: expected BUY or SELL")
    assert tif is not None  # defaulted to DAY
    if tif not in tifs_for(order_type):
        if order_type.at_close:
            raise OrderRejected(f"{order_type.value} orders must have tif DAY")
        raise OrderRejected(f"tif OPG is for MKT and LMT orders, not {order_type.value}")
    return Side(side_text), tif


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


def _prices(
    raw: Mapping[str, Any], order_type: OrderType, instrument: Instrument
) -> tuple[Decimal | None, Decimal | None]:
    price = check_price(decimal_of(raw, "price"), instrument, "price")
    aux = check_price(decimal_of(raw, "auxPrice"), instrument, "auxPrice")
    if order_type is OrderType.STP:
        # The Client Portal API takes a plain stop order's stop price in `price`; `auxPrice`
        # (the TWS spelling) is accepted too.
        stop = aux if aux is not None else price
        if stop is None:
            raise OrderRejected("Stop price (price) is required for a STP order")
        return None, stop
    if order_type.has_limit and price is None:
        raise OrderRejected(f"Limit price is required for a {order_type.value} order")
    if order_type is OrderType.STOP_LIMIT and aux is None:
        raise OrderRejected("Stop price (auxPrice) is required for a STOP_LIMIT order")
    return price, aux


def trailing_type_of(raw: Mapping[str, Any], default: TrailingType) -> TrailingType:
    """`raw["trailingType"]` (`"amt"` or `"%"`), `default` when absent.

    Raises RequestError (400) for a non-string, OrderRejected for another value.
    """
    kind = raw.get("trailingType")
    if kind is None or kind == "":
        return default
    if not isinstance(kind, str) or len(kind) > _MAX_ENUM_LENGTH:
        raise RequestError(f"Invalid trailingType: {shown(kind)}; expected 'amt' or '%'")
    kind = kind.strip(" \t")
    if kind not in ("amt", "%"):
        raise OrderRejected(f"Invalid trailingType {kind!r}: expected 'amt' or '%'")
    return TrailingType(kind)


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


def _trailing(
    raw: Mapping[str, Any], order_type: OrderType
) -> tuple[TrailingType | None, Decimal | None]:
    if not order_type.is_trailing:
        return None, None
    kind = trailing_type_of(raw, TrailingType.AMOUNT)
    return kind, check_trailing(kind, decimal_of(raw, "trailingAmt"), order_type)


def _refuse_cash_quantity(raw: Mapping[str, Any]) -> None:
    if raw.get("cashQty") is not None:
        # Ignoring it would trade a quantity the client never asked for.
        raise OrderRejected(
            "cashQty (an order for a cash amount) is not simulated: send quantity instead"
        )


def parse_order(
    raw: Mapping[str, Any], lookup: InstrumentLookup
) -> tuple[OrderRequest, Instrument]:
    """Validate one order request against the catalogue.

    Raises RequestError (400) naming the field for a value of the wrong type or outside the
    order domain, OrderRejected (200) for a well-formed order the rules refuse.
    """
    if not isinstance(raw, Mapping):
        raise RequestError("Each order must be a JSON object")
    instrument = _instrument(raw, lookup)
    order_type = _order_type(raw)
    side, tif = _side_and_tif(raw, order_type)
    _refuse_cash_quantity(raw)
    quantity = check_quantity(quantity_of(raw), instrument)
    price, aux = _prices(raw, order_type, instrument)
    trailing_type, trailing_amount = _trailing(raw, order_type)
    return OrderRequest(
        conid=instrument.conid,
        side=side,
        order_type=order_type,
        quantity=quantity,
        tif=tif,
        price=price,
        aux_price=aux,
        c_oid=reference_text(raw, "cOID"),
        parent_ref=reference_text(raw, "parentId"),
        trailing_type=trailing_type,
        trailing_amount=trailing_amount,
        outside_rth=outside_rth_of(raw) or False,
    ), instrument


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
