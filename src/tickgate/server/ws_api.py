"""`GET /v1/api/ws`: the api dialect's session behind the WebSocket pump."""

from __future__ import annotations

from aiohttp import web

from tickgate.dialects.api import ApiDialect
from tickgate.dialects.context import DialectContext, Now
from tickgate.server.gateway import gateway_of
from tickgate.server.ws import serve_websocket
from tickgate.streaming.outbox import Outbox


def _session(context: DialectContext, outbox: Outbox, request: web.Request, now: Now) -> ApiDialect:
    cookie = request.cookies.get("api")
    return ApiDialect(context, outbox, peer=str(request.remote), now=now, cookie=cookie)


async def handler(request: web.Request) -> web.StreamResponse:
    """`GET /v1/api/ws`."""
    return await serve_websocket(request, gateway_of(request), _session)
