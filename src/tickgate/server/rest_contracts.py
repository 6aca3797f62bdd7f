"""REST: contract lookup — symbol search, futures, stocks, secdef, option strikes and info."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.market.calendar import calendar_of
from tickgate.market.catalogue.auto import ensure_listed
from tickgate.market.catalogue.catalogue import Catalogue, contract_month
from tickgate.market.schedule_payload import schedule_payload
from tickgate.model.instruments import Instrument, Right, SecType, invalid_conid
from tickgate.protocol.rest import contracts as shapes
from tickgate.protocol.rest_values import bounded_decimal, shown
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, int_list, json_body, json_response, param, query_bool
from tickgate.trading.order_domain import MAX_PLACES, MAX_PRICE

SECDEF_LIMIT = 200
#: Longest search text: far beyond any symbol or company name in a catalogue.
MAX_SEARCH_LENGTH = 100


async def search(request: web.Request) -> web.Response:
    symbol = (await param(request, "symbol") or "").strip()
    if not symbol:
        raise RequestError("missing required parameter 'symbol'")
    if len(symbol) > MAX_SEARCH_LENGTH:
        raise RequestError(f"symbol must be at most {MAX_SEARCH_LENGTH} characters")
    by_name = query_bool(request, "name", default=False)
    sec_type = _sec_type(await param(request, "secType"))
    gateway = gateway_of(request)
    catalogue = gateway.catalogue
    if gateway.config.auto_instruments and not by_name and sec_type in (None, SecType.STK):
        ensure_listed(catalogue, symbol)
    found = catalogue.search(symbol, by_name=by_name, sec_type=sec_type)
    return json_response([_search_row(catalogue, instrument) for instrument in found])


def _search_row(catalogue: Catalogue, instrument: Instrument) -> dict[str, Any]:
    """The search row of `instrument` with the chains the catalogue lists for it."""
    futures = catalogue.futures(instrument.symbol) if instrument.sec_type is SecType.IND else []
    return shapes.search_row(
        instrument,
        option_months=catalogue.option_months(instrument.conid),
        option_expiries=[o.expiry for o in catalogue.options(instrument.conid) if o.expiry],
        future_months=list(dict.fromkeys(contract_month(f) for f in futures)),
        future_exchange=futures[0].exchange if futures else "",
    )


def _sec_type(raw: str | None) -> SecType | None:
    if raw is None or not raw.strip():
        return None
    try:
        return SecType(raw.strip().upper())
    except ValueError:
        raise RequestError(
            f"unknown secType {shown(raw)}; use one of {', '.join(SecType)}"
        ) from None


def _underlying(request: web.Request) -> Instrument:
    raw = request.query.get("conid")
    if raw is None:
        raise RequestError("missing required parameter 'conid'")
    conid = int_list(raw, "conid", limit=1)[0]
    instrument = gateway_of(request).catalogue.find(conid)
    if instrument is None:
        raise RequestError(invalid_conid(conid))
    return instrument


def _month(request: web.Request) -> str:
    month = request.query.get("month", "").strip().upper()
    if not month:
        raise RequestError("missing required parameter 'month' (e.g. JAN27)")
    return month


async def strikes(request: web.Request) -> web.Response:
    underlying = _underlying(request)
    sec_type = _sec_type(request.query.get("sectype") or request.query.get("secType"))
    if sec_type not in (None, SecType.OPT):
        raise RequestError(f"strikes are available for sectype OPT, not {sec_type}")
    calls, puts = gateway_of(request).catalogue.strikes(underlying.conid, _month(request))
    return json_response({"call": [float(s) for s in calls], "put": [float(s) for s in puts]})


async def info(request: web.Request) -> web.Response:
    underlying = _underlying(request)
    sec_type = (
        _sec_type(request.query.get("sectype") or request.query.get("secType"))
        or underlying.sec_type
    )
    catalogue = gateway_of(request).catalogue
    if sec_type is SecType.OPT:
        found = catalogue.options(
            underlying.conid, month=_month(request), strike=_strike(request), right=_right(request)
        )
    elif sec_type is SecType.FUT:
        month = request.query.get("month", "").strip().upper() or None
        found = [
            f
            for f in catalogue.futures(underlying.symbol)
            if month is None or contract_month(f) == month
        ]
    else:
        found = [underlying]
    return json_response([shapes.info_row(instrument) for instrument in found])


def _strike(request: web.Request) -> Decimal | None:
    raw = request.query.get("strike")
    if raw is None or not raw.strip():
        return None
    return bounded_decimal(raw.strip(), "strike", maximum=MAX_PRICE, places=MAX_PLACES)


def _right(request: web.Request) -> Right | None:
    raw = request.query.get("right", "").strip().upper()
    if not raw:
        return None
    aliases = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}
    if raw not in aliases:
        raise RequestError(f"right must be C or P, got {shown(raw)}")
    return aliases[raw]


def _symbols(request: web.Request) -> list[str]:
    raw = request.query.get("symbols", "")
    symbols = list(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))
    if not symbols:
        raise RequestError("missing required parameter 'symbols'")
    return symbols


async def futures(request: web.Request) -> web.Response:
    catalogue = gateway_of(request).catalogue
    return json_response(
        {s: [shapes.future_row(f) for f in catalogue.futures(s)] for s in _symbols(request)}
    )


async def stocks(request: web.Request) -> web.Response:
    """`/trsrv/stocks`: per symbol, its companies, each with every listing as a contract."""
    gateway = gateway_of(request)
    catalogue = gateway.catalogue
    found: dict[str, list[dict[str, Any]]] = {}
    for symbol in _symbols(request):
        created = ensure_listed(catalogue, symbol) if gateway.config.auto_instruments else None
        listed = catalogue.stocks_by_symbol(created.symbol if created else symbol)
        found[symbol] = shapes.stock_entries(listed)
    return json_response(found)


async def secdef(request: web.Request) -> web.Response:
    raw: object = request.query.get("conids")
    if raw is None and request.method == "POST":
        raw = (await json_body(request)).get("conids")
    if isinstance(raw, list):
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in raw):
            raise RequestError("conids must be a list of integers")
        raw = ",".join(str(item) for item in raw)
    if not isinstance(raw, str):
        raise RequestError("missing required parameter 'conids'")
    catalogue = gateway_of(request).catalogue
    conids = int_list(raw, "conids", limit=SECDEF_LIMIT)
    unknown = [conid for conid in conids if catalogue.find(conid) is None]
    if unknown:
        raise RequestError(invalid_conid(*unknown))
    rows = [
        shapes.secdef_row(catalogue.get(c), has_options=bool(catalogue.option_months(c)))
        for c in conids
    ]
    return json_response({"secdef": rows})


#: Asset classes the schedule route accepts, as IBKR names them (SWP and CASH are forex).
_SCHEDULE_CLASSES = {"STK": SecType.STK, "OPT": SecType.OPT, "FUT": SecType.FUT,
                     "CASH": SecType.CASH, "SWP": SecType.CASH, "IND": SecType.IND}  # fmt: skip


async def schedule(request: web.Request) -> web.Response:
    """The trading schedule of a symbol's contracts, one entry per exchange, from the market
    calendar (see `tickgate.market.schedule_payload`)."""
    asset = request.query.get("assetClass", "").strip().upper()
    symbol = request.query.get("symbol", "").strip().upper()
    if not asset or not symbol:
        raise RequestError("missing required parameters 'assetClass' and 'symbol'")
    if asset not in _SCHEDULE_CLASSES:
        raise RequestError(
            f"unknown assetClass {shown(asset)}; use one of {', '.join(_SCHEDULE_CLASSES)}"
        )
    wanted = {e.strip().upper() for e in request.query.get("exchange", "").split(",") if e.strip()}
    wanted |= {
        e.strip().upper() for e in request.query.get("exchangeFilter", "").split(",") if e.strip()
    }
    gateway = gateway_of(request)
    sec_type = _SCHEDULE_CLASSES[asset]
    exchanges: dict[str, Instrument] = {}
    for instrument in gateway.catalogue:
        names = {instrument.symbol.upper(), instrument.symbol.upper().split(".")[0]}
        if instrument.sec_type is not sec_type or symbol not in names:
            continue
        if sec_type is SecType.STK and not instrument.is_us:
            continue  # a listing abroad: tickgate keeps no calendar of its exchange
        exchange = instrument.listing_exchange or instrument.exchange
        if not wanted or exchange.upper() in wanted or instrument.exchange.upper() in wanted:
            exchanges.setdefault(exchange, instrument)
    if not exchanges:
        raise RequestError(f"no {asset} contract with symbol {shown(symbol)}")
    now = gateway.clock.now_ns()
    return json_response(
        [
            schedule_payload(calendar_of(instrument), exchange, now)
            for exchange, instrument in exchanges.items()
        ]
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("*", "/iserver/secdef/search", search),
    ("GET", "/iserver/secdef/strikes", strikes),
    ("GET", "/iserver/secdef/info", info),
    ("GET", "/trsrv/futures", futures),
    ("GET", "/trsrv/stocks", stocks),
    ("*", "/trsrv/secdef", secdef),
    ("GET", "/trsrv/secdef/schedule", schedule),
]
