"""`GET /v1/api/ws`: the api dialect's session behind the WebSocket pump."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from tickgate.dialects.api import ApiDialect
from tickgate.dialects.context import DialectContext, Now
from tickgate.server.gateway import Gateway
from tickgate.server.rest_session import SESSION_COOKIE
from tickgate.server.ws import websocket_handler
from tickgate.streaming.outbox import Outbox


def _session(context: DialectContext, outbox: Outbox, request: web.Request, now: Now) -> ApiDialect:
    # ibind's `api` cookie, or the session cookie the REST answers set (a browser's cookie jar).
    cookie = request.cookies.get("api")
    if not context.brokerage.matches_cookie(cookie):
        cookie = request.cookies.get(SESSION_COOKIE, cookie)
    return ApiDialect(context, outbox, peer=str(request.remote), now=now, cookie=cookie)


def handler(gateway: Gateway) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The `GET /v1/api/ws` handler of `gateway`."""
    return websocket_handler(gateway, _session)
