"""Entries of the watchlist routes (`tickgate.server.rest_watchlists`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    BOOLEAN,
    EPOCH_MS,
    INT_OR_TEXT,
    INTEGER,
    STRING,
    Link,
    Operation,
    array,
    obj,
    op,
    query,
)

#: A watchlist row: an instrument (`ST` its kind) or a header (`H` its text).
INSTRUMENT_ROW = obj({"ST": STRING, "C": STRING, "conid": INTEGER})
WATCHLIST = obj(
    {
        "id": STRING,
        "hash": STRING,
        "name": STRING,
        "readOnly": BOOLEAN,
        "instruments": array(
            {"anyOf": [obj({"ST": STRING, "conid": INTEGER}), obj({"H": STRING})]}
        ),
    }
)
ROW = {"anyOf": [obj({"C": INT_OR_TEXT}, closed=True), obj({"H": STRING}, closed=True)]}
_SAVE_FAILED = "the watchlist file could not be written"
_id = query("id", {"type": "string", "minLength": 1}, required=True)

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/iserver/watchlists",
        "Every user watchlist",
        ok=obj(
            {
                "data": obj(
                    {"user_lists": array(obj({"id": STRING, "name": STRING, "modified": EPOCH_MS}))}
                ),
                "action": STRING,
                "MID": STRING,
            }
        ),
        params=(query("SC", STRING, description="USER_WATCHLIST, the only scope"),),
        errors={400: "SC is not USER_WATCHLIST"},
        tag="watchlists",
    ),
    *op(
        "GET",
        "/iserver/watchlist",
        "One watchlist with its rows",
        ok=WATCHLIST,
        params=(_id,),
        errors={400: "id is missing", 404: "no such watchlist"},
        tag="watchlists",
    ),
    *op(
        "POST",
        "/iserver/watchlist",
        "Create or replace a watchlist",
        ok=WATCHLIST,
        body=obj(
            {"id": {"anyOf": [STRING, INTEGER]}, "name": STRING, "rows": array(ROW)},
            optional=("rows",),
        ),
        body_required=True,
        errors={400: "id, name or a row is missing or malformed", 500: _SAVE_FAILED},
        links={
            "read": Link("get_iserver_watchlist", {"id": "$response.body#/id"}),
            "delete": Link("delete_iserver_watchlist", {"id": "$response.body#/id"}),
        },
        tag="watchlists",
    ),
    *op(
        "DELETE",
        "/iserver/watchlist",
        "Delete a watchlist",
        ok=obj({"data": obj({"deleted": STRING}), "action": STRING, "MID": STRING}),
        params=(_id,),
        errors={
            400: "id is missing from the query and the body, or the JSON body is bad",
            404: "no such watchlist",
            500: _SAVE_FAILED,
        },
        tag="watchlists",
    ),
]
