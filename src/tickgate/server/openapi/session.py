"""Entries of the session and account routes (`tickgate.server.rest_session`, the account
switch of `rest_orders`)."""

from __future__ import annotations

from tickgate.server.openapi.schema import (
    BOOLEAN,
    EPOCH_MS,
    INTEGER,
    STRING,
    Operation,
    array,
    map_of,
    nullable,
    obj,
    op,
)

SERVER_INFO = obj({"serverName": STRING, "serverVersion": STRING})
AUTH_STATUS = obj(
    {
        "authenticated": BOOLEAN,
        "competing": BOOLEAN,
        "connected": BOOLEAN,
        "message": STRING,
        "MAC": STRING,
        "serverInfo": SERVER_INFO,
        "hardware_info": STRING,
        "fail": STRING,
    }
)
TICKLE = obj(
    {
        "session": STRING,
        "ssoExpires": INTEGER,
        "collission": BOOLEAN,
        "userId": INTEGER,
        "hmds": obj({}),
        "iserver": obj({"authStatus": AUTH_STATUS}),
    }
)
SSO_VALIDATE = obj(
    {
        "USER_ID": INTEGER,
        "USER_NAME": STRING,
        "RESULT": BOOLEAN,
        "AUTH_TIME": EPOCH_MS,
        "IS_FREE_TRIAL": BOOLEAN,
        "CREDENTIAL": STRING,
        "EXPIRES": INTEGER,
        "LANDING_APP": STRING,
        "IS_MASTER": BOOLEAN,
        "lastAccessed": EPOCH_MS,
        "PAPER_USER_NAME": STRING,
        "features": obj({"env": STRING, "realtime": BOOLEAN, "optionChains": BOOLEAN}),
    }
)
ISERVER_ACCOUNTS = obj(
    {
        "accounts": array(STRING, min_items=1),
        "acctProps": map_of(obj({"hasChildAccounts": BOOLEAN, "supportsCashQty": BOOLEAN})),
        "aliases": map_of(STRING),
        "allowFeatures": obj({}),
        "chartPeriods": map_of(array(STRING)),
        "groups": array(STRING),
        "profiles": array(STRING),
        "selectedAccount": STRING,
        "serverInfo": SERVER_INFO,
        "sessionId": STRING,
        "isFT": BOOLEAN,
        "isPaper": BOOLEAN,
    }
)
PORTFOLIO_ACCOUNT = obj(
    {
        "id": STRING,
        "accountId": STRING,
        "accountVan": STRING,
        "accountTitle": STRING,
        "displayName": STRING,
        "accountAlias": nullable(STRING),
        "currency": STRING,
        "type": STRING,
        "tradingType": STRING,
        "faclient": BOOLEAN,
        "clearingStatus": STRING,
        "covestor": BOOLEAN,
        "brokerageAccess": BOOLEAN,
        "parent": obj({}),
        "desc": STRING,
    }
)

LOGGED_OUT = "the brokerage session is logged out (also after `POST /logout`)"

OPERATIONS: list[Operation] = [
    *op(
        ("GET", "POST"),
        "/tickle",
        "Keep the session alive; its id, also set as the `x-sess-uuid` cookie",
        ok=TICKLE,
        tag="session",
    ),
    *op(
        ("GET", "POST"),
        "/iserver/auth/status",
        "Whether the brokerage session is authenticated",
        ok=AUTH_STATUS,
        tag="session",
    ),
    *op(
        "POST",
        "/iserver/auth/ssodh/init",
        "Log the brokerage session in (again)",
        ok=AUTH_STATUS,
        tag="session",
    ),
    *op(
        ("GET", "POST"),
        "/iserver/reauthenticate",
        "Log the brokerage session in again",
        ok=obj({"message": STRING}),
        tag="session",
    ),
    *op("GET", "/sso/validate", "The SSO login's details", ok=SSO_VALIDATE, tag="session"),
    *op(
        "POST",
        "/logout",
        "End the brokerage session (a new session id on the next login)",
        ok=obj({"status": BOOLEAN}),
        tag="session",
    ),
    *op(
        "GET",
        "/iserver/accounts",
        "The accounts of the session; primes it for market data",
        ok=ISERVER_ACCOUNTS,
        errors={401: LOGGED_OUT},
        tag="account",
    ),
    *op(
        "GET",
        "/portfolio/accounts",
        "The accounts, as the portfolio routes know them",
        ok=array(PORTFOLIO_ACCOUNT),
        tag="account",
    ),
]
