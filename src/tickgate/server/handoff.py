"""A slot in the middleware chain where a request can be handed elsewhere: a cluster edge
hands the core's routes to its core there (`server.cluster.trading_forward.install`).

The chain itself is fixed when the app is built, and an edge's forwarding is installed after
that; the slot keeps the composition root free of the cluster's modules (they need nats-py,
an extra) while the edge's middleware still runs at its place: after the access rules,
faults and pacing, before the session and reply rules that the core applies itself.
"""

from __future__ import annotations

from collections.abc import Awaitable

from aiohttp import web

from tickgate.server.http import Handler, PassMiddleware

HANDOFF: web.AppKey[PassMiddleware] = web.AppKey("handoff")


def install(app: web.Application, middleware: PassMiddleware) -> None:
    """Run `middleware` in `app`'s hand-off slot (before the app starts)."""
    app[HANDOFF] = middleware


@web.middleware
def handoff_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """The installed hand-off middleware, or straight on when none is installed."""
    installed = request.app.get(HANDOFF)
    if installed is None:
        return handler(request)  # a plain function: see `PassMiddleware`
    return installed(request, handler)
