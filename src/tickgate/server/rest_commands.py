"""The REST boundary of the trading engine: JSON bodies in, typed commands to the engine.

`POST .../orders` (and `.../order`, `.../whatif`) and `POST .../order/{id}` bodies are read
here, value by value, into `PlaceOrder` and `ModifyOrder`; the engine never sees client JSON.
Two kinds of refusal, each naming the exact problem:
- a value of the wrong JSON type, spelling or range (outside the order domain of
  `trading.order_domain`) is a `RequestError` (400): nothing about it is an order;
- a well-formed order the rules refuse (unknown contract, off the tick grid, not positive,
  fractional shares, ...) is an `OrderRejected` (IBKR's 200 with `{"error": ...}`).
The checks run in the order clients have always seen them, so for a request with several
faults the first one named is the same as when the engine parsed JSON itself: the account
first, then each order in turn, field by field (`place`, `what_if`, `modify` below).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tickgate.errors import RequestError
from tickgate.model.instruments import Instrument, invalid_conid
from tickgate.model.orders import Order, OrderType, Side, TimeInForce, TrailingType
from tickgate.protocol.rest_values import (
    ascii_int,
    bounded_decimal,
    json_bool,
    printable_text,
    shown,
)
from tickgate.trading.commands import InstrumentLookup, ModifyOrder, PlaceOrder
from tickgate.trading.engine import TradingEngine
from tickgate.trading.errors import OrderRejected
from tickgate.trading.order_domain import (
    MAX_COID_LENGTH,
    MAX_CONID,
    MAX_PLACES,
    MAX_PRICE,
    MAX_QUANTITY,
    check_price,
    check_quantity,
    check_trailing,
    tifs_for,
)
from tickgate.trading.preview import Preview

#: Most orders one placement may carry (a bracket is three); more is a 400.
MAX_ORDERS_PER_REQUEST = 100

_TYPE_ALIASES = {
    "MARKET": OrderType.MKT,
    "LIMIT": OrderType.LMT,
    "STOP": OrderType.STP,
    "STP LMT": OrderType.STOP_LIMIT,
    "STOPLIMIT": OrderType.STOP_LIMIT,
    "TRAILLIMIT": OrderType.TRAILLMT,
}
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
        raise OrderRejected(f"{invalid_conid(conid)}: no such contract")
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
    if raw.get("fxQty") is not None:
        raise OrderRejected(
            "fxQty (a conversion sized in the currency paid) is not simulated: send quantity, "
            "the amount of the pair's first currency to buy or sell"
        )


def currency_conversion_of(raw: Mapping[str, Any]) -> bool:
    """`raw["isCcyConv"]` (JSON true/false or "true"/"false"), False when absent."""
    return _flag(raw, "isCcyConv")


def _flag(raw: Mapping[str, Any], key: str) -> bool:
    """`raw[key]` as a JSON true/false (or "true"/"false"), False when absent; raises
    RequestError (400) naming `key` for anything else."""
    value = raw.get(key)
    return False if value is None else json_bool(value, key)


def parse_order(raw: Mapping[str, Any], lookup: InstrumentLookup) -> tuple[PlaceOrder, Instrument]:
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
    return PlaceOrder(
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
        currency_conversion=currency_conversion_of(raw),
        single_group=_flag(raw, "isSingleGroup"),
    ), instrument


def parse_orders(
    raw_orders: Sequence[Mapping[str, Any]], lookup: InstrumentLookup
) -> list[PlaceOrder]:
    """The orders of one placement, each checked against the catalogue.

    Raises OrderRejected for an empty batch, RequestError (400) for more than
    `MAX_ORDERS_PER_REQUEST`, and what `parse_order` raises for the first bad order.
    """
    if not raw_orders:
        raise OrderRejected("No orders in the request")
    if len(raw_orders) > MAX_ORDERS_PER_REQUEST:
        raise RequestError(
            f"Too many orders in one request: at most {MAX_ORDERS_PER_REQUEST}, "
            f"got {len(raw_orders)}"
        )
    return [parse_order(raw, lookup)[0] for raw in raw_orders]


def _commanding(trading: TradingEngine, account: str) -> None:
    # A placement is a command even when refused (pending reply ids become stale), and an
    # unknown account (404) is named before anything about the orders.
    trading.desk.interrupt_replies()
    trading.journal.portfolio_of(account)


def place(
    trading: TradingEngine, account: str, raw_orders: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`POST .../orders`: parse the orders, then `PlacementDesk.place` them."""
    _commanding(trading, account)
    return trading.desk.place(account, parse_orders(raw_orders, trading.journal.instruments))


