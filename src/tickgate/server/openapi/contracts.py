"""Entries of the contract routes: search, chains, secdef, schedules, contract details and
rules, currencies (`tickgate.server.rest_contracts`, `tickgate.server.rest_rules`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    ANY,
    BOOL_OR_TEXT,
    BOOLEAN,
    CONID,
    INT_OR_TEXT,
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
)

BAD_QUERY = "a parameter is missing, malformed or names an unknown contract"
BAD_BODY = "the body is not a JSON object, or a field is missing, malformed or unknown"

SEARCH_ROW = obj(
    {
        "conid": STRING,
        "companyHeader": STRING,
        "companyName": STRING,
        "symbol": STRING,
        "description": STRING,
        "restricted": nullable(STRING),
        "fop": nullable(STRING),
        "opt": nullable(STRING),
        "war": nullable(STRING),
        "sections": array(obj({"secType": STRING}, optional=())),
        "secType": STRING,
    }
)
INFO_ROW = obj(
    {
        "conid": INTEGER,
        "symbol": STRING,
        "secType": STRING,
        "exchange": STRING,
        "listingExchange": nullable(STRING),
        "right": nullable(STRING),
        "strike": NUMBER,
        "currency": STRING,
        "maturityDate": nullable(STRING),
        "multiplier": STRING,
        "tradingClass": STRING,
        "validExchanges": STRING,
    }
)
FUTURE_ROW = obj(
    {
        "symbol": STRING,
        "conid": INTEGER,
        "underlyingConid": INTEGER,
        "expirationDate": INTEGER,
        "ltd": INTEGER,
    }
)
STOCK_ENTRY = obj(
    {
        "name": STRING,
        "assetClass": STRING,
        "contracts": array(obj({"conid": INTEGER, "exchange": STRING, "isUS": BOOLEAN})),
    }
)
INCREMENT_RULES = array(obj({"lowerEdge": NUMBER, "increment": NUMBER}))
SECDEF_ROW = obj(
    {
        "conid": INTEGER,
        "currency": STRING,
        "name": STRING,
        "ticker": STRING,
        "assetClass": STRING,
        "listingExchange": STRING,
        "expiry": nullable(STRING),
        "putOrCall": nullable(STRING),
        "strike": STRING,
        "undConid": INTEGER,
        "multiplier": NUMBER,
        "hasOptions": BOOLEAN,
        "isUS": BOOLEAN,
        "sector": nullable(STRING),
        "incrementRules": INCREMENT_RULES,
    }
)
HOURS = obj({"openingTime": STRING, "closingTime": STRING})
SCHEDULE = obj(
    {
        "id": STRING,
        "exchange": STRING,
        "timezone": STRING,
        "schedules": array(
            obj(
                {
                    "tradingScheduleDate": STRING,
                    "sessions": array(HOURS),
                    "tradingtimes": array(HOURS),
                }
            )
        ),
    }
)
CONTRACT_INFO = obj(
    {
        "con_id": INTEGER,
        "symbol": STRING,
        "instrument_type": STRING,
        "currency": STRING,
        "exchange": STRING,
        "valid_exchanges": STRING,
        "company_name": STRING,
        "trading_class": STRING,
        "local_symbol": STRING,
        "underlying_con_id": INTEGER,
        "multiplier": nullable(STRING),
        "contract_month": nullable(STRING),
        "expiry_full": nullable(STRING),
        "maturity_date": nullable(STRING),
        "is_zero_commission_security": BOOLEAN,
        "smart_available": BOOLEAN,
        "r_t_h": BOOLEAN,
    }
)
RULES = obj(
    {
        "orderTypes": array(STRING),
        "orderTypesOutside": array(STRING),
        "tifTypes": array(STRING),
        "tifDefaults": obj({"TIF": STRING, "SIZE": STRING}),
        "canTradeAcctIds": array(STRING),
        "defaultSize": NUMBER,
        "sizeIncrement": NUMBER,
        "increment": NUMBER,
        "incrementDigits": INTEGER,
        "incrementRules": INCREMENT_RULES,
        "limitPrice": NUMBER,
        "stopprice": NUMBER,
        "ibAlgoTypes": array(STRING),
        "fraqTypes": array(STRING),
        "cqtTypes": array(STRING),
        "orderDefaults": map_of(ANY),
        "preview": BOOLEAN,
        "error": nullable(STRING),
    }
)
CURRENCY = {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[A-Za-z]+$"}

_conids = query("conids", STRING, required=True, description="comma-separated conids (at most 200)")

OPERATIONS: list[Operation] = [
    *op(
        ("GET", "POST"),
        "/iserver/secdef/search",
        "Find contracts by symbol (or company name with `name=true`)",
        ok=array(SEARCH_ROW),
        params=(
            query("symbol", {"type": "string", "minLength": 1, "maxLength": 100}, required=True),
            query("name", QUERY_BOOL),
            query("secType", STRING),
        ),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/secdef/strikes",
        "Option strikes of an underlying for a month",
        ok=obj({"call": array(NUMBER), "put": array(NUMBER)}),
        params=(
            query("conid", CONID, required=True),
            query("month", STRING, required=True, description="e.g. JAN27"),
            query("sectype", STRING),
        ),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/secdef/info",
        "Contracts of an underlying: the stock itself, its futures or its options of a month",
        ok=array(INFO_ROW),
        params=(
            query("conid", CONID, required=True),
            query("sectype", STRING),
            query("month", STRING),
            query("strike", STRING),
            query("right", STRING),
        ),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/trsrv/futures",
        "Futures of each symbol, by symbol",
        ok=map_of(array(FUTURE_ROW)),
        params=(query("symbols", STRING, required=True, description="comma-separated"),),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/trsrv/stocks",
        "Stocks of each symbol, by symbol",
        ok=map_of(array(STOCK_ENTRY)),
        params=(query("symbols", STRING, required=True, description="comma-separated"),),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/trsrv/secdef",
        "Security definitions of conids",
        ok=obj({"secdef": array(SECDEF_ROW)}),
        params=(_conids,),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "POST",
        "/trsrv/secdef",
        "Security definitions of conids (conids in the body or the query)",
        ok=obj({"secdef": array(SECDEF_ROW)}),
        body=obj({"conids": {"anyOf": [array(INT_OR_TEXT), STRING]}}),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/trsrv/secdef/schedule",
        "Trading schedule of a symbol's contracts, one entry per exchange",
        ok=array(SCHEDULE),
        params=(
            query("assetClass", STRING, required=True, description="STK, OPT, FUT, CASH, IND"),
            query("symbol", STRING, required=True),
            query("exchange", STRING),
            query("exchangeFilter", STRING),
        ),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/contract/{conid}/info",
        "Contract details",
        ok=CONTRACT_INFO,
        params=(path("conid", CONID),),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/contract/{conid}/info-and-rules",
        "Contract details with the order rules the paper engine enforces",
        ok={"allOf": [CONTRACT_INFO, obj({"rules": RULES})]},
        params=(path("conid", CONID), query("isBuy", QUERY_BOOL)),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "POST",
        "/iserver/contract/rules",
        "Order rules of a contract",
        ok=RULES,
        body=obj(
            {
                "conid": INT_OR_TEXT,
                "isBuy": nullable(BOOL_OR_TEXT),
                "modifyOrder": nullable(BOOL_OR_TEXT),
                "orderId": nullable(INT_OR_TEXT),
            },
            optional=("isBuy", "modifyOrder", "orderId"),
        ),
        body_required=True,
        errors={400: BAD_BODY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/contract/{conid}/algos",
        "IB algos of a contract (the paper engine runs none)",
        ok=obj({"algos": array(obj({}))}),
        params=(path("conid", CONID),),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/trsrv/all-conids",
        "Every conid of an exchange (stocks unless `assetClass` says otherwise)",
        ok=array(obj({"ticker": STRING, "conid": INTEGER, "exchange": STRING})),
        params=(
            query("exchange", {"type": "string", "minLength": 1, "maxLength": 32}, required=True),
            query("assetClass", STRING),
        ),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/currency/pairs",
        "FX pairs of a currency",
        ok=map_of(array(obj({"symbol": STRING, "conid": INTEGER, "ccyPair": STRING}))),
        params=(query("currency", CURRENCY, required=True),),
        errors={400: BAD_QUERY},
        tag="contracts",
    ),
    *op(
        "GET",
        "/iserver/exchangerate",
        "Exchange rate between two currencies, from the simulated FX quotes",
        ok=obj({"rate": NUMBER}),
        params=(query("source", CURRENCY, required=True), query("target", CURRENCY, required=True)),
        errors={400: "a currency is malformed, or no FX pair links the two"},
        tag="contracts",
    ),
]
