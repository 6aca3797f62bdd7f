"""Parsing and validating one order request (the JSON object of `POST .../orders`).

Every refusal is an `OrderRejectedError` naming the exact problem. Per protocol reference §10.1
an order reject is answered with HTTP 200 and `{"error": "<reason>"}`, hence status 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from tickgate.errors import RequestError
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.orders import OrderType, Side, TimeInForce, TrailingType

_TYPE_ALIASES = {
    "MARKET": OrderType.MKT,
    "LIMIT": OrderType.LMT,
    "STOP": OrderType.STP,
    "STP LMT": OrderType.STOP_LIMIT,
    "STOPLIMIT": OrderType.STOP_LIMIT,
    "TRAILLIMIT": OrderType.TRAILLMT,
}
_FRACTIONAL_TYPES = frozenset({SecType.CASH})


class OrderRejectedError(RequestError):
    """An order request was refused; answered as HTTP 200 `{"error": message}` (§10.1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=200)


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


def decimal_of(raw: Mapping[str, Any], key: str) -> Decimal | None:
    """`raw[key]` as a finite Decimal, None when absent or empty; OrderRejectedError if not a
    number."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise OrderRejectedError(f"Invalid {key}: {value!r} is not a number") from None
    if not number.is_finite():
        raise OrderRejectedError(f"Invalid {key}: {value!r} is not a number")
    return number


def _enum_value(raw: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value:
        raise OrderRejectedError(f"Missing or invalid {key}")
    return value.strip().upper()


def _instrument(raw: Mapping[str, Any], lookup: InstrumentLookup) -> Instrument:
    value = raw.get("conid")
    try:
        conid = int(str(value))
    except ValueError:
        raise OrderRejectedError(f"Invalid conid {value!r}") from None
    instrument = lookup.find(conid)
    if instrument is None:
        raise OrderRejectedError(f"Invalid conid {conid}: no such contract")
    return instrument


def _order_type(raw: Mapping[str, Any]) -> OrderType:
    text = _enum_value(raw, "orderType")
    if text in _TYPE_ALIASES:
        return _TYPE_ALIASES[text]
    try:
        return OrderType(text)
    except ValueError:
        raise OrderRejectedError(f"Unsupported orderType {text!r}") from None


def _side_and_tif(raw: Mapping[str, Any], order_type: OrderType) -> tuple[Side, TimeInForce]:
    side_text, tif_text = _enum_value(raw, "side"), _enum_value(raw, "tif", "DAY")
    if side_text not in Side.__members__:
        raise OrderRejectedError(f"Invalid side {side_text!r}: expected BUY or SELL")
    if tif_text not in TimeInForce.__members__:
        raise OrderRejectedError(f"Unsupported tif {tif_text!r}")
    tif = TimeInForce(tif_text)
    if order_type.at_close and tif is not TimeInForce.DAY:
        raise OrderRejectedError(f"{order_type.value} orders must have tif DAY")
    return Side(side_text), tif


def check_quantity(quantity: Decimal | None, instrument: Instrument) -> Decimal:
    """The quantity, if positive and whole where the instrument needs whole units.

    Raises OrderRejectedError otherwise.
    """
    if quantity is None or quantity <= 0:
        raise OrderRejectedError(f"Order quantity must be positive, got {quantity}")
    if instrument.sec_type not in _FRACTIONAL_TYPES and quantity != quantity.to_integral_value():
        raise OrderRejectedError(
            f"Fractional quantity {quantity} is not allowed for {instrument.symbol}: "
            "whole units only"
        )
    return quantity


def check_price(price: Decimal | None, instrument: Instrument, key: str) -> Decimal | None:
    """The price, if absent or positive and on the instrument's tick grid.

    Raises OrderRejectedError otherwise.
    """
    if price is None:
        return None
    if price <= 0:
        raise OrderRejectedError(f"Invalid {key} {price}: prices must be positive")
    if not instrument.on_tick_grid(price):
        raise OrderRejectedError(
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
            raise OrderRejectedError("Stop price (price) is required for a STP order")
        return None, stop
    if order_type.has_limit and price is None:
        raise OrderRejectedError(f"Limit price is required for a {order_type.value} order")
    if order_type is OrderType.STOP_LIMIT and aux is None:
        raise OrderRejectedError("Stop price (auxPrice) is required for a STOP_LIMIT order")
    return price, aux


def _trailing(
    raw: Mapping[str, Any], order_type: OrderType
) -> tuple[TrailingType | None, Decimal | None]:
    if not order_type.is_trailing:
        return None, None
    amount = decimal_of(raw, "trailingAmt")
    if amount is None or amount <= 0:
        raise OrderRejectedError(
            f"A positive trailingAmt is required for a {order_type.value} order"
        )
    kind = str(raw.get("trailingType") or "amt").strip()
    if kind not in ("amt", "%"):
        raise OrderRejectedError(f"Invalid trailingType {kind!r}: expected 'amt' or '%'")
    return TrailingType(kind), amount


def parse_order(
    raw: Mapping[str, Any], lookup: InstrumentLookup
) -> tuple[OrderRequest, Instrument]:
    """Validate one order request against the catalogue.

    Raises OrderRejectedError with a specific reason for any invalid or missing value.
    """
    if not isinstance(raw, Mapping):
        raise OrderRejectedError("Each order must be a JSON object")
    instrument = _instrument(raw, lookup)
    order_type = _order_type(raw)
    side, tif = _side_and_tif(raw, order_type)
    quantity = check_quantity(decimal_of(raw, "quantity"), instrument)
    price, aux = _prices(raw, order_type, instrument)
    trailing_type, trailing_amount = _trailing(raw, order_type)
    c_oid, parent = raw.get("cOID"), raw.get("parentId")
    return OrderRequest(
        conid=instrument.conid,
        side=side,
        order_type=order_type,
        quantity=quantity,
        tif=tif,
        price=price,
        aux_price=aux,
        c_oid=str(c_oid) if c_oid not in (None, "") else None,
        parent_ref=str(parent) if parent not in (None, "") else None,
        trailing_type=trailing_type,
        trailing_amount=trailing_amount,
        outside_rth=bool(raw.get("outsideRTH", False)),
    ), instrument