def what_if(
    trading: TradingEngine, account: str, raw_orders: Sequence[Mapping[str, Any]]
) -> Preview:
    """`POST .../orders/whatif`: parse the orders, then `PlacementDesk.what_if` them."""
    _commanding(trading, account)
    return trading.desk.what_if(account, parse_orders(raw_orders, trading.journal.instruments))


def modify(
    trading: TradingEngine, account: str, order_id: int, changes: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`POST .../order/{id}`: find the order (404 account, unknown id, no longer working),
    parse `changes` against it, then `PlacementDesk.modify` it."""
    order = trading.desk.order_to_modify(account, order_id)
    change = parse_modification(order, changes, trading.instrument(order.conid))
    return trading.desk.modify(account, change)


def parse_modification(order: Order, changes: Mapping[str, Any], inst: Instrument) -> ModifyOrder:
    """The `POST .../order/{id}` body `changes` for `order` (on `inst`) as a typed command.

    Checks run in the order clients have always seen: unchangeable members, quantity,
    prices, trailing, tif, outsideRTH. Raises RequestError (400) for a malformed value,
    OrderRejected for one the rules refuse.
    """
    fields: dict[str, Any] = {}
    _refuse_unchangeable(order, changes)
    quantity = quantity_of(changes)
    if quantity is not None:
        quantity = check_quantity(quantity, inst)
        if quantity <= order.filled_quantity:
            raise OrderRejected(
                f"Order quantity {quantity} must exceed the filled {order.filled_quantity}"
            )
        fields["quantity"] = quantity
    for key, name in (("price", "price"), ("auxPrice", "aux_price")):
        value = decimal_of(changes, key)
        if value is not None:
            fields[name] = check_price(value, inst, key)
    fields.update(_modified_trailing(order, changes))
    tif = tif_of(changes, default=None)
    if tif is not None:
        fields["tif"] = tif
    outside_rth = outside_rth_of(changes)
    if outside_rth is not None:
        fields["outside_rth"] = outside_rth
    return ModifyOrder(order.order_id, **fields)


def _modified_trailing(order: Order, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A trailing order's new amount and type; other orders ignore both, as before."""
    amount = decimal_of(changes, "trailingAmt")
    if not order.order_type.is_trailing or order.trailing_type is None:
        return {}
    kind = trailing_type_of(changes, order.trailing_type)
    if amount is None and kind is order.trailing_type:
        return {}
    current = amount if amount is not None else order.trailing_amount
    trailing = check_trailing(kind, current, order.order_type)
    return {"trailing_type": kind, "trailing_amount": trailing}


def _refuse_unchangeable(order: Order, changes: Mapping[str, Any]) -> None:
    """A modify resends the order: its side, type and contract must stay what they were.

    Values are compared, never `str()`-ed: a deeply nested JSON list would exhaust `repr`.
    """
    side = changes.get("side")
    if side is not None and not (isinstance(side, str) and side.upper() == order.side.value):
        raise OrderRejected("The side of an order cannot be modified")
    kind = changes.get("orderType")
    if kind is not None and not (
        isinstance(kind, str) and kind.upper() in _TYPE_SPELLINGS[order.order_type.value]
    ):
        raise OrderRejected(
            f"The order type cannot be modified ({order.order_type.value}); cancel and re-place"
        )
    conid = changes.get("conid")
    if conid is not None and (isinstance(conid, bool) or conid not in _spellings(order.conid)):
        raise OrderRejected("The contract of an order cannot be modified")


def _spellings(conid: int) -> tuple[int, str]:
    return conid, str(conid)


#: Spellings a modify may repeat the order type in (the API's and the order rows').
_TYPE_SPELLINGS = {
    "MKT": {"MKT", "MARKET"},
    "LMT": {"LMT", "LIMIT"},
    "STP": {"STP", "STOP"},
    "STOP_LIMIT": {"STOP_LIMIT", "STP LMT", "STOPLIMIT"},
    "TRAIL": {"TRAIL", "TRAILING STOP"},
    "TRAILLMT": {"TRAILLMT", "TRAIL LIMIT"},
    "MOC": {"MOC"},
    "LOC": {"LOC"},
}
