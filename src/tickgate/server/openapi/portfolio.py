"""Entries of the portfolio routes: positions, summary, ledger, allocation, sub-accounts
(`tickgate.server.rest_portfolio`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    ACCOUNT,
    ANY,
    BOOLEAN,
    CONID,
    EPOCH_MS,
    INT64,
    INTEGER,
    NUMBER,
    QUERY_BOOL,
    STRING,
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
from tickgate.server.rest_portfolio import LIVE_COLUMNS

UNKNOWN_ACCOUNT = "no such account"

POSITION = obj(
    {
        "acctId": STRING,
        "conid": INTEGER,
        "contractDesc": STRING,
        "position": NUMBER,
        "mktPrice": NUMBER,
        "mktValue": NUMBER,
        "currency": STRING,
        "avgCost": NUMBER,
        "avgPrice": NUMBER,
        "realizedPnl": NUMBER,
        "unrealizedPnl": NUMBER,
        "expiry": nullable(STRING),
        "putOrCall": nullable(STRING),
        "multiplier": nullable(NUMBER),
        "strike": NUMBER,
        "assetClass": STRING,
        "undConid": INTEGER,
        "ticker": STRING,
        "name": STRING,
        # In the account's base currency (`mktValue` and the rest are in `currency`).
        "baseMktValue": NUMBER,
        "baseMktPrice": NUMBER,
        "baseAvgCost": NUMBER,
        "baseAvgPrice": NUMBER,
        "baseRealizedPnl": NUMBER,
        "baseUnrealizedPnl": NUMBER,
    }
)
AMOUNT = obj(
    {
        "amount": NUMBER,
        "currency": nullable(STRING),
        "isNull": BOOLEAN,
        "timestamp": EPOCH_MS,
        "value": ANY,
        "severity": INTEGER,
    }
)
LEDGER_ENTRY = obj(
    {
        "acctcode": STRING,
        "cashbalance": NUMBER,
        "settledcash": NUMBER,
        "netliquidationvalue": NUMBER,
        "unrealizedpnl": NUMBER,
        "realizedpnl": NUMBER,
        "stockmarketvalue": NUMBER,
        "exchangerate": NUMBER,
        "currency": STRING,
        "key": STRING,
        "secondkey": STRING,
        "timestamp": INTEGER,
        "stockoptionmarketvalue": NUMBER,
        "futuremarketvalue": NUMBER,
        "futuresonlypnl": NUMBER,
        "commissions": NUMBER,
    },
    description="One currency's entry (in that currency), or BASE (converted and summed)",
)
SIDES = obj({"long": map_of(NUMBER), "short": map_of(NUMBER)})
ALLOCATION = obj({"assetClass": SIDES, "sector": SIDES, "group": SIDES})
ACCOUNT_ROW = obj(
    {"id": STRING, "accountId": STRING, "accountVan": STRING, "displayName": STRING,
     "currency": STRING, "type": STRING, "tradingType": STRING, "desc": STRING,
     "parent": obj({"accountId": STRING, "isMParent": BOOLEAN, "isMChild": BOOLEAN})}
)  # fmt: skip

_account = path("account", ACCOUNT)
_page = path("page", INT64, description="from 0; a negative page is empty")
_ERRORS = {400: "a path parameter is malformed", 404: UNKNOWN_ACCOUNT}
#: A `/portfolio2/{account}/positions` row: the same position, IBKR's newer names.
LIVE_POSITION = obj(
    {
        "position": NUMBER,
        "conid": STRING,
        "avgCost": NUMBER,
        "avgPrice": NUMBER,
        "currency": STRING,
        "description": STRING,
        "isLastToLoq": BOOLEAN,
        "marketPrice": NUMBER,
        "marketValue": NUMBER,
        "realizedPnl": NUMBER,
        "secType": STRING,
        "timestamp": INT64,
        "unrealizedPnl": NUMBER,
        "assetClass": STRING,
        "sector": STRING,
        "group": STRING,
        "model": STRING,
    }
)

OPERATIONS: list[Operation] = [
    *op(
        "GET",
        "/portfolio/{account}/positions/{page}",
        "Open positions, 100 per page",
        ok=array(POSITION),
        params=(_account, _page),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/positions",
        "Open positions, first page",
        ok=array(POSITION),
        params=(_account,),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio2/{account}/positions",
        "Every open position, unpaged, optionally sorted",
        ok=array(LIVE_POSITION),
        params=(
            _account,
            query("sort", {"type": "string", "enum": list(LIVE_COLUMNS)}),
            query("direction", {"type": "string", "enum": ["a", "d"]}),
            query("model", description="not supported: a non-empty model is a 400"),
        ),
        errors={
            400: "sort, direction or model is bad (or a path parameter is malformed)",
            404: UNKNOWN_ACCOUNT,
        },
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/position/{conid}",
        "One position (a one-element list, empty when flat)",
        ok=array(POSITION),
        params=(_account, path("conid", CONID)),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/summary",
        "Account figures by lower-case name (and `-s` copies)",
        ok=obj({"accountcode": AMOUNT, "netliquidation": AMOUNT}),
        params=(_account,),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/ledger",
        "Cash and values by currency, and as BASE",
        ok={**map_of(LEDGER_ENTRY), "required": ["BASE"]},
        params=(_account,),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/allocation",
        "Market value by asset class and group, long and short",
        ok=ALLOCATION,
        params=(_account,),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/positions/{conid}",
        "The position in one instrument in every account holding it, by account",
        ok=map_of(array(POSITION)),
        params=(path("conid", CONID),),
        errors={400: "the conid is malformed", 404: "no such contract"},
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/meta",
        "The account's attributes",
        ok=ACCOUNT_ROW,
        params=(_account,),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "POST",
        "/portfolio/{account}/positions/invalidate",
        "Refresh the position cache (positions are always live here)",
        ok=obj({"message": STRING}),
        params=(_account,),
        errors=_ERRORS,
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/{account}/combo/positions",
        "Combination positions (none: tickgate places no combination orders)",
        ok=array(
            obj(
                {
                    "name": STRING,
                    "description": STRING,
                    "legs": array(ANY),
                    "positions": array(POSITION),
                }
            )
        ),
        params=(_account, query("nocache", QUERY_BOOL)),
        errors={**_ERRORS, 400: "nocache is not true or false"},
        tag="portfolio",
    ),
    *op(
        ("GET", "POST"),
        "/portfolio/allocation",
        "The allocation of several accounts together (`acctIds` in the body or the query)",
        ok=ALLOCATION,
        params=(query("acctIds", STRING),),
        body=obj({"acctIds": array(ACCOUNT, min_items=1)}),
        errors={400: "no accounts named", 404: "no such account"},
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/subaccounts",
        "The accounts, as sub-accounts",
        ok=array(obj({"id": STRING, "accountId": STRING, "currency": STRING, "type": STRING})),
        tag="portfolio",
    ),
    *op(
        "GET",
        "/portfolio/subaccounts2",
        "The sub-accounts, 20 a page",
        ok=obj(
            {
                "metadata": obj({"total": INTEGER, "pageSize": INTEGER, "pageNume": INTEGER}),
                "subaccounts": array(
                    obj({"id": STRING, "accountId": STRING, "currency": STRING, "type": STRING})
                ),
            }
        ),
        params=(query("page", query_integer(0, 2**63 - 1), description="from 0"),),
        errors={400: "page is not a whole number of 0 or more"},
        tag="portfolio",
    ),
]
