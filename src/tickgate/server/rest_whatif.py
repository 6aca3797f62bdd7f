"""REST: order preview, `POST /iserver/account/{acct}/orders/whatif` (and the older
`.../order/whatif`): what an order would cost and do to margin, without placing it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from tickgate.model.instruments import SecType
from tickgate.server import rest_allocation
from tickgate.server import rest_commands as commands
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_response
from tickgate.server.rest_orders import order_list
from tickgate.trading.preview import Change, Preview

_UNITS = {SecType.STK: "Shares", SecType.FUT: "Contracts", SecType.OPT: "Contracts"}


def _money(value: Decimal) -> str:
    # IBKR's preview shows amounts as display text with thousands separators.
    return f"{value:,.2f}"


def _quantity(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _triple(change: Change, show: Any = _money) -> dict[str, str]:
    return {
        "current": show(change.before),
        "change": show(change.change),
        "after": show(change.after),
    }


def _what(preview: Preview) -> str:
    if len(preview.estimates) != 1:
        return f"{len(preview.estimates)} orders"
    only = preview.estimates[0]
    unit = _UNITS.get(only.instrument.sec_type, "Units")
    return f"{_quantity(only.request.quantity)} {unit}"


def preview_body(preview: Preview) -> dict[str, Any]:
    """The documented whatif answer: `amount`, `equity`, `initial`, `maintenance`,
    `position` (each current/change/after as display text), `warn` and `error`."""
    ccy = preview.currency
    return {
        "amount": {
            "amount": f"{_money(preview.value)} {ccy} ({_what(preview)})",
            "commission": f"{_money(preview.commission)} {ccy}",
            "total": f"{_money(preview.value + preview.commission)} {ccy}",
        },
        "equity": _triple(preview.equity),
        "initial": _triple(preview.initial),
        "maintenance": _triple(preview.maintenance),
        "position": _triple(preview.position, _quantity),
        "warn": "\n".join(preview.warnings) or None,
        "error": preview.error,
    }


async def _preview(request: web.Request, *, single: bool) -> web.Response:
    orders = await order_list(request, single=single)
    gateway, account = gateway_of(request), request.match_info["account"]
    if gateway.allocated.handles(account):  # an advisor's group: the sum over its split
        return json_response(preview_body(rest_allocation.what_if(gateway, account, orders)))
    return json_response(preview_body(commands.what_if(gateway.trading, account, orders)))


async def what_if(request: web.Request) -> web.Response:
    return await _preview(request, single=False)


async def what_if_single(request: web.Request) -> web.Response:
    return await _preview(request, single=True)


#: Registered before `rest_orders.ROUTES`: `.../order/whatif` would otherwise be taken for a
#: modify of order id "whatif".
ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/iserver/account/{account}/orders/whatif", what_if),
    ("POST", "/iserver/account/{account}/order/whatif", what_if_single),
]
