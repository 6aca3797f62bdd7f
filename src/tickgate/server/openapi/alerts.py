"""Entries of the trading-alert routes (`tickgate.server.rest_alerts`): create or modify, list,
read, activate or deactivate, delete (0: all), and the mobile trading assistant's alert."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    ANY,
    BOOLEAN,
    INTEGER,
    NULL,
    NUMBER,
    STRING,
    Operation,
    array,
    nullable,
    obj,
    one_of_values,
    op,
    path,
    query,
)

UNKNOWN = "no such account, or no such alert in it"
FLAG = {
    "anyOf": [
        {"type": "integer", "enum": [0, 1]},
        BOOLEAN,
        one_of_values("0", "1"),
        {"type": "null"},
    ]
}
ALERT_ID = {"type": "integer", "minimum": 0}
_alert_id = path(
    "alert_id",
    {"type": "string", "pattern": "^[0-9]+$"},
    description="the alert's order_id; 0 means every alert of the account",
)

CONDITION_IN = obj(
    {
        "type": {"anyOf": [INTEGER, STRING]},
        "conidex": {"anyOf": [STRING, INTEGER, NULL]},
        "operator": nullable(STRING),
        "value": {"anyOf": [STRING, NUMBER, NULL]},
        "logicBind": nullable(STRING),
        "triggerMethod": {"anyOf": [STRING, INTEGER, NULL]},
        "timeZone": nullable(STRING),
    },
    optional=("conidex", "operator", "value", "logicBind", "triggerMethod", "timeZone"),
    description="1 price, 3 time, 4 margin cushion (%), 5 trade (an execution), 6 volume; "
    "AND binds before OR",
)
ALERT_IN = obj(
    {
        "alertName": STRING,
        "alertMessage": nullable(STRING),
        "conditions": array(CONDITION_IN, min_items=1),
        "tif": nullable(one_of_values("GTC", "GTD")),
        "expireTime": nullable(STRING),
        "outsideRth": FLAG,
        "alertRepeatable": FLAG,
        "sendMessage": FLAG,
        "showPopup": FLAG,
        "iTWSOrdersOnly": FLAG,
        "email": nullable(STRING),
        "orderId": {"anyOf": [INTEGER, STRING, {"type": "null"}]},
    },
    optional=(
        "alertMessage",
        "tif",
        "expireTime",
        "outsideRth",
        "alertRepeatable",
        "sendMessage",
        "showPopup",
        "iTWSOrdersOnly",
        "email",
        "orderId",
    ),
)
SUBMITTED = obj(
    {
        "order_id": INTEGER,
        "order_status": nullable(STRING),
        "request_id": nullable(INTEGER),
        "success": BOOLEAN,
        "text": STRING,
        "warning_message": nullable(STRING),
    }
)
ACKNOWLEDGED = obj(
    {
        "failure_list": nullable(STRING),
        "order_id": INTEGER,
        "request_id": nullable(INTEGER),
        "success": BOOLEAN,
        "text": STRING,
    }
)
LISTED = obj(
    {
        "account": STRING,
        "alert_active": INTEGER,
        "alert_name": STRING,
        "alert_repeatable": INTEGER,
        "alert_triggered": BOOLEAN,
        "order_id": INTEGER,
        "order_time": STRING,
    }
)
CONDITION_OUT = obj(
    {
        "condition_logic_bind": STRING,
        "condition_operator": nullable(STRING),
        "condition_time_zone": nullable(STRING),
        "condition_trigger_method": nullable(STRING),
        "condition_type": INTEGER,
        "condition_value": STRING,
        "conidex": nullable(STRING),
        "contract_description_1": nullable(STRING),
    }
)
DETAIL = obj(
    {
        "account": STRING,
        "order_id": INTEGER,
        "alert_name": STRING,
        "alert_message": nullable(STRING),
        "alert_active": INTEGER,
        "alert_repeatable": INTEGER,
        "alert_triggered": BOOLEAN,
        "tif": STRING,
        "expire_time": nullable(STRING),
        "order_status": STRING,
        "condition_outside_rth": INTEGER,
        "condition_size": INTEGER,
        "tool_id": nullable(INTEGER),
        "conditions": array(CONDITION_OUT),
        "alert_mta_defaults": ANY,
    }
)

OPERATIONS: list[Operation] = [
    *op(
        "POST",
        "/iserver/account/{account}/alert",
        "Create an alert, or modify the one of `orderId`",
        ok=SUBMITTED,
        body=ALERT_IN,
        body_required=True,
        errors={
            400: "a field is missing or malformed, a conid is unknown, a condition type "
            "is not evaluated, a GTD expiry is past",
            404: UNKNOWN,
        },
        tag="alerts",
    ),
    *op(
        "GET",
        "/iserver/account/{account}/alerts",
        "The account's alerts (the MTA alert aside)",
        ok=array(LISTED),
        errors={404: "no such account"},
        tag="alerts",
    ),
    *op(
        "GET",
        "/iserver/account/alert/{alert_id}",
        "One alert with its conditions",
        ok=DETAIL,
        params=(_alert_id, query("type", one_of_values("Q"), description="Q, the only kind")),
        errors={400: "the id is not a number, or type is not Q", 404: "no such alert"},
        tag="alerts",
    ),
    *op(
        "POST",
        "/iserver/account/{account}/alert/activate",
        "Activate or deactivate an alert (alertId 0: every alert of the account)",
        ok=ACKNOWLEDGED,
        body=obj({"alertId": {"anyOf": [ALERT_ID, STRING]}, "alertActive": FLAG}),
        body_required=True,
        errors={400: "alertId or alertActive is missing or malformed", 404: UNKNOWN},
        tag="alerts",
    ),
    *op(
        "DELETE",
        "/iserver/account/{account}/alert/{alert_id}",
        "Delete an alert (id 0: every alert of the account)",
        ok=ACKNOWLEDGED,
        params=(_alert_id,),
        errors={400: "the id is not a number", 404: UNKNOWN},
        tag="alerts",
    ),
    *op(
        "GET",
        "/iserver/account/mta",
        "The mobile trading assistant alert, in its default state",
        ok=DETAIL,
        tag="alerts",
    ),
]
