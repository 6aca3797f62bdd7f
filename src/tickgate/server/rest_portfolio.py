"""REST: portfolio — positions (one account's, or one instrument's in every account), summary,
ledger, allocation (one account's, or several consolidated), account attributes, sub-accounts.

tickgate keeps its positions live, so invalidating the position cache changes nothing, and it
places no combination orders, so an account's combination positions are always none."""

from __future__ import annotations

from collections import defaultdict
from itertools import count
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.protocol.rest_values import shown
from tickgate.server.gateway import gateway_of
from tickgate.server.http import (
    Handler,
    json_body,
    json_response,
    parse_int,
    query_bool,
    query_int,
)
from tickgate.server.rest_session import account_row
from tickgate.trading.queries import PAGE_SIZE, AccountViews

#: The most accounts one consolidated allocation takes.
MAX_ALLOCATION_ACCOUNTS = 100


def _views(request: web.Request) -> AccountViews:
    return gateway_of(request).trading.views


def _account(request: web.Request) -> str:
    account = request.match_info["account"]
    _views(request).portfolio_of(account)  # NotFoundError -> 404 for an unknown account
    return account


async def positions(request: web.Request) -> web.Response:
    page = parse_int(request.match_info.get("page", "0"), "page")
    return json_response(_views(request).positions(_account(request), page))


def _all_positions(views: AccountViews, account: str) -> list[dict[str, Any]]:
    """Every open position of `account`: the pages of `/portfolio/{acct}/positions`, joined."""
    rows: list[dict[str, Any]] = []
    for page in count():
        chunk = views.positions(account, page)
        rows += chunk
        if len(chunk) < PAGE_SIZE:
            return rows
    raise AssertionError("unreachable")  # count() never ends


def _live_row(views: AccountViews, row: dict[str, Any], timestamp_s: int) -> dict[str, Any]:
    """A `/portfolio/{acct}/positions` row in `/portfolio2`'s shape: other names for the same
    figures, the conid as text, the time it was read in epoch seconds."""
    return {
        "position": row["position"],
        "conid": str(row["conid"]),
        "avgCost": row["avgCost"],
        "avgPrice": row["avgPrice"],
        "currency": row["currency"],
        "description": row["contractDesc"],
        "isLastToLoq": False,
        "marketPrice": row["mktPrice"],
        "marketValue": row["mktValue"],
        "realizedPnl": row["realizedPnl"],
        "secType": row["assetClass"],
        "timestamp": timestamp_s,
        "unrealizedPnl": row["unrealizedPnl"],
        "assetClass": row["assetClass"],
        "sector": views.instrument(row["conid"]).sector or "",
        "group": "",
        "model": "",
    }


#: `/portfolio2` sorts by any of its columns; IBKR's `direction` is `a`(scending) or `d`.
_DIRECTIONS = {"a": False, "d": True}
LIVE_COLUMNS = (
    "position", "conid", "avgCost", "avgPrice", "currency", "description", "marketPrice",
    "marketValue", "realizedPnl", "secType", "unrealizedPnl", "assetClass", "sector",
)  # fmt: skip


async def live_positions(request: web.Request) -> web.Response:
    """`GET /portfolio2/{acct}/positions`: every open position, unpaged, optionally sorted by
    `sort` (a column) in `direction` (`a` or `d`, ascending by default)."""
    account, views = _account(request), _views(request)
    if request.query.get("model"):
        raise RequestError("model is not supported: tickgate compares no model portfolios here")
    timestamp_s = gateway_of(request).clock.now_ns() // 1_000_000_000
    rows = [_live_row(views, row, timestamp_s) for row in _all_positions(views, account)]
    direction = request.query.get("direction", "a")
    if direction not in _DIRECTIONS:
        raise RequestError(f"direction must be a or d, got {shown(direction)}")
    column = request.query.get("sort")
    if column is not None:
        if column not in LIVE_COLUMNS:
            columns = ", ".join(LIVE_COLUMNS)
            raise RequestError(f"sort must be one of {columns}, got {shown(column)}")
        rows.sort(key=lambda row: row[column], reverse=_DIRECTIONS[direction])
    return json_response(rows)


async def position(request: web.Request) -> web.Response:
    conid = parse_int(request.match_info["conid"], "conid")
    return json_response(_views(request).position(_account(request), conid))


async def summary(request: web.Request) -> web.Response:
    return json_response(_views(request).summary(_account(request)))


async def ledger(request: web.Request) -> web.Response:
    return json_response(_views(request).ledger(_account(request)))


async def position_everywhere(request: web.Request) -> web.Response:
    """`GET /portfolio/positions/{conid}`: the position in one instrument in every account
    holding it, keyed by account (`{}` when none does). 404 for an unknown conid."""
    views, conid = _views(request), parse_int(request.match_info["conid"], "conid")
    views.instrument(conid)  # NotFoundError -> 404 for a conid the catalogue lacks
    held = {account: views.position(account, conid) for account in views.accounts()}
    return json_response({account: rows for account, rows in held.items() if rows})


