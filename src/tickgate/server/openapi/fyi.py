"""Entries of the FYI routes (`tickgate.server.rest_fyi`): notifications, the unread count,
settings per typecode, delivery options and disclaimers."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    BOOLEAN,
    INTEGER,
    STRING,
    Operation,
    array,
    nullable,
    obj,
    op,
    path,
    query,
)

EDITED = obj({"T": INTEGER, "V": INTEGER}, description="T: milliseconds the edit took")
TYPECODE = "not one of IBKR's typecodes"
NOTIFICATION = obj(
    {
        "D": STRING,
        "FC": STRING,
        "HT": INTEGER,
        "ID": STRING,
        "MD": STRING,
        "MS": STRING,
        "R": INTEGER,
    },
    description="D: epoch seconds; FC: typecode (PF fills, UA alerts, SM the day's close)",
)
_typecode = path("typecode", description="BA, CA, DA, ... UA (user alert), PF, SM")
_codes = "comma-separated typecodes"
#: A boolean as JSON, or as the text `true`/`false` in any case (form-minded clients send it).
BOOL = {
    "anyOf": [BOOLEAN, {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$"}]
}

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/fyi/notifications",
        "The newest notifications",
        ok=array(NOTIFICATION),
        params=(
            query("max", description="1 to 10 (10 when absent)"),
            query("include", description=_codes),
            query("exclude", description=_codes),
            query("id", description="the next page: notifications older than this one"),
        ),
        errors={400: "max is out of range, or a typecode is unknown", 404: "no such id"},
        tag="fyi",
    ),
    *op(
        "GET",
        "/fyi/notifications/more",
        "The notifications older than `id` (the older paging route)",
        ok=array(NOTIFICATION),
        params=(query("id", required=True),),
        errors={400: "id is missing", 404: "no such id"},
        tag="fyi",
    ),
    *op(
        "PUT",
        "/fyi/notifications/{notification_id}",
        "Mark a notification read",
        ok=obj({"P": obj({"ID": STRING, "R": INTEGER}), "T": INTEGER, "V": INTEGER}),
        errors={404: "no such notification"},
        tag="fyi",
    ),
    *op(
        "GET",
        "/fyi/unreadnumber",
        "How many notifications are unread",
        ok=obj({"BN": INTEGER}),
        tag="fyi",
    ),
    *op(
        "GET",
        "/fyi/settings",
        "Every typecode, enabled (A) or not, with its disclaimer read (H) or not",
        ok=array(obj({"A": INTEGER, "FC": STRING, "FD": STRING, "FN": STRING, "H": INTEGER})),
        tag="fyi",
    ),
    *op(
        "POST",
        "/fyi/settings/{typecode}",
        "Enable or disable a typecode's notifications",
        ok=EDITED,
        params=(_typecode,),
        body=obj({"enabled": BOOL}),
        body_required=True,
        errors={400: f"enabled is missing or not a boolean, or the typecode is {TYPECODE}"},
        tag="fyi",
    ),
    *op(
        "GET",
        "/fyi/deliveryoptions",
        "E-mail delivery (M) and the devices (E)",
        ok=obj(
            {"M": INTEGER, "E": array(obj({"NM": STRING, "I": STRING, "UI": STRING, "A": INTEGER}))}
        ),
        tag="fyi",
    ),
    *op(
        "PUT",
        "/fyi/deliveryoptions/email",
        "Turn e-mail delivery on or off",
        ok=EDITED,
        params=(query("enabled", required=True, description="true or false"),),
        errors={400: "enabled is missing or not true/false"},
        tag="fyi",
    ),
    *op(
        "POST",
        "/fyi/deliveryoptions/device",
        "Add a device, or enable or disable one",
        ok=EDITED,
        body=obj(
            {
                "deviceId": STRING,
                "deviceName": nullable(STRING),
                "uiName": nullable(STRING),
                "enabled": BOOL,
            },
            optional=("deviceName", "uiName"),
        ),
        body_required=True,
        errors={400: "deviceId or enabled is missing or malformed"},
        tag="fyi",
    ),
    *op(
        "DELETE",
        "/fyi/deliveryoptions/{device_id}",
        "Forget a device (an empty answer)",
        ok=None,
        ok_media="text/plain",
        errors={404: "no such device"},
        tag="fyi",
    ),
    *op(
        "GET",
        "/fyi/disclaimer/{typecode}",
        "A typecode's disclaimer",
        ok=obj({"DT": STRING, "FC": STRING}),
        params=(_typecode,),
        errors={400: f"the typecode is {TYPECODE}"},
        tag="fyi",
    ),
    *op(
        "PUT",
        "/fyi/disclaimer/{typecode}",
        "Mark a typecode's disclaimer read",
        ok=EDITED,
        params=(_typecode,),
        errors={400: f"the typecode is {TYPECODE}"},
        tag="fyi",
    ),
]
