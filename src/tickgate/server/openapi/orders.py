"""Entries of the order routes: place (and preview), reply, modify, cancel, suppress, the
live-order list, status, trades and P&L (`tickgate.server.rest_orders`, `rest_whatif`).

Placement answers follow IBKR: an order the engine refuses is HTTP 200 `{"error": reason}`,
an order that needs confirmation answers its questions, each with a reply id.
"""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    ACCOUNT,
    BOOL_OR_TEXT,
    BOOLEAN,
    DECIMAL,
    INT64,
    INTEGER,
    NUMBER,
    QUERY_BOOL,
    STRING,
    Link,
    Operation,
    array,
    map_of,
    nullable,
    obj,
    op,
    path,
    query,
    query_integer,
)
from tickgate.trading.order_domain import MAX_CONID

BAD_BODY = "the body is not a JSON object, or a field is missing or malformed"
UNKNOWN_ACCOUNT = "no such account"

#: One order of a placement body. Optional members may be null (the same as leaving them out).
ORDER = obj(
    {
        "conid": {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_CONID},
                {"type": "string", "pattern": "^-?[0-9]{1,19}$"},
            ]
        },
        "orderType": STRING,
        "side": STRING,
        "quantity": DECIMAL,
        "price": nullable(DECIMAL),
        "auxPrice": nullable(DECIMAL),
        "trailingAmt": nullable(DECIMAL),
        "trailingType": nullable(STRING),
        "tif": nullable(STRING),
        "cOID": nullable(STRING),
        "parentId": nullable({"anyOf": [STRING, INTEGER]}),
        "outsideRTH": nullable(BOOL_OR_TEXT),
        "isCcyConv": nullable(BOOL_OR_TEXT),
        "isSingleGroup": nullable(BOOL_OR_TEXT),
        "acctId": nullable(STRING),
        # An advisor's order to a group: the method it is split by, else the group's.
        "allocationMethod": nullable(STRING),
    },
    optional=(
        "price",
        "auxPrice",
        "trailingAmt",
        "trailingType",
        "tif",
        "cOID",
        "parentId",
        "outsideRTH",
        "isCcyConv",
        "isSingleGroup",
        "acctId",
        "allocationMethod",
    ),
    description="One order: what IBKR's order object carries (listed members are checked)",
)
#: A modification resends the order: every member may be left out (or null).
CHANGES = obj(
    {name: nullable(schema) for name, schema in ORDER["properties"].items()},
    optional=tuple(ORDER["properties"]),
)
ORDERS_BODY = obj({"orders": array(ORDER, min_items=1)})
QUESTION = obj(
    {
        "id": STRING,
        "message": array(STRING),
        "isSuppressed": BOOLEAN,
        "messageIds": array(STRING),
    }
)
PLACED = obj(
    {
        "order_id": STRING,
        "order_status": STRING,
        "encrypt_message": STRING,
        "parent_order_id": nullable(STRING),
    },
    optional=("parent_order_id",),
)
#: HTTP 200 with an error: the engine refused the order (IBKR's way).
REFUSED = obj({"error": STRING})
PLACE_ANSWER = {"anyOf": [array({"anyOf": [QUESTION, PLACED]}, min_items=1), REFUSED]}
_REFUSALS = 'An order the engine refuses is answered HTTP 200 `{"error": reason}`, as IBKR does.'
CANCELLED = obj(
    {"msg": STRING, "order_id": INTEGER, "conid": INTEGER, "account": STRING},
    optional=("conid",),  # not for -1, which cancels every working order of the account
)
ORDER_STATUS = obj(
    {
        "order_id": INTEGER,
        "conid": INTEGER,
        "symbol": STRING,
        "side": STRING,
        "account": STRING,
        "order_status": STRING,
        "order_type": STRING,
        "size": STRING,
        "total_size": STRING,
        "cum_fill": STRING,
        "limit_price": nullable(STRING),
        "stop_price": nullable(STRING),
        "average_price": nullable(STRING),
        "tif": STRING,
        "currency": STRING,
        # Text, as in the place/reply acknowledgement (`PLACED`): both send the id as a string.
        "parent_order_id": nullable(STRING),
        "oca_group_id": nullable(STRING),
    }
)
LIVE_ORDER = obj(
    {
        "acct": STRING,
        "conid": INTEGER,
        "orderId": INTEGER,
        "ticker": STRING,
        "secType": STRING,
        "status": STRING,
        "orderType": STRING,
        "side": STRING,
        "timeInForce": STRING,
        "totalSize": NUMBER,
        "filledQuantity": NUMBER,
        "remainingQuantity": NUMBER,
        # A bracket child's parent, as the number its `orderId` is.
        "parentId": INTEGER,
    },
    optional=("parentId",),
)
TRADE = obj(
    {
        "execution_id": STRING,
        "symbol": STRING,
        "side": STRING,
        "trade_time": STRING,
        "trade_time_r": INTEGER,
        "size": NUMBER,
        "price": STRING,
        "order_ref": nullable(STRING),
        "commission": STRING,
        "net_amount": NUMBER,
        "account": STRING,
        "conid": STRING,
    }
)
PNL_ROW = obj({"rowType": INTEGER, "dpl": NUMBER, "nl": NUMBER, "upl": NUMBER, "mv": NUMBER})
TRIPLE = obj({"current": STRING, "change": STRING, "after": STRING})
PREVIEW = obj(
    {
        "amount": obj({"amount": STRING, "commission": STRING, "total": STRING}),
        "equity": TRIPLE,
        "initial": TRIPLE,
        "maintenance": TRIPLE,
        "position": TRIPLE,
        "warn": nullable(STRING),
        "error": nullable(STRING),
    }
)
SUBMITTED = obj({"status": STRING})