async def meta(request: web.Request) -> web.Response:
    """The account's attributes, as `/portfolio/accounts` lists them."""
    account = _account(request)
    config = _views(request).portfolio_of(account).config
    return json_response(account_row(config))


async def invalidate(request: web.Request) -> web.Response:
    """Positions are never cached here: nothing to refresh, the account must exist."""
    _account(request)
    return json_response({"message": "success"})


async def combo_positions(request: web.Request) -> web.Response:
    _account(request)
    query_bool(request, "nocache", default=False)  # validated; nothing is cached
    return json_response([])


def _allocation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Market value by asset class, by sector-like group and by long/short."""
    by_class: dict[str, dict[str, float]] = defaultdict(lambda: {"long": 0.0, "short": 0.0})
    by_group: dict[str, dict[str, float]] = defaultdict(lambda: {"long": 0.0, "short": 0.0})
    for row in rows:
        side = "long" if row["position"] > 0 else "short"
        value = float(row["mktValue"])
        by_class[str(row["assetClass"])][side] += value
        by_group[str(row.get("group") or row["assetClass"])][side] += value
    return {
        "assetClass": _split(by_class),
        "sector": _split(by_group),
        "group": _split(by_group),
    }


async def allocation(request: web.Request) -> web.Response:
    return json_response(_allocation(_views(request).positions(_account(request), 0)))


async def _allocation_accounts(request: web.Request) -> list[str]:
    """`acctIds` of the body (`{"acctIds": [...]}`, IBKR's POST) or of the query (comma
    separated or repeated, as ibind's GET sends them)."""
    raw: object = [v for k, v in request.query.items() if k == "acctIds"]
    if not raw and request.method == "POST":
        raw = (await json_body(request)).get("acctIds")
    if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
        accounts = [a.strip() for value in raw for a in value.split(",") if a.strip()]
    else:
        accounts = []
    if not accounts:
        raise RequestError('name the accounts as {"acctIds": ["DU1234567", ...]}')
    if len(accounts) > MAX_ALLOCATION_ACCOUNTS:
        raise RequestError(f"too many acctIds: at most {MAX_ALLOCATION_ACCOUNTS}")
    for account in accounts:
        _views(request).portfolio_of(account)  # NotFoundError -> 404
    return list(dict.fromkeys(accounts))


async def consolidated_allocation(request: web.Request) -> web.Response:
    """The allocation of several accounts' positions together."""
    views = _views(request)
    accounts = await _allocation_accounts(request)
    rows = [row for account in accounts for row in views.positions(account, 0)]
    return json_response(_allocation(rows))


def _split(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        "long": {k: v["long"] for k, v in table.items() if v["long"]},
        "short": {k: v["short"] for k, v in table.items() if v["short"]},
    }


def _subaccount_rows(request: web.Request) -> list[dict[str, Any]]:
    gateway = gateway_of(request)
    advisor = gateway.allocations.advisor
    if advisor is None:
        return [
            {"id": a.account_id, "accountId": a.account_id, "currency": a.base_currency,
             "type": "DEMO"}
            for a in gateway.config.accounts
        ]  # fmt: skip
    return [account_row(a, advisor=advisor) for a in gateway.config.accounts]


async def subaccounts(request: web.Request) -> web.Response:
    return json_response(_subaccount_rows(request))


#: Sub-accounts per page of `/portfolio/subaccounts2`.
SUBACCOUNTS_PAGE = 20


async def subaccounts_paged(request: web.Request) -> web.Response:
    """The paged form for advisors with many sub-accounts (IBKR's 2022 document)."""
    page = query_int(request, "page", default=0)
    if page < 0:
        raise RequestError(f"page must be 0 or more, got {page}")
    rows = _subaccount_rows(request)
    start = page * SUBACCOUNTS_PAGE
    metadata = {"total": len(rows), "pageSize": SUBACCOUNTS_PAGE, "pageNume": page}
    return json_response(
        {"metadata": metadata, "subaccounts": rows[start : start + SUBACCOUNTS_PAGE]}
    )


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/portfolio/{account}/positions/invalidate", invalidate),
    ("GET", "/portfolio/{account}/positions/{page}", positions),
    ("GET", "/portfolio/{account}/positions", positions),
    ("GET", "/portfolio2/{account}/positions", live_positions),
    ("GET", "/portfolio/{account}/position/{conid}", position),
    ("GET", "/portfolio/{account}/summary", summary),
    ("GET", "/portfolio/{account}/ledger", ledger),
    ("GET", "/portfolio/{account}/allocation", allocation),
    ("GET", "/portfolio/subaccounts", subaccounts),
    ("GET", "/portfolio/subaccounts2", subaccounts_paged),
    ("GET", "/portfolio/positions/{conid}", position_everywhere),
    ("GET", "/portfolio/{account}/meta", meta),
    ("GET", "/portfolio/{account}/combo/positions", combo_positions),
    ("*", "/portfolio/allocation", consolidated_allocation),
]
