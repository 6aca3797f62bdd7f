"""Wire shapes of trading state (protocol reference §5.4–5.8, §8.2, §8.5).

Kept apart from the engine so the engine works in typed values and Decimals; these functions
turn them into the JSON-ready dicts the REST routes and account streams send. Money goes out as
float (the reference's samples are JSON numbers); the ledger itself stays Decimal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tickgate.model.instruments import Instrument
from tickgate.model.orders import Fill, Order, OrderType, Side
from tickgate.trading.events import PnlChanged
from tickgate.trading.portfolio import Portfolio, Position

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


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _exec_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%y%m%d%H%M%S")


def _describe(order: Order) -> str:
    verb = ("Bought" if order.side is Side.BUY else "Sold") if order.status == "Filled" else None
    verb = verb or order.side.value.capitalize()
    text = f"{verb} {_num(order.quantity)} {_TYPE_NAMES[order.order_type][0]}"
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
        "sizeAndFills": f"{_num(order.filled_quantity)}/{_num(order.quantity)}",
        "orderDesc": _describe(order),
        "description1": instrument.symbol,
        "ticker": instrument.symbol,
        "secType": instrument.sec_type.value,
        "listingExchange": instrument.listing_exchange or instrument.exchange,
        "remainingQuantity": float(order.remaining),
        "filledQuantity": float(order.filled_quantity),
        "totalSize": float(order.quantity),
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
        row["price"] = _num(order.price)
    if order.aux_price is not None:
        row["auxPrice"] = _num(order.aux_price)
    if order.avg_price is not None:
        row["avgPrice"] = str(order.avg_price.quantize(instrument.min_tick))
    if order.c_oid is not None:
        row["order_ref"] = order.c_oid
    if order.parent_id is not None:
        row["parentId"] = order.parent_id
    return row


def order_status(order: Order, instrument: Instrument) -> dict[str, Any]:
    """`GET /iserver/account/order/status/{id}`: the flat status object."""
    return {
        "order_id": order.order_id,
        "conid": order.conid,
        "symbol": instrument.symbol,
        "side": "B" if order.side is Side.BUY else "S",
        "account": order.account,
        "order_status": order.status.value,
        "order_type": _TYPE_NAMES[order.order_type][0],
        "size": str(order.quantity),
        "total_size": str(order.quantity),
        "cum_fill": str(order.filled_quantity),
        "order_not_editable": not order.is_working,
        "limit_price": str(order.price) if order.price is not None else None,
        "stop_price": str(order.aux_price) if order.aux_price is not None else None,
        "average_price": str(order.avg_price) if order.avg_price is not None else None,
        "tif": order.tif.value,
        "sec_type": instrument.sec_type.value,
        "listing_exchange": instrument.listing_exchange or instrument.exchange,
        "currency": instrument.currency,
        "cOID": order.c_oid,
        # A bracket child names its parent, as in the place/reply acknowledgement.
        "parent_order_id": str(order.parent_id) if order.parent_id is not None else None,
    }


def trade_row(fill: Fill, instrument: Instrument) -> dict[str, Any]:
    """An execution as in `GET /iserver/account/trades` and the `str` stream."""
    bought = fill.side is Side.BUY
    net = fill.quantity * fill.price * instrument.multiplier
    return {
        "execution_id": fill.execution_id,
        "symbol": instrument.symbol,
        "side": "B" if bought else "S",
        "order_description": f"{'Bot' if bought else 'Sold'} {_num(fill.quantity)} @ "
        f"{fill.price} on {instrument.exchange}",
        "trade_time": datetime.fromtimestamp(fill.ts_ns / 1e9, UTC).strftime("%Y%m%d-%H:%M:%S"),
        "trade_time_r": _ms(fill.ts_ns),
        "size": _num(fill.quantity),
        "price": str(fill.price),
        "order_ref": str(fill.order_id),
        "exchange": instrument.exchange,
        "commission": str(fill.commission),
        "net_amount": float(net),
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


def position_row(account: str, position: Position, instrument: Instrument) -> dict[str, Any]:
    """A position as in `GET /portfolio/{acct}/positions/{page}`."""
    return {
        "acctId": account,
        "conid": position.conid,
        "contractDesc": instrument.symbol,
        "position": float(position.quantity),
        "mktPrice": float(position.mark),
        "mktValue": float(position.market_value),
        "currency": instrument.currency,
        "avgCost": float(position.avg_price * position.multiplier),
        "avgPrice": float(position.avg_price),
        "realizedPnl": float(position.realized),
        "unrealizedPnl": float(position.unrealized),
        "exchs": None,
        "expiry": instrument.expiry,
        "putOrCall": instrument.right.value if instrument.right else None,
        "multiplier": instrument.multiplier if instrument.multiplier != 1 else None,
        "strike": float(instrument.strike or 0),
        "exerciseStyle": None,
        "conExchMap": [],
        "assetClass": instrument.sec_type.value,
        "undConid": instrument.underlying_conid or 0,
        "model": "",
        "ticker": instrument.symbol,
        "name": instrument.name,
    }


def pnl_row(event: PnlChanged) -> dict[str, Any]:
    """One `upnl` entry of `/iserver/account/pnl/partitioned` and the `spl` stream."""
    return {
        "rowType": 1,
        "dpl": float(event.daily),
        "nl": float(event.net_liquidation),
        "upl": float(event.unrealized),
        "el": float(event.excess_liquidity),
        "uel": float(event.excess_liquidity),
        "mv": float(event.market_value),
    }


def summary(portfolio: Portfolio, now_ns: int) -> dict[str, Any]:
    """`GET /portfolio/{acct}/summary`: lower-case keys to amount objects."""
    ccy, ts = portfolio.config.base_currency, _ms(now_ns)

    def money(value: Decimal) -> dict[str, Any]:
        return {
            "amount": float(value),
            "currency": ccy,
            "isNull": False,
            "timestamp": ts,
            "value": None,
            "severity": 0,
        }

    out: dict[str, Any] = {
        "accountcode": {
            "amount": 0.0,
            "currency": None,
            "isNull": False,
            "timestamp": ts,
            "value": portfolio.config.account_id,
            "severity": 0,
        },
    }
    figures = {
        "netliquidation": portfolio.net_liquidation,
        "totalcashvalue": portfolio.cash,
        "buyingpower": portfolio.buying_power,
        "excessliquidity": portfolio.excess_liquidity,
        "availablefunds": portfolio.available_funds,
        "equitywithloanvalue": portfolio.net_liquidation,
        "grosspositionvalue": portfolio.gross_position_value,
        "initmarginreq": portfolio.initial_margin,
        "maintmarginreq": portfolio.maintenance_margin,
    }
    for key, value in figures.items():
        out[key] = out[f"{key}-s"] = money(value)
    return out


def ledger(portfolio: Portfolio, now_ns: int) -> dict[str, Any]:
    """`GET /portfolio/{acct}/ledger`: one entry for the base currency and one as BASE."""
    ccy = portfolio.config.base_currency

    def entry(second_key: str) -> dict[str, Any]:
        return {
            "acctcode": portfolio.config.account_id,
            "cashbalance": float(portfolio.cash),
            "settledcash": float(portfolio.cash),
            "netliquidationvalue": float(portfolio.net_liquidation),
            "unrealizedpnl": float(portfolio.unrealized),
            "realizedpnl": float(portfolio.realized),
            "stockmarketvalue": float(portfolio.market_value),
            "exchangerate": 1.0,
            "commissions": float(portfolio.commissions),
            "currency": ccy,
            "key": "LedgerList",
            "secondkey": second_key,
            "timestamp": now_ns // 1_000_000_000,
            "severity": 0,
        }

    return {ccy: entry(ccy), "BASE": entry("BASE")}
