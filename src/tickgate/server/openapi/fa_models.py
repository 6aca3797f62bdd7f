"""Entries of the Financial Advisor model portfolio routes (`tickgate.server.rest_fa_models`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    STRING,
    JsonSchema,
    Operation,
    array,
    obj,
    one_of_values,
    op,
)
from tickgate.trading.fa_models import PRESET_FLAGS, SORT_FIELDS

_REQ_ID = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_MODEL = {"type": "string", "minLength": 1, "maxLength": 64}
_NOT_ADVISOR = "the login is no Financial Advisor (serve --advisor), or the body is malformed"
_ERRORS = {400: _NOT_ADVISOR, 404: "no model of that name"}
_MODEL_BODY = obj({"reqID": _REQ_ID, "model": _MODEL}, optional=("reqID",))
_SUCCESS = obj({"reqID": INTEGER, "success": BOOLEAN})
_SUMMARY_FIELDS: dict[str, JsonSchema] = {
    "bootstrapped": BOOLEAN,
    "customIndex": BOOLEAN,
    "desc": STRING,
    "isStatic": BOOLEAN,
    "mismatch": BOOLEAN,
    "model": STRING,
    "nlv": NUMBER,
    "numAccounts": INTEGER,
}
_POSITION = obj(
    {
        "actual": NUMBER, "actualRangeMax": NUMBER, "actualRangeMin": NUMBER, "ccy": STRING,
        "conid": INTEGER, "dlv": NUMBER, "exchangeRate": NUMBER, "flags": INTEGER,
        "instrumentImbalance": NUMBER, "instrument": STRING, "mismatchType": NUMBER,
        "mv": NUMBER, "position": NUMBER, "target": NUMBER,
    }
)  # fmt: skip
_CASH = obj(
    {
        "actual": NUMBER, "ccy": STRING, "exchangeRate": NUMBER, "instrumentImbalance": NUMBER,
        "mv": NUMBER, "target": NUMBER,
    }
)  # fmt: skip
_ACCOUNT_DETAIL = obj(
    {
        "account": STRING, "accountImbalance": STRING, "alias": STRING, "baseCcyAccount": STRING,
        "costBasis": STRING, "exchangeRate": NUMBER, "nlv": STRING,
        "numInstrumentsOutsideRange": INTEGER, "unrealizedPnL": STRING,
        "cashInIndependent": STRING,
    }
)  # fmt: skip
_INVESTED = obj(
    {
        "account": STRING, "accountModelNlv": STRING, "accountOtherModelsNlv": STRING,
        "alias": STRING, "baseCcyAccount": STRING, "baseCcyAccountPrecision": STRING,
        "exchangeRate": NUMBER, "cashInIndependentNlv": STRING,
        "positionsInIndependentNlv": STRING, "nlv": STRING,
    }
)  # fmt: skip
_FRACTION = {"type": "number", "minimum": 0, "maximum": 1}
_DRAFT = obj(
    {
        "reqID": STRING,
        "subscriptionStatus": INTEGER,
        "subscriptionKey": STRING,
        "transfersInstructionId": INTEGER,
        "model": STRING,
        "transfers": array(
            obj(
                {
                    "account": STRING,
                    "conid": INTEGER,
                    "side": one_of_values("BUY", "SELL"),
                    "quantity": NUMBER,
                    "orderType": STRING,
                }
            )
        ),
    }
)
_PRESET_FLAGS: dict[str, JsonSchema] = {name: BOOLEAN for name in PRESET_FLAGS}
_DRAFTS = (
    "The orders are drafted, not placed: `POST /fa/model/submit-transfers` with "
    "`fpOrderId` = `transfersInstructionId` places them (market orders, all or none)."
)

OPERATIONS: list[Operation] = [
    *op(
        "POST",
        "/fa/model/list",
        "Every model of the advisor, valued from its accounts' fills and marks",
        ok=obj(
            {
                "baseCcy": STRING,
                "masterAccount": STRING,
                "models": array(obj(_SUMMARY_FIELDS)),
                "reqID": INTEGER,
                "subscriptionStatus": INTEGER,
            }
        ),
        body=obj({"reqID": _REQ_ID}, optional=("reqID",)),
        errors={400: _NOT_ADVISOR},
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/summary",
        "One model's summary",
        ok=obj({**_SUMMARY_FIELDS, "reqID": INTEGER, "subscriptionStatus": INTEGER}),
        body=_MODEL_BODY,
        body_required=True,
        errors=_ERRORS,
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/positions",
        "A model's contracts: held quantity, value, actual and target weight over its accounts",
        ok=obj(
            {
                "cash": array(_CASH),
                "mismatched": BOOLEAN,
                "model": STRING,
                "nlv": NUMBER,
                "positionList": array(_POSITION),
                "positionTs": INTEGER,
                "reqID": INTEGER,
                "stkOnly": BOOLEAN,
                "subscriptionStatus": INTEGER,
                "totalDlv": NUMBER,
                "totalMv": NUMBER,
            }
        ),
        body=obj(
            {
                "reqID": _REQ_ID,
                "model": _MODEL,
                "sortField": one_of_values(*SORT_FIELDS),
                "sortDirection": one_of_values("ASC", "DESC"),
                "limit": {"type": "integer", "minimum": 1},
            },
            optional=("reqID", "sortField", "sortDirection", "limit"),
        ),
        body_required=True,
        errors=_ERRORS,
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/accounts-details",
        "The accounts invested in a model, each with its imbalance, value and P&L, and a TOTAL",
        ok=obj(
            {
                "accountInfoList": array(_ACCOUNT_DETAIL),
                "baseCcyMaster": STRING,
                "model": STRING,
                "reqID": INTEGER,
            }
        ),
        body=obj(
            {"reqID": _REQ_ID, "model": _MODEL, "calcPnls": BOOLEAN},
            optional=("reqID", "calcPnls"),
        ),
        body_required=True,
        errors=_ERRORS,
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/invest-divest-positions",
        "The accounts invested in a model: the model's, other models' and Independent parts",
        ok=obj(
            {
                "accountList": array(_INVESTED),
                "baseCcyMaster": STRING,
                "baseCcyMasterPrecision": STRING,
                "model": STRING,
                "reqID": INTEGER,
                "subscriptionStatus": INTEGER,
            }
        ),
        body=obj(
            {"reqID": _REQ_ID, "model": _MODEL, "subscriptionStatus": INTEGER},
            optional=("reqID", "subscriptionStatus"),
        ),
        body_required=True,
        errors=_ERRORS,
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/save",
        "Create or replace a model's targets (fractions totalling 1, kept in the trading store)",
        ok=_SUCCESS,
        body=obj(
            {
                "reqID": _REQ_ID,
                "model": _MODEL,
                "desc": {"type": "string", "maxLength": 256},
                "isStatic": BOOLEAN,
                "positionTargets": array(obj({"conid": INTEGER, "target": _FRACTION})),
                "cashTargets": array(obj({"ccy": STRING, "target": _FRACTION}, optional=("ccy",))),
            },
            optional=("reqID", "cashTargets"),
        ),
        body_required=True,
        errors={
            400: _NOT_ADVISOR + "; targets that do not total 1, an unknown conid",
            500: "the store refused the write",
        },
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/invest-divest",
        "Draft the orders that invest (positive) or divest (negative) each account's amount",
        ok=_DRAFT,
        body=obj(
            {
                "reqID": _REQ_ID,
                "model": _MODEL,
                "accountList": array(obj({"account": STRING, "amtToInvest": NUMBER}), min_items=1),
            },
            optional=("reqID",),
        ),
        body_required=True,
        description=_DRAFTS,
        errors=_ERRORS,
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/rebalance/to-existing-targets",
        "Draft the orders that bring every invested account back to the model's targets",
        ok=_DRAFT,
        body=obj(
            {"reqID": _REQ_ID, "model": _MODEL, "subscriptionKey": STRING},
            optional=("reqID", "subscriptionKey"),
        ),
        body_required=True,
        description=_DRAFTS,
        errors=_ERRORS,
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/model/submit-transfers",
        "Place a drafted transfers instruction's orders",
        ok=obj({"reqID": INTEGER, "success": BOOLEAN, "orderIds": array(STRING)}),
        body=obj(
            {"reqID": _REQ_ID, "fpOrderId": {"anyOf": [INTEGER, STRING]}}, optional=("reqID",)
        ),
        body_required=True,
        errors={
            400: _NOT_ADVISOR + "; or the engine refused an order (nothing is placed)",
            404: "no pending transfers instruction of that id",
            500: "the store refused the write",
        },
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/fa-preset/get",
        "The advisor's model presets",
        ok=obj({**_PRESET_FLAGS, "reqID": INTEGER, "subscriptionStatus": INTEGER}),
        body=obj({"reqID": _REQ_ID}, optional=("reqID",)),
        errors={400: _NOT_ADVISOR},
        tag="fa-models",
    ),
    *op(
        "POST",
        "/fa/fa-preset/save",
        "Set model presets (the flags given replace the current values)",
        ok=_SUCCESS,
        body=obj({"reqID": _REQ_ID, **_PRESET_FLAGS}, optional=("reqID", *PRESET_FLAGS)),
        body_required=True,
        errors={400: _NOT_ADVISOR, 500: "the store refused the write"},
        tag="fa-models",
    ),
]
