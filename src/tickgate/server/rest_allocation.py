"""REST: Financial Advisor allocation (`/iserver/account/allocation/...`): the sub-accounts
with the figures the computed methods weigh, the advisor's groups and its presets.

Every route answers 400 for a login that is no advisor (`serve --advisor` makes one); the
groups and presets are the `AllocationBook`'s, kept in the trading store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.server import rest_commands
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import Handler, json_body, json_response
from tickgate.trading.allocation import (
    AccountFunds,
    AllocationBook,
    AllocationGroup,
    AllocationMethod,
    method_of,
)
from tickgate.trading.preview import Preview

_CENT = Decimal("0.01")


def _book(request: web.Request) -> AllocationBook:
    return gateway_of(request).allocations


def account_funds(gateway: Gateway, account: str) -> AccountFunds:
    """The net liquidation and available equity of `account`, as the engine has them now."""
    portfolio = gateway.trading.journal.portfolio_of(account)
    return AccountFunds(portfolio.net_liquidation, portfolio.available_funds)


async def sub_accounts(request: web.Request) -> web.Response:
    gateway = gateway_of(request)
    book = gateway.allocations
    book.require_advisor()
    rows = []
    for account in book.sub_accounts:
        funds = account_funds(gateway, account)
        data = [
            {"value": str(funds.net_liquidation.quantize(_CENT)), "key": "NetLiquidation"},
            {"value": str(funds.available_equity.quantize(_CENT)), "key": "AvailableEquity"},
        ]
        rows.append({"data": data, "name": account})
    return json_response({"accounts": rows})


def group_detail(group: AllocationGroup) -> dict[str, Any]:
    """One group as `POST .../group/single` shows it (an amount only where one was given)."""
    accounts: list[dict[str, Any]] = []
    for member in group.members:
        row: dict[str, Any] = {"name": member.account}
        if member.amount is not None:
            amount = member.amount
            row["amount"] = int(amount) if amount == amount.to_integral_value() else float(amount)
        accounts.append(row)
    return {"name": group.name, "accounts": accounts, "default_method": group.method.value}


async def list_groups(request: web.Request) -> web.Response:
    rows = [
        {"allocation_method": g.method.value, "size": len(g.members), "name": g.name}
        for g in _book(request).groups()
    ]
    return json_response({"data": rows})


async def add_group(request: web.Request) -> web.Response:
    _book(request).add(await json_body(request))
    return json_response({"success": True})


async def modify_group(request: web.Request) -> web.Response:
    _book(request).modify(await json_body(request))
    return json_response({"success": True})


async def delete_group(request: web.Request) -> web.Response:
    _book(request).delete(await json_body(request))
    return json_response({"success": True})


async def single_group(request: web.Request) -> web.Response:
    book = _book(request)
    body = await json_body(request)
    book.require_advisor()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RequestError('body must be {"name": GROUP_NAME}')
    return json_response(group_detail(book.group(name.strip())))


async def presets(request: web.Request) -> web.Response:
    return json_response(_book(request).presets().to_document())


async def set_presets(request: web.Request) -> web.Response:
    _book(request).set_presets(await json_body(request))
    return json_response({"success": True})


def allocation_method(raw_orders: Sequence[Mapping[str, Any]]) -> AllocationMethod | None:
    """The `allocationMethod` the orders name (a code or a name), None when none does.

    Raises RequestError for an unknown method or orders of one placement naming different
    ones (they are split together).
    """
    named = {
        method_of(raw["allocationMethod"], "allocationMethod")
        for raw in raw_orders
        if isinstance(raw, Mapping) and raw.get("allocationMethod") not in (None, "")
    }
    if len(named) > 1:
        raise RequestError("The orders of one placement must name the same allocationMethod")
    return named.pop() if named else None


def place(gateway: Gateway, target: str, raw_orders: Sequence[Mapping[str, Any]]) -> Any:
    """Orders to the group (or master account) `target`: parsed as any placement, then split
    over the group's sub-accounts (`AllocationDesk.place`)."""
    trading = gateway.trading
    trading.desk.interrupt_replies()
    method = allocation_method(raw_orders)
    orders = rest_commands.parse_orders(raw_orders, trading.journal.instruments)
    return gateway.allocated.place(target, orders, method=method)


def what_if(gateway: Gateway, target: str, raw_orders: Sequence[Mapping[str, Any]]) -> Preview:
    """A preview of orders to the group (or master account) `target`: the sum of its
    sub-accounts' previews of their shares (`AllocationDesk.what_if`)."""
    trading = gateway.trading
    method = allocation_method(raw_orders)
    orders = rest_commands.parse_orders(raw_orders, trading.journal.instruments)
    return gateway.allocated.what_if(target, orders, method=method)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/iserver/account/allocation/accounts", sub_accounts),
    ("GET", "/iserver/account/allocation/group", list_groups),
    ("POST", "/iserver/account/allocation/group", add_group),
    ("PUT", "/iserver/account/allocation/group", modify_group),
    ("POST", "/iserver/account/allocation/group/single", single_group),
    ("POST", "/iserver/account/allocation/group/delete", delete_group),
    ("GET", "/iserver/account/allocation/presets", presets),
    ("POST", "/iserver/account/allocation/presets", set_presets),
]
