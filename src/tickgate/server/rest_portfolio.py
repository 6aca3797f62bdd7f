"""REST: portfolio — positions, one position, summary, ledger, allocation, sub-accounts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from aiohttp import web

from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_response, parse_int
from tickgate.trading.queries import AccountViews


def _views(request: web.Request) -> AccountViews:
    return gateway_of(request).trading.views


def _account(request: web.Request) -> str:
    account = request.match_info["account"]
    _views(request).portfolio_of(account)  # NotFoundError -> 404 for an unknown account
    return account


async def positions(request: web.Request) -> web.Response:
    page = parse_int(request.match_info.get("page", "0"), "page")
    return json_response(_views(request).positions(_account(request), page))


async def position(request: web.Request) -> web.Response:
    conid = parse_int(request.match_info["conid"], "conid")
    return json_response(_views(request).position(_account(request), conid))


async def summary(request: web.Request) -> web.Response:
    return json_response(_views(request).summary(_account(request)))


async def ledger(request: web.Request) -> web.Response:
    return json_response(_views(request).ledger(_account(request)))


async def allocation(request: web.Request) -> web.Response:
    """Market value by asset class, by sector-like group and by long/short."""
    rows = _views(request).positions(_account(request), 0)
    by_class: dict[str, dict[str, float]] = defaultdict(lambda: {"long": 0.0, "short": 0.0})
    by_group: dict[str, dict[str, float]] = defaultdict(lambda: {"long": 0.0, "short": 0.0})
    for row in rows:
        side = "long" if row["position"] > 0 else "short"
        value = float(row["mktValue"])
        by_class[str(row["assetClass"])][side] += value
        by_group[str(row.get("group") or row["assetClass"])][side] += value
    payload: dict[str, Any] = {
        "assetClass": _split(by_class),
        "sector": _split(by_group),
        "group": _split(by_group),
    }
    return json_response(payload)


def _split(table: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {
        "long": {k: v["long"] for k, v in table.items() if v["long"]},
        "short": {k: v["short"] for k, v in table.items() if v["short"]},
    }


async def subaccounts(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    rows = [
        {"id": a.account_id, "accountId": a.account_id, "currency": a.base_currency, "type": "DEMO"}
        for a in gateway.config.accounts
    ]
    return json_response(rows)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/portfolio/{account}/positions/{page}", positions),
    ("GET", "/portfolio/{account}/positions", positions),
    ("GET", "/portfolio/{account}/position/{conid}", position),
    ("GET", "/portfolio/{account}/summary", summary),
    ("GET", "/portfolio/{account}/ledger", ledger),
    ("GET", "/portfolio/{account}/allocation", allocation),
    ("GET", "/portfolio/subaccounts", subaccounts),
]
