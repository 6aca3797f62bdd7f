"""Entries of the Financial Advisor allocation routes (`tickgate.server.rest_allocation`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    Operation,
    array,
    obj,
    one_of_values,
    op,
)

#: IBKR's allocation method codes: A available equity, E equal, N net liquidation value (the
#: broker computes these), C cash quantity, P percentages, R ratios, S shares (the user's).
METHOD_CODE = one_of_values("A", "E", "N", "C", "P", "R", "S")
#: A method as requests may name it: the code or a name such as `NetLiquidation`.
METHOD = {"type": "string", "minLength": 1, "maxLength": 32}
SUCCESS = obj({"success": BOOLEAN})
_NOT_ADVISOR = "the login is no Financial Advisor (serve --advisor), or the body is malformed"
_NAME = {"type": "string", "minLength": 1, "maxLength": 64}
GROUP_ACCOUNT = obj({"name": STRING, "amount": NUMBER}, optional=("amount",))
GROUP_BODY = obj(
    {
        "name": _NAME,
        "accounts": array(obj({"name": STRING, "amount": NUMBER}, optional=("amount",))),
        "default_method": METHOD,
    },
    optional=("default_method",),
)
PRESETS = obj(
    {
        "group_auto_close_positions": BOOLEAN,
        "default_method_for_all": METHOD_CODE,
        "profiles_auto_close_positions": BOOLEAN,
        "strict_credit_check": BOOLEAN,
        "group_proportional_allocation": BOOLEAN,
    }
)

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/iserver/account/allocation/accounts",
        "The advisor's sub-accounts with the figures the computed methods weigh",
        ok=obj(
            {
                "accounts": array(
                    obj(
                        {
                            "data": array(
                                obj(
                                    {
                                        "value": STRING,
                                        "key": one_of_values("NetLiquidation", "AvailableEquity"),
                                    }
                                )
                            ),
                            "name": STRING,
                        }
                    )
                )
            }
        ),
        errors={400: _NOT_ADVISOR},
        tag="allocation",
    ),
    *op(
        "GET",
        "/iserver/account/allocation/group",
        "Every allocation group, with its method and size",
        ok=obj(
            {
                "data": array(
                    obj({"allocation_method": METHOD_CODE, "size": INTEGER, "name": STRING})
                )
            }
        ),
        errors={400: _NOT_ADVISOR},
        tag="allocation",
    ),
    *op(
        "POST",
        "/iserver/account/allocation/group",
        "Add an allocation group (kept in the trading store)",
        ok=SUCCESS,
        body=GROUP_BODY,
        body_required=True,
        errors={400: _NOT_ADVISOR + "; or the name is taken", 500: "the store refused the write"},
        tag="allocation",
    ),
    *op(
        "PUT",
        "/iserver/account/allocation/group",
        "Modify an allocation group; `prev_name` renames it",
        ok=SUCCESS,
        body=obj(
            {**GROUP_BODY["properties"], "prev_name": _NAME},
            optional=("default_method", "prev_name"),
        ),
        body_required=True,
        errors={
            400: _NOT_ADVISOR + "; or the new name is taken",
            404: "no such group",
            500: "the store refused the write",
        },
        tag="allocation",
    ),
    *op(
        "POST",
        "/iserver/account/allocation/group/single",
        "One allocation group with its accounts and amounts",
        ok=obj({"name": STRING, "accounts": array(GROUP_ACCOUNT), "default_method": METHOD_CODE}),
        body=obj({"name": _NAME}),
        body_required=True,
        errors={400: _NOT_ADVISOR, 404: "no such group"},
        tag="allocation",
    ),
    *op(
        "POST",
        "/iserver/account/allocation/group/delete",
        "Delete an allocation group",
        ok=SUCCESS,
        body=obj({"name": _NAME}),
        body_required=True,
        errors={400: _NOT_ADVISOR, 404: "no such group", 500: "the store refused the write"},
        tag="allocation",
    ),
    *op(
        "GET",
        "/iserver/account/allocation/presets",
        "The advisor's allocation presets",
        ok=PRESETS,
        errors={400: _NOT_ADVISOR},
        tag="allocation",
    ),
    *op(
        "POST",
        "/iserver/account/allocation/presets",
        "Set allocation presets (the keys given replace the current values)",
        ok=SUCCESS,
        body=obj(
            {**PRESETS["properties"], "default_method_for_all": METHOD},
            optional=tuple(PRESETS["properties"]),
        ),
        body_required=True,
        errors={400: _NOT_ADVISOR, 500: "the store refused the write"},
        tag="allocation",
    ),
]
