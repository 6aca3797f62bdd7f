"""REST: the market scanner (`/iserver/scanner/params`, `/iserver/scanner/run`, `/hmds/scanner`
and `/hmds/scanner/run`)
in IBKR's shapes, answered by `tickgate.market.scanner` over the live market engine."""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web

from tickgate.clock import NS_PER_S
from tickgate.errors import RequestError
from tickgate.market.scanner import MAX_ROWS, Scanner, ScanResult
from tickgate.protocol.rest_values import shown
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_body, json_response, parse_int

_SCANNER = web.AppKey("scanner", Scanner)
#: The HMDS scanner answers up to 250 contracts; tickgate's universe is far smaller anyway.
HMDS_MAX_ITEMS = 250


def install(app: web.Application, scanner: Scanner) -> None:
    """Give `app` the scanner its routes run."""
    app[_SCANNER] = scanner


def _scanner(request: web.Request) -> Scanner:
    return request.app[_SCANNER]


async def params(request: web.Request) -> web.Response:
    """What the scanner evaluates: its scan types, instrument types, filters and locations."""
    scanner = _scanner(request)
    kinds = scanner.instrument_types
    filter_codes = [f.code for f in scanner.filters]
    location_tree = []
    for kind in kinds:
        major, *exchanges = scanner.locations(kind)
        children = [
            {"display_name": e.display_name, "type": e.code, "locations": []} for e in exchanges
        ]
        location_tree.append(
            {
                "display_name": kind.display_name,
                "type": kind.code,
                "locations": [
                    {"display_name": major.display_name, "type": major.code, "locations": children}
                ],
            }
        )
    return json_response(
        {
            "scan_type_list": [
                {
                    "display_name": s.display_name,
                    "code": s.code,
                    "instruments": [k.code for k in kinds],
                }
                for s in scanner.scan_types
            ],
            "instrument_list": [
                {"display_name": k.display_name, "type": k.code, "filters": filter_codes}
                for k in kinds
            ],
            "filter_list": [
                {
                    "group": f.code,
                    "display_name": f.display_name,
                    "code": f.code,
                    "type": "non-range",
                }
                for f in scanner.filters
            ],
            "location_tree": location_tree,
        }
    )


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise RequestError(f"missing required field {name!r}")
    if not isinstance(value, str):
        raise RequestError(f"{name} must be a string, got {shown(value)}")
    return value


def _filters(raw: object, *, name: str = "filter") -> list[tuple[str, float]]:
    """`[{"code": "priceAbove", "value": 5}, ...]` as (code, bound) pairs."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise RequestError(f"{name} must be a list of {{code, value}} objects")
    out: list[tuple[str, float]] = []
    for item in raw:
        if not isinstance(item, dict) or "code" not in item or "value" not in item:
            raise RequestError(f"each {name} entry needs a code and a value, got {shown(item)}")
        code, value = item["code"], item["value"]
        if not isinstance(code, str):
            raise RequestError(f"a {name} code must be a string, got {shown(code)}")
        out.append((code, _bound(value, code)))
    return out


def _bound(value: object, code: str) -> float:
    if isinstance(value, bool):
        raise RequestError(f"the value of filter {code} must be a number, got {shown(value)}")
    try:
        number = float(value) if isinstance(value, int | float | str) else float("nan")
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise RequestError(f"the value of filter {code} must be a number, got {shown(value)}")
    return number


async def run(request: web.Request) -> web.Response:
    """Up to 50 contracts ranked by the scan type, as IBKR's `/iserver/scanner/run`."""
    body = await json_body(request)
    result = _scanner(request).run(
        instrument=_text(body, "instrument"),
        location=_text(body, "location"),
        scan_code=_text(body, "type"),
        filters=_filters(body.get("filter")),
    )
    return json_response(_iserver_payload(result))


def _iserver_payload(result: ScanResult) -> dict[str, Any]:
    column = result.scan_type.column
    contracts = []
    for row in result.rows:
        instrument = row.instrument
        contract: dict[str, Any] = {
            "server_id": str(row.rank),
            "symbol": instrument.symbol,
            "conidex": str(instrument.conid),
            "con_id": instrument.conid,
            "available_chart_periods": "#R|1",
            "company_name": instrument.name,
            "scan_data": row.shown,
            "contract_description_1": instrument.symbol,
            "listing_exchange": instrument.listing_exchange or instrument.exchange,
            "sec_type": instrument.sec_type.value,
        }
        if row.rank == 0:  # IBKR names the column on the first contract only
            contract["column_name"] = column
        contracts.append(contract)
    return {"contracts": contracts, "scan_data_column_name": column}


async def hmds_run(request: web.Request) -> web.Response:
    """The HMDS scanner: the same evaluation, answered as contract ids with the scan time."""
    gateway = gateway_of(request)
    body = await json_body(request)
    max_items = parse_int(body.get("maxItems", HMDS_MAX_ITEMS), "maxItems")
    if not 1 <= max_items <= HMDS_MAX_ITEMS:
        raise RequestError(f"maxItems must be from 1 to {HMDS_MAX_ITEMS}, got {max_items}")
    instrument = _text(body, "instrument")
    # IBKR documents `locations`; ibind's hmds_market_scanner sends `location`
    singular = "locations" not in body and "location" in body
    result = _scanner(request).run(
        instrument=instrument,
        location=_text(body, "location" if singular else "locations"),
        scan_code=_text(body, "scanCode"),
        filters=_filters(body.get("filter", body.get("filters")), name="filter"),
        limit=min(max_items, MAX_ROWS),
    )
    now = datetime.datetime.fromtimestamp(gateway.clock.now_ns() / NS_PER_S, datetime.UTC)
    scan_time = now.strftime("%Y%m%d-%H:%M:%S")
    rows = [{"inScanTime": scan_time, "contractID": row.instrument.conid} for row in result.rows]
    return json_response(
        {
            "total": len(rows),
            "size": len(rows),
            "offset": 0,
            "scanTime": scan_time,
            "id": f"scanner{next(gateway.ids.hmds_scan_ids)}",
            "Contracts": {"Contract": rows},
        }
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/iserver/scanner/params", params),
    ("POST", "/iserver/scanner/run", run),
    ("POST", "/hmds/scanner", hmds_run),
    ("POST", "/hmds/scanner/run", hmds_run),  # IBKR's newer reference, and ibind, use this path
]
