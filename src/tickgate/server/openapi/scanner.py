"""Entries of the scanner routes (`tickgate.server.rest_scanner`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    INTEGER,
    NUMBER,
    STRING,
    Operation,
    array,
    obj,
    op,
)

BAD_BODY = "the body is not a JSON object, or names an unknown instrument, location, scan or filter"

FILTER = obj({"code": STRING, "value": {"anyOf": [NUMBER, STRING]}})
PARAMS = obj(
    {
        "scan_type_list": array(
            obj({"display_name": STRING, "code": STRING, "instruments": array(STRING)})
        ),
        "instrument_list": array(
            obj({"display_name": STRING, "type": STRING, "filters": array(STRING)})
        ),
        "filter_list": array(obj({"group": STRING, "display_name": STRING, "code": STRING})),
        "location_tree": array(obj({"display_name": STRING, "type": STRING})),
    }
)
CONTRACT = obj(
    {
        "server_id": STRING,
        "symbol": STRING,
        "conidex": STRING,
        "con_id": INTEGER,
        "company_name": STRING,
        "scan_data": STRING,
        "listing_exchange": STRING,
        "sec_type": STRING,
    }
)

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/iserver/scanner/params",
        "Scan types, instruments, locations and filters the scanner evaluates",
        ok=PARAMS,
        tag="scanner",
    ),
    *op(
        "POST",
        "/iserver/scanner/run",
        "Up to 50 contracts ranked by a scan of the live simulated market",
        ok=obj({"contracts": array(CONTRACT), "scan_data_column_name": STRING}),
        body=obj(
            {"instrument": STRING, "location": STRING, "type": STRING, "filter": array(FILTER)},
            optional=("filter",),
        ),
        body_required=True,
        errors={400: BAD_BODY},
        tag="scanner",
    ),
    *(
        entry
        for route in ("/hmds/scanner", "/hmds/scanner/run")  # IBKR documents both paths
        for entry in op(
            "POST",
            route,
            "The same scan, answered as contract ids with the scan time (HMDS form)",
            ok=obj(
                {
                    "total": INTEGER,
                    "size": INTEGER,
                    "offset": INTEGER,
                    "scanTime": STRING,
                    "id": STRING,
                    "Contracts": obj(
                        {"Contract": array(obj({"inScanTime": STRING, "contractID": INTEGER}))}
                    ),
                }
            ),
            body=obj(
                {
                    "instrument": STRING,
                    "locations": STRING,
                    "scanCode": STRING,
                    "maxItems": {"type": "integer", "minimum": 1, "maximum": 250},
                    "filter": array(FILTER),
                },
                optional=("maxItems", "filter"),
            ),
            body_required=True,
            errors={400: BAD_BODY},
            tag="scanner",
        )
    ),
]
