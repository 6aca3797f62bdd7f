"""Entries of the Portfolio Analyst routes: performance, all periods, summary, transactions
(`tickgate.server.rest_pa`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    ACCOUNT,
    BOOLEAN,
    CONID,
    EPOCH_MS,
    INTEGER,
    NUMBER,
    STRING,
    JsonSchema,
    Operation,
    array,
    nullable,
    obj,
    one_of_values,
    op,
)

PERIOD = one_of_values("1D", "7D", "MTD", "1M", "3M", "6M", "12M", "YTD", "1Y")
ACCOUNTS = array(ACCOUNT, min_items=1)
_ERRORS = {400: "the body is malformed or names no accounts", 404: "no such account"}
START_NAV = obj({"date": nullable(STRING), "val": NUMBER})


def _block(data: JsonSchema) -> JsonSchema:
    return obj({"data": array(data), "freq": STRING, "dates": array(STRING)})


_IDENTITY = {
    "id": STRING,
    "idType": STRING,
    "baseCurrency": STRING,
    "start": nullable(STRING),
    "end": nullable(STRING),
}
RETURNS = obj({**_IDENTITY, "returns": array(NUMBER)})
NAVS = obj({**_IDENTITY, "navs": array(NUMBER), "startNAV": START_NAV})
_HEAD = {
    "currencyType": STRING,
    "rc": INTEGER,
    "nd": INTEGER,
    "id": STRING,
    "pm": STRING,
    "included": array(STRING),
}
PERIOD_ENTRY = obj(
    {
        "nav": array(NUMBER),
        "cps": array(NUMBER),
        "freq": STRING,
        "dates": array(STRING),
        "startNAV": START_NAV,
        "startNav": START_NAV,
    }
)
CHANGE = {"startVal": STRING, "endVal": STRING, "chg": STRING, "rtn": STRING}
TRANSACTION = obj(
    {
        "acctid": STRING,
        "conid": INTEGER,
        "cur": STRING,
        "fxRate": NUMBER,
        "pr": NUMBER,
        "qty": NUMBER,
        "amt": NUMBER,
        "type": one_of_values("Buy", "Sell"),
        "desc": STRING,
        "date": STRING,
    }
)
REALIZED = obj(
    {
        "date": STRING,
        "cur": STRING,
        "fxRate": NUMBER,
        "side": one_of_values("G", "L"),
        "acctid": STRING,
        "amt": STRING,
        "conid": STRING,
    }
)

OPERATIONS: list[Operation] = [
    *op(
        "POST",
        "/pa/performance",
        "Net liquidation, cumulative and monthly time-weighted returns over one period "
        "(several accounts consolidated)",
        ok=obj({**_HEAD, "nav": _block(NAVS), "cps": _block(RETURNS), "tpps": _block(RETURNS)}),
        body=obj({"acctIds": ACCOUNTS, "period": PERIOD}, optional=("period",)),
        body_required=True,
        errors=_ERRORS,
        tag="portfolio analyst",
    ),
    *op(
        "POST",
        "/pa/allperiods",
        "Every period's net liquidation and cumulative returns, per account",
        ok=obj({**_HEAD, "view": array(STRING)}),
        body=obj({"acctIds": ACCOUNTS}),
        body_required=True,
        errors=_ERRORS,
        tag="portfolio analyst",
        description="Each named account's entry is under its id: `lastSuccessfulUpdate`, "
        "`start`, `end`, `baseCurrency`, `periods`, and one object per period.",
    ),
    *op(
        "POST",
        "/pa/summary",
        "Balance summary since the first kept day (IBKR marks it deprecated)",
        ok=obj(
            {
                "currency": STRING,
                "rc": INTEGER,
                "pm": STRING,
                "view": STRING,
                "startDate": STRING,
                "endDate": STRING,
                "hasExternalAccounts": BOOLEAN,
                "total": obj({**CHANGE, "incompleteData": BOOLEAN}),
                "accountSummaries": array(obj(CHANGE)),
                "balanceByDate": obj(
                    {
                        "series": array(
                            obj({"id": STRING, "name": STRING, "date": array(array(NUMBER))})
                        )
                    }
                ),
            }
        ),
        body=obj({"acctIds": ACCOUNTS}),
        body_required=True,
        errors=_ERRORS,
        tag="portfolio analyst",
    ),
    *op(
        "POST",
        "/pa/transactions",
        "Executions of the named accounts and contracts, and the P&L they realized",
        ok=obj(
            {
                "id": STRING,
                "rc": INTEGER,
                "nd": INTEGER,
                "currency": STRING,
                "from": EPOCH_MS,
                "to": EPOCH_MS,
                "includesRealTime": BOOLEAN,
                "transactions": array(TRANSACTION),
                "rpnl": obj({"data": array(REALIZED), "amt": STRING}),
            }
        ),
        body=obj(
            {
                "acctIds": ACCOUNTS,
                "conids": array(CONID, min_items=1),
                "currency": nullable(STRING),  # null: the accounts' base currency
                "days": {"type": "integer", "minimum": 1, "maximum": 3650},
            },
            optional=("currency", "days"),
        ),
        body_required=True,
        errors={**_ERRORS, 404: "no such account or contract"},
        tag="portfolio analyst",
    ),
]
