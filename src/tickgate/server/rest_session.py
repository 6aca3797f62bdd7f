"""REST: session, authentication and account listing (protocol reference §8.1, §8.2)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tickgate.model.accounts import AccountConfig
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import Handler, json_response
from tickgate.server.session import SERVER_NAME, SERVER_VERSION, USERNAME
from tickgate.trading.allocation import ALL_GROUP

_SERVER_INFO = {"serverName": SERVER_NAME, "serverVersion": SERVER_VERSION}
#: The real gateway's session cookie, set by the session routes and `/iserver/accounts`. tickgate
#: keeps it current (the id changes on login and logout); `/v1/api/ws` accepts it as it accepts
#: ibind's `api` cookie, so a client with only a cookie jar needs no `{"session":..}` message.
SESSION_COOKIE = "x-sess-uuid"
_MAC = "00:00:00:00:00:00"


def auth_status(gateway: Gateway) -> dict[str, Any]:
    """The `authStatus` object shared by /tickle, /iserver/auth/status and ssodh/init: the
    session's status as the `sts` frames tell it (behind a relay, the upstream's too)."""
    status = gateway.session.status()
    return {
        "authenticated": status.authenticated,
        "competing": status.competing,
        "connected": status.authenticated,
        "message": "",
        "MAC": _MAC,
        "serverInfo": _SERVER_INFO,
        "hardware_info": f"tickgate|{_MAC}",
        "fail": "",
    }


def with_session_cookie(request: web.Request, response: web.Response) -> web.Response:
    """`response` setting the session cookie: HttpOnly, SameSite=Strict, Secure over TLS."""
    response.set_cookie(
        SESSION_COOKIE,
        gateway_of(request).session.id,
        path="/v1",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    return response


async def tickle(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    gateway.session.touch()
    return with_session_cookie(
        request,
        json_response(
            {
                "session": gateway.session.id,
                "ssoExpires": 600_000,
                "collission": False,
                "userId": 1,
                "hmds": {"error": "no bridge"},
                "iserver": {"authStatus": auth_status(gateway)},
            }
        ),
    )


async def status(request: web.Request) -> web.Response:
    return with_session_cookie(request, json_response(auth_status(gateway_of(request))))


async def ssodh_init(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    gateway.session.login()
    answer = {**auth_status(gateway), "established": gateway.session.authenticated}
    return with_session_cookie(request, json_response(answer))


async def reauthenticate(request: web.Request) -> web.Response:
    gateway_of(request).session.login()
    return with_session_cookie(request, json_response({"message": "triggered"}))


async def validate(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    return json_response(
        {
            "USER_ID": 1,
            "USER_NAME": USERNAME,
            "RESULT": gateway.session.authenticated,
            "AUTH_TIME": gateway.session.now_ms(),
            "IS_FREE_TRIAL": False,
            "CREDENTIAL": USERNAME,
            "EXPIRES": 600_000,
            "LANDING_APP": "UNIVERSAL",
            "IS_MASTER": False,
            "lastAccessed": gateway.session.last_accessed_ms,
            "PAPER_USER_NAME": USERNAME,
            "features": {"env": "PAPER", "realtime": True, "optionChains": True},
        }
    )


async def logout(request: web.Request) -> web.Response:
    gateway_of(request).session.logout()
    return with_session_cookie(request, json_response({"status": True}))


def selected_account(gateway: Gateway) -> str:
    """The account the session works on: the one last selected, else the first configured."""
    chosen = gateway.session.selected_account
    return chosen if chosen in gateway.account_ids else gateway.account_ids[0]


def accounts_payload(gateway: Gateway) -> dict[str, Any]:
    """The /iserver/accounts body (also the `act` frame's args on /v1/api/ws)."""
    ids = gateway.account_ids
    props = {
        "hasChildAccounts": False,
        "supportsCashQty": True,
        "noFXConv": False,
        "isProp": False,
        "supportsFractions": False,
        "allowCustomerTime": False,
    }
    features: dict[str, Any] = {
        "allowFXConv": True,
        "allowTypeAhead": True,
        "snapshotRefreshTimeout": 30,
    }
    acct_props = {account: dict(props) for account in ids}
    groups: list[str] = []
    book = gateway.allocations
    if book.advisor is not None:
        # An advisor login lists its master account first, with the sub-accounts under it;
        # its groups (and "All", every sub-account) may stand in for an account in orders.
        ids = [book.advisor, *ids]
        acct_props = {book.advisor: {**props, "hasChildAccounts": True}, **acct_props}
        features["allowFA"] = True
        groups = [ALL_GROUP, *(g.name for g in book.groups() if g.name != ALL_GROUP)]
    return {
        "accounts": ids,
        "acctProps": acct_props,
        "aliases": {account: account for account in ids},
        "allowFeatures": features,
        "chartPeriods": {"STK": ["*"], "FUT": ["*"], "OPT": ["*"], "CASH": ["*"]},
        "groups": groups,
        "profiles": [],
        "selectedAccount": selected_account(gateway),
        "serverInfo": _SERVER_INFO,
        "sessionId": gateway.session.id[:8] + "." + gateway.session.id[8:16],
        "isFT": False,
        "isPaper": True,
    }


async def iserver_accounts(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    gateway.session.primed = True
    return with_session_cookie(request, json_response(accounts_payload(gateway)))


def account_row(account: AccountConfig, *, advisor: str | None = None) -> dict[str, Any]:
    """One account as `/portfolio/accounts` lists it and `/portfolio/{acct}/meta` shows it;
    with `advisor`, a client account of that advisor (`/portfolio/subaccounts`)."""
    row: dict[str, Any] = {
        "id": account.account_id,
        "accountId": account.account_id,
        "accountVan": account.account_id,
        "accountTitle": "tickgate paper account",
        "displayName": account.account_id,
        "accountAlias": None,
        "currency": account.base_currency,
        "type": "DEMO",
        "tradingType": "PMRGN",
        "faclient": False,
        "clearingStatus": "O",
        "covestor": False,
        "brokerageAccess": True,
        "noClientTrading": False,
        "trackVirtualFXPortfolio": False,
        "PrepaidCrypto-Z": False,
        "PrepaidCrypto-P": False,
        "parent": {
            "mmc": [], "accountId": "", "isMParent": False, "isMChild": False,
            "isMultiplex": False,
        },
        "desc": account.account_id,
    }  # fmt: skip
    if advisor is not None:
        row["faclient"] = True
        row["parent"] = {
            "mmc": [], "accountId": advisor, "isMParent": False, "isMChild": False,
            "isMultiplex": False,
        }  # fmt: skip
    return row


async def portfolio_accounts(request: web.Request) -> web.Response:
    return json_response([account_row(a) for a in gateway_of(request).config.accounts])


ROUTES: list[tuple[str, str, Handler]] = [
    ("*", "/tickle", tickle),
    ("*", "/iserver/auth/status", status),
    ("POST", "/iserver/auth/ssodh/init", ssodh_init),
    ("*", "/iserver/reauthenticate", reauthenticate),
    ("GET", "/sso/validate", validate),
    ("POST", "/logout", logout),
    ("GET", "/iserver/accounts", iserver_accounts),
    ("GET", "/portfolio/accounts", portfolio_accounts),
]
