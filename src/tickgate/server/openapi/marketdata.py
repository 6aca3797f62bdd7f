"""Entries of the market-data routes: snapshots, unsubscribes, history bars, and IBKR's beta
`/md` and `/hmds` routes (`tickgate.server.rest_marketdata`, `tickgate.server.rest_beta`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    BOOLEAN,
    CONID,
    EPOCH_MS,
    INT_OR_TEXT,
    INTEGER,
    NUMBER,
    QUERY_BOOL,
    STRING,
    Operation,
    array,
    obj,
    op,
    path,
    query,
)

BAD_QUERY = "a parameter is missing or malformed, a conid or field id is unknown, or no bars"

#: A snapshot row: ids always; once pre-flighted, each field id with a value (text: IBKR
#: formats them, e.g. "C212.50" after the close), `_updated` and `server_id`.
SNAPSHOT_ROW = {
    **obj(
        {"conid": INTEGER, "conidEx": STRING, "_updated": EPOCH_MS, "server_id": STRING},
        optional=("_updated", "server_id"),
    ),
    "patternProperties": {"^[0-9]+$": STRING},
}
BAR = obj({"o": NUMBER, "c": NUMBER, "h": NUMBER, "l": NUMBER, "v": NUMBER, "t": EPOCH_MS})
HISTORY = obj(
    {
        "serverId": STRING,
        "symbol": STRING,
        "text": STRING,
        "priceFactor": INTEGER,
        "startTime": STRING,
        "high": STRING,
        "low": STRING,
        "timePeriod": STRING,
        "barLength": INTEGER,
        "mdAvailability": STRING,
        "outsideRth": BOOLEAN,
        "direction": INTEGER,
        "data": array(BAR, min_items=1),
        "points": INTEGER,
        "travelTime": INTEGER,
    }
)
HMDS_HISTORY = {
    "allOf": [HISTORY, obj({"startTimeVal": EPOCH_MS, "endTime": STRING, "endTimeVal": EPOCH_MS})]
}

_snapshot_params = (
    query("conids", STRING, required=True, description="comma-separated conids (at most 100)"),
    query("fields", STRING, description="comma-separated field ids (at most 50)"),
)
_history_params = (
    query("conid", CONID, required=True),
    query("period", STRING, description="e.g. 1d, 2w, 1m (default 1w)"),
    query("bar", STRING, description="e.g. 5min, 1h, 1d (default: from the period)"),
    query("startTime", STRING, description="end of the window, YYYYMMDD-HH:MM:SS"),
    query("outsideRth", QUERY_BOOL),
    query("source", STRING, description="trades, midpoint, bid_ask, ..."),
)
_TOO_MANY = "more than 5 history requests at once"

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/iserver/marketdata/snapshot",
        "Current values; the first call for a conid is a pre-flight (ids only)",
        ok=array(SNAPSHOT_ROW),
        params=_snapshot_params,
        errors={
            400: BAD_QUERY,
            500: "`Please query /accounts first`: the session is not primed (as the real gateway)",
        },
        tag="marketdata",
    ),
    *op(
        "POST",
        "/iserver/marketdata/unsubscribe",
        "Stop a conid's snapshot stream",
        ok=obj({"success": BOOLEAN}),
        body=obj({"conid": INT_OR_TEXT}),
        body_required=True,
        errors={
            400: "the body is not a JSON object or its conid is malformed",
            404: "the conid has no stream",
        },
        tag="marketdata",
    ),
    *op(
        "GET",
        "/iserver/marketdata/unsubscribeall",
        "Stop every snapshot stream",
        ok=obj({"unsubscribed": BOOLEAN}),
        tag="marketdata",
    ),
    *op(
        "GET",
        "/iserver/marketdata/{conid}/unsubscribe",
        "Stop a conid's snapshot stream (older route)",
        ok=obj({"confirmed": STRING}),
        params=(path("conid", CONID),),
        errors={400: "the conid is malformed", 404: "the conid has no stream"},
        tag="marketdata",
    ),
    *op(
        "GET",
        "/iserver/marketdata/history",
        "Bars of a contract from the simulator's history",
        ok=HISTORY,
        params=_history_params,
        errors={400: BAD_QUERY, 429: _TOO_MANY},
        tag="marketdata",
    ),
    *op(
        "GET",
        "/md/snapshot",
        "Current values at once (beta: no pre-flight, no line held)",
        ok=array(SNAPSHOT_ROW),
        params=_snapshot_params,
        errors={400: BAD_QUERY},
        tag="marketdata",
    ),
    *op(
        "GET",
        "/hmds/history",
        "Bars of a contract (beta); `bar` required, only backwards from `startTime`",
        ok=HMDS_HISTORY,
        params=(*_history_params, query("direction", STRING, description="-1 only")),
        errors={400: BAD_QUERY, 429: _TOO_MANY},
        tag="marketdata",
    ),
]
