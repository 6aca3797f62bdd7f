"""REST: contract details and trading rules, algos, all conids of an exchange, currency pairs
and exchange rates. Rules come from the paper engine's own (`trading.rules`), rates from the
simulated FX quotes (`market.fx`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.market.catalogue.catalogue import contract_month
from tickgate.market.fx import FxRates
from tickgate.model.instruments import Instrument, SecType, invalid_conid
from tickgate.model.orders import OrderType
from tickgate.protocol.rest.contracts import increment_rules
from tickgate.protocol.rest_values import json_bool, shown
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import Handler, json_body, json_response, parse_int, query_bool
from tickgate.trading.order_domain import MAX_PLACES
from tickgate.trading.rules import OrderRules, order_rules

#: IBKR's names of order types in contract rules (`orderTypes`; upper case inside `tifTypes`).
RULE_NAMES = {
    OrderType.MKT: "market",
    OrderType.LMT: "limit",
    OrderType.STP: "stop",
    OrderType.STOP_LIMIT: "stop_limit",
    OrderType.TRAIL: "trailing_stop",
    OrderType.TRAILLMT: "trailing_stop_limit",
    OrderType.MOC: "marketonclose",
    OrderType.LOC: "limitonclose",
}
#: Longest currency code accepted in a query (ISO codes have three letters).
MAX_CURRENCY_LENGTH = 8


def _instrument(gateway: Gateway, raw: object) -> Instrument:
    conid = parse_int(raw, "conid")
    instrument = gateway.catalogue.find(conid)
    if instrument is None:
        raise RequestError(invalid_conid(conid))
    return instrument


def _path_instrument(request: web.Request) -> Instrument:
    return _instrument(gateway_of(request), request.match_info["conid"])


def _price(gateway: Gateway, instrument: Instrument) -> float:
    """A default order price: the last trade, else the reference price, on the tick grid."""
    quote = gateway.market.quote(instrument.conid)
    last = quote.last if quote is not None and quote.last > 0 else instrument.reference_price
    return float(instrument.round_to_tick(last))


def info_body(gateway: Gateway, instrument: Instrument) -> dict[str, Any]:
    """`/iserver/contract/{conid}/info`: the contract's details, keys as IBKR documents."""
    derivative = instrument.sec_type in (SecType.FUT, SecType.OPT) and instrument.expiry
    price = instrument.reference_price
    fee = gateway.trading.config.commissions.commission(instrument, Decimal(1), price)
    return {
        "cfi_code": "",
        "symbol": instrument.symbol,
        "cusip": None,
        "expiry_full": instrument.expiry,
        "con_id": instrument.conid,
        "maturity_date": instrument.expiry,
        "industry": None,
        "instrument_type": instrument.sec_type.value,
        "trading_class": instrument.trading_class or instrument.symbol,
        "valid_exchanges": instrument.exchange,
        "allow_sell_long": False,
        "is_zero_commission_security": fee == 0,
        "local_symbol": instrument.symbol,
        "contract_clarification_type": None,
        "classifier": None,
        "currency": instrument.currency,
        "text": None,
        "underlying_con_id": instrument.underlying_conid or 0,
        "r_t_h": True,
        "multiplier": str(instrument.multiplier) if derivative else None,
        "underlying_issuer": None,
        "contract_month": contract_month(instrument) if derivative else None,
        "company_name": instrument.name,
        "smart_available": instrument.exchange == "SMART",
        "exchange": instrument.exchange,
        "category": None,
    }


def _tif_types(rules: OrderRules) -> list[str]:
    # IBKR's "TIF/restrictions" spelling: the order types a tif is limited to (none listed when
    # it takes every type), then "o" when outsideRTH applies to it.
    rows = []
    for tif, types in rules.tifs.items():
        parts = [] if types == rules.order_types else [RULE_NAMES[t].upper() for t in types]
        if tif in rules.outside_rth_tifs:
            parts.append("o")
        rows.append(f"{tif.value}/{','.join(parts)}")
    return rows


