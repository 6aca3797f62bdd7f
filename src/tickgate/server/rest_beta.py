"""REST: IBKR's beta market-data routes, `/md/snapshot` and `/hmds/history`, answered by the same
code (and engines) as `/iserver/marketdata/snapshot` and `/iserver/marketdata/history`."""

from __future__ import annotations

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.market.history.payload import hmds_payload
from tickgate.protocol import fields as F
from tickgate.protocol.rest_values import shown
from tickgate.server.gateway import gateway_of
from tickgate.server.http import Handler, json_response
from tickgate.server.rest_marketdata import history_answer, market_values, snapshot_query


async def md_snapshot(request: web.Request) -> web.Response:
    """Current values at once: the beta snapshot is a one-shot read, with no pre-flight call
    and no market-data line held afterwards."""
    gateway = gateway_of(request)
    conids, fields = snapshot_query(request)
    wanted = fields or F.DEFAULT_FIELDS
    return json_response(
        [
            {"conid": conid, "conidEx": str(conid), **market_values(gateway, conid, wanted)}
            for conid in conids
        ]
    )


async def hmds_history(request: web.Request) -> web.Response:
    """Bars as `/iserver/marketdata/history` computes them; `bar` is required here, and only
    the backward direction (the period ending at `startTime`, or now) is served."""
    direction = request.query.get("direction", "-1").strip()
    if direction != "-1":
        raise RequestError(
            f"direction must be -1 (the period back from startTime), got {shown(direction)}"
        )
    return json_response(await history_answer(request, bar_required=True, shape=hmds_payload))


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/md/snapshot", md_snapshot),
    ("GET", "/hmds/history", hmds_history),
]