_account = path("account", ACCOUNT)
_order_id = path("order_id", INT64)
#: Where a reply id or an order id of a placement answer goes next (schemathesis' stateful
#: phase follows these: place -> reply -> status).
_AFTER_PLACING = {
    "reply": Link("post_iserver_reply_reply_id", {"reply_id": "$response.body#/0/id"}),
    "status": Link(
        "get_iserver_account_order_status_order_id", {"order_id": "$response.body#/0/order_id"}
    ),
}


def _placement(route: str, summary: str, body_note: str) -> list[Operation]:
    return op(
        "POST",
        route,
        summary,
        ok=PLACE_ANSWER,
        params=(_account,),
        body=ORDERS_BODY,
        body_required=True,
        description=f"{body_note} {_REFUSALS}",
        errors={400: BAD_BODY, 404: UNKNOWN_ACCOUNT},
        links=_AFTER_PLACING,
        tag="orders",
        refuses_with_200=True,
    )


OPERATIONS: list[Operation] = [
    *_placement(
        "/iserver/account/{account}/orders",
        "Place orders (a bracket: children name the parent's cOID as parentId)",
        "Answers questions to confirm with `POST /iserver/reply/{id}`, or the placed orders. "
        "With `--advisor`, `account` may be an allocation group, `All` or the master account: "
        "each order is split over the sub-accounts and acknowledged once, under its own id.",
    ),
    *op(
        "POST",
        "/iserver/account/orders/{group}",
        "Place orders to a Financial Advisor group (older route; --advisor)",
        ok=PLACE_ANSWER,
        params=(path("group", description="an allocation group, or All"),),
        body=ORDERS_BODY,
        body_required=True,
        description="Each order is split over the group's sub-accounts by its method (or the "
        f"order's `allocationMethod`); one acknowledgement per order. {_REFUSALS}",
        errors={400: BAD_BODY + "; or the login is no advisor", 404: "no such group"},
        tag="orders",
        refuses_with_200=True,
    ),
    *_placement(
        "/iserver/account/{account}/order",
        "Place one order (older route; a bare order object is accepted too)",
        'As `.../orders`, the body `{"orders": [...]}` or one order object.',
    ),
    *op(
        "POST",
        "/iserver/account/{account}/orders/whatif",
        "Preview orders: commission, margin and equity before, change and after",
        ok={"anyOf": [PREVIEW, REFUSED]},
        params=(_account,),
        body=ORDERS_BODY,
        body_required=True,
        errors={400: BAD_BODY, 404: UNKNOWN_ACCOUNT},
        tag="orders",
        refuses_with_200=True,
        description=_REFUSALS,
    ),
    *op(
        "POST",
        "/iserver/account/{account}/order/whatif",
        "Preview one order (older route)",
        ok={"anyOf": [PREVIEW, REFUSED]},
        params=(_account,),
        body=ORDERS_BODY,
        body_required=True,
        errors={400: BAD_BODY, 404: UNKNOWN_ACCOUNT},
        tag="orders",
        refuses_with_200=True,
        description=_REFUSALS,
    ),
    *op(
        "POST",
        "/iserver/reply/{reply_id}",
        "Answer an order question",
        ok=PLACE_ANSWER,
        params=(path("reply_id", STRING),),
        body=obj({"confirmed": BOOLEAN}),
        body_required=True,
        errors={
            400: "unknown reply id, a declined question, or a body without `confirmed`",
            503: "the reply id went stale: another request came between question and reply",
        },
        links=_AFTER_PLACING,
        tag="orders",
        refuses_with_200=True,
    ),
    *op(
        "POST",
        "/iserver/account/{account}/order/{order_id}",
        "Modify a working order",
        ok=PLACE_ANSWER,
        params=(_account, _order_id),
        body=CHANGES,
        body_required=True,
        errors={400: BAD_BODY, 404: UNKNOWN_ACCOUNT},
        tag="orders",
        refuses_with_200=True,
    ),
    *op(
        "DELETE",
        "/iserver/account/{account}/order/{order_id}",
        "Cancel a working order (`-1`: every working order of the account)",
        ok={"anyOf": [CANCELLED, REFUSED]},
        params=(_account, _order_id),
        errors={
            400: "the order id is malformed, or the order is no longer working",
            404: UNKNOWN_ACCOUNT,
        },
        tag="orders",
        refuses_with_200=True,
    ),
    *op(
        "POST",
        "/iserver/questions/suppress",
        "Suppress order questions by message id",
        ok=SUBMITTED,
        body=obj({"messageIds": array(STRING)}),
        body_required=True,
        errors={400: 'the body is not {"messageIds": [...]} or names an unknown id'},
        tag="orders",
    ),
    *op(
        "POST",
        "/iserver/questions/suppress/reset",
        "Ask every suppressed question again",
        ok=SUBMITTED,
        tag="orders",
    ),
    *op(
        "GET",
        "/iserver/account/orders",
        "The day's orders; `filters` comma-separated or repeated, any case of the name",
        ok=obj({"orders": array(LIVE_ORDER), "snapshot": BOOLEAN}),
        params=(query("filters", STRING), query("force", QUERY_BOOL), query("accountId", STRING)),
        errors={400: "force is not a boolean", 404: UNKNOWN_ACCOUNT},
        links={
            "status": Link(
                "get_iserver_account_order_status_order_id",
                {"order_id": "$response.body#/orders/0/orderId"},
            )
        },
        tag="orders",
    ),
    *op(
        "GET",
        "/iserver/account/order/status/{order_id}",
        "One order's status",
        ok=ORDER_STATUS,
        params=(_order_id,),
        errors={400: "the order id is malformed", 404: "no such order"},
        tag="orders",
    ),
    *op(
        "GET",
        "/iserver/account/trades",
        "Executions of the last days (1 to 7), newest first",
        ok=array(TRADE),
        params=(
            query("days", query_integer(1, 7)),
            query("accountId", STRING),
        ),
        errors={400: "days is not from 1 to 7", 404: UNKNOWN_ACCOUNT},
        tag="orders",
    ),
    *op(
        "GET",
        "/iserver/account/pnl/partitioned",
        "P&L of each account",
        ok=obj({"upnl": map_of(PNL_ROW)}),
        tag="orders",
    ),
]