def rules_body(gateway: Gateway, instrument: Instrument) -> dict[str, Any]:
    """The `rules` object of `/iserver/contract/rules` and `.../info-and-rules`."""
    rules = order_rules(instrument, gateway.config.accounts, gateway.trading.rates)
    price = _price(gateway, instrument)
    default_size = 100 if instrument.sec_type is SecType.STK else 1
    names = [RULE_NAMES[t] for t in rules.order_types]
    return {
        "algoEligible": False,
        "overnightEligible": False,
        "costReport": False,
        "canTradeAcctIds": list(rules.accounts),
        "error": None,
        "orderTypes": names,
        "ibAlgoTypes": [],
        "fraqTypes": names if rules.fractional else [],
        "forceOrderPreview": False,
        "cqtTypes": [],  # cashQty orders are refused
        "orderDefaults": {"LMT": {"LP": str(price)}},
        "orderTypesOutside": [RULE_NAMES[t] for t in rules.outside_rth],
        "defaultSize": default_size,
        "cashSize": 0.0,
        "sizeIncrement": float(rules.size_increment),
        "tifTypes": _tif_types(rules),
        "tifDefaults": {"TIF": "DAY", "SIZE": f"{default_size:.2f}"},
        "limitPrice": price,
        "stopprice": price,
        "orderOrigination": None,
        "preview": True,
        "displaySize": None,
        "fraqInt": MAX_PLACES if rules.fractional else 0,
        "cashCcy": instrument.currency,
        "cashQtyIncr": 0,
        "priceMagnifier": None,
        "negativeCapable": False,
        "incrementType": 1,
        "incrementRules": increment_rules(instrument),
        "hasSecondary": False,
        "increment": float(rules.price_increment),
        "incrementDigits": instrument.price_decimals,
    }


async def info(request: web.Request) -> web.Response:
    return json_response(info_body(gateway_of(request), _path_instrument(request)))


async def info_and_rules(request: web.Request) -> web.Response:
    instrument = _path_instrument(request)
    query_bool(request, "isBuy", default=True)  # validated; the engine's rules are the same
    gateway = gateway_of(request)
    return json_response(
        {**info_body(gateway, instrument), "rules": rules_body(gateway, instrument)}
    )


async def rules(request: web.Request) -> web.Response:
    body = await json_body(request)
    if "conid" not in body:
        raise RequestError("missing required field 'conid'")
    gateway = gateway_of(request)
    instrument = _instrument(gateway, body["conid"])
    for flag in ("isBuy", "modifyOrder"):
        if body.get(flag) is not None:
            json_bool(body[flag], flag)
    if body.get("orderId") is not None:
        parse_int(body["orderId"], "orderId")
    return json_response(rules_body(gateway, instrument))


async def algos(request: web.Request) -> web.Response:
    _path_instrument(request)
    return json_response({"algos": []})  # the paper engine runs no IB algos


def _text(request: web.Request, name: str) -> str:
    raw = request.query.get(name, "").strip()
    if not raw:
        raise RequestError(f"missing required parameter {name!r}")
    if len(raw) > 32 or not raw.isascii():
        raise RequestError(f"invalid {name} {shown(raw)}")
    return raw.upper()


async def all_conids(request: web.Request) -> web.Response:
    exchange = _text(request, "exchange")
    raw_class = request.query.get("assetClass", "").strip().upper() or SecType.STK.value
    if raw_class not in SecType.__members__:
        raise RequestError(
            f"unknown assetClass {shown(raw_class)}; use one of {', '.join(SecType)}"
        )
    rows = [
        {"ticker": i.symbol, "conid": i.conid, "exchange": i.listing_exchange or i.exchange}
        for i in gateway_of(request).catalogue
        if i.sec_type == raw_class and exchange in (i.listing_exchange, i.exchange)
    ]
    return json_response(rows)


def _currency(request: web.Request, name: str) -> str:
    code = _text(request, name)
    if len(code) > MAX_CURRENCY_LENGTH or not code.isalpha():
        raise RequestError(f"invalid {name} {shown(code)}: expected a currency code like USD")
    return code


def currency_rates(gateway: Gateway) -> FxRates:
    """Exchange rates from the gateway's simulated FX quotes."""
    return FxRates(gateway.catalogue, gateway.market)


async def currency_pairs(request: web.Request) -> web.Response:
    currency = _currency(request, "currency")
    found = currency_rates(gateway_of(request)).pairs_of(currency)
    rows = [{"symbol": p.instrument.symbol, "conid": p.instrument.conid, "ccyPair": other}
            for p, other in found]  # fmt: skip
    return json_response({currency: rows})


async def exchange_rate(request: web.Request) -> web.Response:
    source, target = _currency(request, "source"), _currency(request, "target")
    rate = currency_rates(gateway_of(request)).rate(source, target)
    if rate is None:
        raise RequestError(f"no exchange rate from {source} to {target}: no FX pair links them")
    return json_response({"rate": float(rate)})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/iserver/contract/{conid}/info", info),
    ("GET", "/iserver/contract/{conid}/info-and-rules", info_and_rules),
    ("POST", "/iserver/contract/rules", rules),
    ("GET", "/iserver/contract/{conid}/algos", algos),
    ("GET", "/trsrv/all-conids", all_conids),
    ("GET", "/iserver/currency/pairs", currency_pairs),
    ("GET", "/iserver/exchangerate", exchange_rate),
]
