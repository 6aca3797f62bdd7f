"""`GET /v1/portal/ws`: the portal dialect's session behind the WebSocket pump."""

from __future__ import annotations

from aiohttp import web

from tickgate.dialects.context import DialectContext, Now
from tickgate.dialects.portal import PortalDialect
from tickgate.server.gateway import gateway_of
from tickgate.server.ws import serve_websocket
from tickgate.streaming.outbox import Outbox


def _session(
    context: DialectContext, outbox: Outbox, request: web.Request, now: Now
) -> PortalDialect:
    return PortalDialect(context, outbox, peer=str(request.remote), now=now)


async def handler(request: web.Request) -> web.StreamResponse:
    """`GET /v1/portal/ws`."""
    return await serve_websocket(request, gateway_of(request), _session)
