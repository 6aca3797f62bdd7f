"""REST: orders — place, reply, modify, cancel, list, status, trades, P&L (reference §8.5)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.server import rest_allocation
from tickgate.server import rest_commands as commands
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_body, json_response, parse_int, query_bool, query_int
from tickgate.trading.engine import TradingEngine
from tickgate.trading.errors import OrderRejected
from tickgate.trading.placement import PlacementDesk
from tickgate.trading.queries import AccountViews


def _trading(request: web.Request) -> TradingEngine:
    return gateway_of(request).trading


def _desk(request: web.Request) -> PlacementDesk:
    return gateway_of(request).trading.desk


def _views(request: web.Request) -> AccountViews:
    return gateway_of(request).trading.views


def _order_id(request: web.Request) -> int:
    return parse_int(request.match_info["order_id"], "orderId")


async def order_list(request: web.Request, *, single: bool = False) -> list[dict[str, Any]]:
    """The orders of a placement body, `{"orders": [{...}, ...]}`; with `single` (the older
    `.../order` routes) one bare order object is accepted too. Raises RequestError (400)."""
    body = await json_body(request)
    if single and "orders" not in body and body:
        return [body]
    orders = body.get("orders")
    if not isinstance(orders, list) or not orders or not all(isinstance(o, dict) for o in orders):
        raise RequestError('body must be {"orders": [ {...}, ... ]} with at least one order')
    return orders


async def place(request: web.Request, *, single: bool = False) -> web.Response:
    orders = await order_list(request, single=single)
    account = request.match_info["account"]
    gateway = gateway_of(request)
    if gateway.allocated.handles(account):  # an advisor's group: split over its accounts
        return json_response(rest_allocation.place(gateway, account, orders))
    return json_response(commands.place(gateway.trading, account, orders))


async def place_single(request: web.Request) -> web.Response:
    """The older single-order route: the same engine path as `place`."""
    return await place(request, single=True)


async def place_to_group(request: web.Request) -> web.Response:
    """The 2022 document's `POST /iserver/account/orders/{faGroup}`: orders to an advisor's
    group (400 without --advisor, 404 for no such group)."""
    gateway = gateway_of(request)
    group = request.match_info["group"]
    gateway.allocations.group(group)
    return json_response(rest_allocation.place(gateway, group, await order_list(request)))


async def reply(request: web.Request) -> web.Response:
    body = await json_body(request)
    confirmed = body.get("confirmed")
    if not isinstance(confirmed, bool):
        raise RequestError('body must be {"confirmed": true} or {"confirmed": false}')
    return json_response(_desk(request).reply(request.match_info["reply_id"], confirmed))


async def modify(request: web.Request) -> web.Response:
    body = await json_body(request)
    account, order_id = request.match_info["account"], _order_id(request)
    if gateway_of(request).allocated.is_parent(order_id):
        raise OrderRejected(
            f"Order {order_id} is allocated over sub-accounts: modify its child orders, "
            "each in its own account"
        )
    return json_response(commands.modify(_trading(request), account, order_id, body))


async def cancel(request: web.Request) -> web.Response:
    account, order_id = request.match_info["account"], _order_id(request)
    allocated = gateway_of(request).allocated
    if allocated.handles(account):
        return json_response(allocated.cancel(account, order_id))
    return json_response(_desk(request).cancel(account, order_id))


async def suppress(request: web.Request) -> web.Response:
    ids = (await json_body(request)).get("messageIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise RequestError('body must be {"messageIds": ["o163", ...]}')
    return json_response(_desk(request).suppress(ids))  # ids are checked by the engine


async def reset_suppressed(request: web.Request) -> web.Response:
    return json_response(_desk(request).reset_suppressed())


def _account_filter(request: web.Request) -> str | None:
    account = request.query.get("accountId", "").strip()
    if account:
        _views(request).portfolio_of(account)  # NotFoundError -> 404 for an unknown account
    return account or None


def _filters(request: web.Request) -> list[str]:
    """Every `filters` value, whatever the parameter's case, repeated or comma-separated."""
    values = [v for k, v in request.query.items() if k.lower() == "filters"]
    return [f for value in values for f in value.split(",") if f.strip()]


async def live_orders(request: web.Request) -> web.Response:
    filters = _filters(request)
    query_bool(request, "force", default=False)  # validated; every call returns the full day
    account = _account_filter(request)
    answer = _views(request).orders(filters, account=account)
    if account is None:  # an advisor's group orders as one row each (a sub-account: its own)
        answer["orders"] = gateway_of(request).allocated.live_rows(answer["orders"])
    return json_response(answer)


async def order_status(request: web.Request) -> web.Response:
    order_id = _order_id(request)
    allocated = gateway_of(request).allocated
    if allocated.is_parent(order_id):
        return json_response(allocated.status(order_id))
    return json_response(_views(request).order_status(order_id))


async def trades(request: web.Request) -> web.Response:
    days = query_int(request, "days", default=1)
    if not 1 <= days <= 7:
        raise RequestError(f"days must be between 1 and 7, got {days}")
    return json_response(_views(request).trades(days, account=_account_filter(request)))


async def pnl(request: web.Request) -> web.Response:
    return json_response(_views(request).pnl())


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/iserver/account/{account}/orders", place),
    ("POST", "/iserver/account/{account}/order", place_single),
    ("POST", "/iserver/account/orders/{group}", place_to_group),
    ("POST", "/iserver/reply/{reply_id}", reply),
    ("POST", "/iserver/account/{account}/order/{order_id}", modify),
    ("DELETE", "/iserver/account/{account}/order/{order_id}", cancel),
    ("POST", "/iserver/questions/suppress", suppress),
    ("POST", "/iserver/questions/suppress/reset", reset_suppressed),
    ("GET", "/iserver/account/orders", live_orders),
    ("GET", "/iserver/account/order/status/{order_id}", order_status),
    ("GET", "/iserver/account/trades", trades),
    ("GET", "/iserver/account/pnl/partitioned", pnl),
]
