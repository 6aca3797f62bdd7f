"""`GET /v1/portal/ws`: the portal dialect's session behind the WebSocket pump."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tickgate.dialects.context import DialectContext, Now
from tickgate.dialects.portal import PortalDialect
from tickgate.server.gateway import Gateway
from tickgate.server.ws import websocket_handler
from tickgate.streaming.outbox import Outbox


def _session(
    context: DialectContext, outbox: Outbox, request: web.Request, now: Now
) -> PortalDialect:
    return PortalDialect(context, outbox, peer=str(request.remote), now=now)


def handler(gateway: Gateway) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The `GET /v1/portal/ws` handler of `gateway`."""
    return websocket_handler(gateway, _session)
