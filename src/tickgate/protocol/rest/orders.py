"""REST shapes of orders and executions (reference §8.5): order rows, the status object, trade
rows, placement acknowledgements and order questions. The account streams of both dialects send
the same rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tickgate.model.instruments import Instrument
from tickgate.model.orders import OCA_GROUP_PREFIX, Fill, Order, OrderType, Side
from tickgate.protocol.decimals import count, number, text
from tickgate.protocol.rest.contracts import contract_name, describe

_TYPE_NAMES = {
    OrderType.MKT: ("Market", "MARKET"),
    OrderType.LMT: ("Limit", "LIMIT"),
    OrderType.STP: ("Stop", "STOP"),
    OrderType.STOP_LIMIT: ("Stop Limit", "STOP_LIMIT"),
    OrderType.TRAIL: ("Trail", "TRAILING STOP"),
    OrderType.TRAILLMT: ("Trail Limit", "TRAILING STOP LIMIT"),
    OrderType.MOC: ("Market on Close", "MARKET ON CLOSE"),
    OrderType.LOC: ("Limit on Close", "LIMIT ON CLOSE"),
}


def _ms(ns: int) -> int:
    return ns // 1_000_000


def _exec_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%y%m%d%H%M%S")


#: IBKR's words for each status in `order_status_description`.
_STATUS_WORDS = {
    "Inactive": "Order Inactive",
    "PendingSubmit": "Order Pending Submit",
    "PreSubmitted": "Order Pre-Submitted",
    "Submitted": "Order Submitted",
    "Filled": "Order Filled",
    "PendingCancel": "Order Pending Cancel",
    "Cancelled": "Order Cancelled",
    "WarnState": "Order Warning",
}


def _describe(order: Order, contract: str | None = None) -> str:
    """`Sold 5 Market, Day`; with `contract`, `Sold 5 AAPL Market, Day`."""
    verb = ("Bought" if order.side is Side.BUY else "Sold") if order.status == "Filled" else None
    verb = verb or order.side.value.capitalize()
    what = count(order.quantity) if contract is None else f"{count(order.quantity)} {contract}"
    text = f"{verb} {what} {_TYPE_NAMES[order.order_type][0]}"
    if order.price is not None:
        text += f" {order.price}"
    return f"{text}, {order.tif.value}"


def order_row(order: Order, instrument: Instrument) -> dict[str, Any]:
    """An order as in `GET /iserver/account/orders` and the `sor`/account-data streams."""
    row: dict[str, Any] = {
        "acct": order.account,
        "account": order.account,
        "conid": order.conid,
        "conidex": str(order.conid),
        "orderId": order.order_id,
        "cashCcy": instrument.currency,
        "sizeAndFills": f"{count(order.filled_quantity)}/{count(order.quantity)}",
        "orderDesc": _describe(order),
        "order_description_with_contract": _describe(order, contract_name(instrument)),
        "description1": instrument.symbol,
        "ticker": instrument.symbol,
        "secType": instrument.sec_type.value,
        "listingExchange": instrument.listing_exchange or instrument.exchange,
        "exchange": instrument.exchange,
        "bgColor": "#FFFFFF",
        "fgColor": "#000000",
        "isEventTrading": "0",
        "remainingQuantity": number(order.remaining),
        "filledQuantity": number(order.filled_quantity),
        "totalSize": number(order.quantity),
        "companyName": instrument.name,
        "status": order.status.value,
        "order_ccp_status": order.status.value,
        "origOrderType": _TYPE_NAMES[order.order_type][1],
        "orderType": _TYPE_NAMES[order.order_type][0],
        "side": order.side.value,
        "timeInForce": order.tif.value,
        "supportsTaxOpt": "1",
        "lastExecutionTime_r": _ms(order.last_execution_ns or order.updated_ns),
        "lastExecutionTime": _exec_time(order.last_execution_ns or order.updated_ns),
    }
    if order.price is not None:
        row["price"] = count(order.price)
    if order.aux_price is not None:
        row["auxPrice"] = count(order.aux_price)
    if order.avg_price is not None:
        row["avgPrice"] = text(order.avg_price.quantize(instrument.min_tick))
    if order.c_oid is not None:
        row["order_ref"] = order.c_oid
    if order.parent_id is not None:
        row["parentId"] = order.parent_id
    if instrument.expiry is not None:  # an option's or future's expiry (strike, right)
        row["description2"] = describe(instrument)
    return row


def order_status(order: Order, instrument: Instrument) -> dict[str, Any]:
    """`GET /iserver/account/order/status/{id}`: the flat status object (`size` is what is
    left to fill, `total_size` the order's quantity, as IBKR's example)."""
    working = order.is_working
    return {
        "order_id": order.order_id,
        "conid": order.conid,
        "conidex": str(order.conid),
        "symbol": instrument.symbol,
        "company_name": instrument.name,
        "contract_description_1": contract_name(instrument),
        "order_description": _describe(order),
        "order_description_with_contract": _describe(order, contract_name(instrument)),
        "order_status_description": _STATUS_WORDS.get(order.status.value, order.status.value),
        "order_time": _exec_time(order.created_ns),
        "size_and_fills": count(order.filled_quantity),
        "order_ccp_status": order.status.value,
        "order_clearing_account": order.account,
        "cannot_cancel_order": not working,
        "deactivate_order": False,
        "editable_fields": "",
        "child_order_type": "0",
        "sub_type": None,
        "server_id": "0",
        "bg_color": "#000000",
        "fg_color": "#FFFFFF",
        "side": "B" if order.side is Side.BUY else "S",
        "account": order.account,
        "order_status": order.status.value,
        "order_type": _TYPE_NAMES[order.order_type][0],
        "size": text(order.remaining),
        "total_size": text(order.quantity),
        "cum_fill": text(order.filled_quantity),
        "order_not_editable": not working,
        "limit_price": text(order.price) if order.price is not None else None,
        "stop_price": text(order.aux_price) if order.aux_price is not None else None,
        "average_price": text(order.avg_price) if order.avg_price is not None else None,
        "tif": order.tif.value,
        "sec_type": instrument.sec_type.value,
        "listing_exchange": instrument.listing_exchange or instrument.exchange,
        "currency": instrument.currency,
        "cOID": order.c_oid,
        # A bracket child names its parent, as in the place/reply acknowledgement.
        "parent_order_id": str(order.parent_id) if order.parent_id is not None else None,
        "oca_group_id": oca_group_id(order),
    }


def oca_group_id(order: Order) -> str | None:
    """The `oca_group_id` of an order placed with `isSingleGroup` (the same for every order
    of its group), None for any other order (a bracket's own group is not shown)."""
    group = order.oca_group
    if group is None or not group.startswith(OCA_GROUP_PREFIX):
        return None
    return group.removeprefix(OCA_GROUP_PREFIX)


def trade_row(fill: Fill, instrument: Instrument) -> dict[str, Any]:
    """An execution as in `GET /iserver/account/trades` and the `str` stream."""
    bought = fill.side is Side.BUY
    net = fill.quantity * fill.price * instrument.multiplier
    return {
        "execution_id": fill.execution_id,
        "symbol": instrument.symbol,
        "side": "B" if bought else "S",
        "order_description": f"{'Bot' if bought else 'Sold'} {count(fill.quantity)} @ "
        f"{fill.price} on {instrument.exchange}",
        "trade_time": datetime.fromtimestamp(fill.ts_ns / 1e9, UTC).strftime("%Y%m%d-%H:%M:%S"),
        "trade_time_r": _ms(fill.ts_ns),
        "size": count(fill.quantity),
        "price": text(fill.price),
        "order_ref": str(fill.order_id),
        "exchange": instrument.exchange,
        "commission": text(fill.commission),
        "net_amount": number(net),
        "account": fill.account,
        "accountCode": fill.account,
        "company_name": instrument.name,
        "contract_description_1": instrument.symbol,
        "sec_type": instrument.sec_type.value,
        "listing_exchange": instrument.listing_exchange or instrument.exchange,
        "conid": str(fill.conid),
        "conidex": str(fill.conid),
        "clearing_id": "IB",
        "clearing_name": "IB",
        "liquidation_trade": "0",
    }


def acknowledgement(order: Order) -> dict[str, Any]:
    """One entry of a placement, reply or modify answer: the order as now stored."""
    ack: dict[str, Any] = {
        "order_id": str(order.order_id),
        "order_status": order.status.value,
        "encrypt_message": "1",
    }
    if order.c_oid is not None:
        ack["local_order_id"] = order.c_oid
    if order.parent_id is not None:
        ack["parent_order_id"] = str(order.parent_id)
    return ack


def question(reply_id: str, message_id: str, message: str) -> list[dict[str, Any]]:
    """A placement's answer when it needs confirmation: one question under `reply_id`."""
    return [
        {"id": reply_id, "message": [message], "isSuppressed": False, "messageIds": [message_id]}
    ]
