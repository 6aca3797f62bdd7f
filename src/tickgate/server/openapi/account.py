"""Entries of the brokerage account routes: the selected and dynamic account, and the account
summary with its views (`tickgate.server.rest_account`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    ACCOUNT,
    BOOLEAN,
    NUMBER,
    STRING,
    JsonSchema,
    Operation,
    array,
    map_of,
    obj,
    op,
    path,
)

_account = path("account", ACCOUNT, description="account id, e.g. DU1234567")
_ERRORS = {400: "a path parameter is malformed", 404: "no such account"}
SET = obj({"set": BOOLEAN, "acctId": STRING})
CHOICE = obj({"acctId": ACCOUNT})
_CHOICE_ERRORS = {400: "the body names no account", 404: "no such account"}
SEGMENTS = ("securities", "commodities", "total")


def _segmented(keys: tuple[str, ...]) -> JsonSchema:
    """One object of display texts per segment, each with at least `keys`."""
    part = obj(dict.fromkeys(keys, STRING))
    return obj(dict.fromkeys(SEGMENTS, part))


SUMMARY = obj(
    {
        **dict.fromkeys(("accountType", "status"), STRING),
        **dict.fromkeys(
            ("balance", "SMA", "buyingPower", "availableFunds", "excessLiquidity",
             "netLiquidationValue", "equityWithLoanValue", "regTLoan", "securitiesGVP",
             "totalCashValue", "accruedInterest", "regTMargin", "initialMargin",
             "maintenanceMargin"),
            NUMBER,
        ),
        "cashBalances": array(obj({"currency": STRING, "balance": NUMBER, "settledCash": NUMBER})),
    }
)  # fmt: skip


def _view(route: str, summary: str, ok: JsonSchema) -> list[Operation]:
    return op("GET", route, summary, ok=ok, params=(_account,), errors=_ERRORS, tag="account")


OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/iserver/account",
        "The selected account",
        ok=obj({"acctId": STRING, "selectedAccount": STRING}),
        tag="account",
    ),
    *op(
        "POST",
        "/iserver/account",
        "Select the account later requests work on",
        ok=SET,
        body=CHOICE,
        body_required=True,
        errors=_CHOICE_ERRORS,
        tag="account",
    ),
    *op(
        "POST",
        "/iserver/dynaccount",
        "Select a dynamic account (multi-account set-ups)",
        ok=SET,
        body=CHOICE,
        body_required=True,
        errors=_CHOICE_ERRORS,
        tag="account",
    ),
    *op(
        "GET",
        "/iserver/account/search/{pattern}",
        "Accounts whose id contains the pattern, in any case",
        ok=obj(
            {
                "matchedAccounts": array(
                    obj({"accountId": STRING, "alias": STRING, "allocationId": STRING})
                ),
                "pattern": STRING,
            }
        ),
        params=(path("pattern", {"type": "string", "minLength": 1, "maxLength": 64}),),
        errors={400: "the pattern is empty or too long"},
        tag="account",
    ),
    *_view("/iserver/account/{account}/summary", "The account's figures as numbers", SUMMARY),
    *_view(
        "/iserver/account/{account}/summary/available_funds",
        "Available funds and excess liquidity by segment, as display text",
        _segmented(("current_available", "current_excess", "overnight_available")),
    ),
    *_view(
        "/iserver/account/{account}/summary/balances",
        "Net liquidation, equity with loan and cash by segment, as display text",
        _segmented(("net_liquidation", "equity_with_loan", "cash")),
    ),
    *_view(
        "/iserver/account/{account}/summary/margins",
        "Initial and maintenance margin by segment, as display text",
        _segmented(("current_initial", "current_maint")),
    ),
    *_view(
        "/iserver/account/{account}/summary/market_value",
        "Values by currency of the ledger and in total, as text",
        map_of(
            obj(
                {
                    "total_cash": STRING,
                    "stock": STRING,
                    "net_liquidation": STRING,
                    "Exchange Rate": STRING,
                }
            )
        ),
    ),
]
