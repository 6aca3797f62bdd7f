"""Optional REST pacing: the request rate limits of the IBKR reference (§9), answered with 429.

Off by default, so tests and notebooks are not slowed down; `--rest-pacing` turns it on for
bots that must prove they respect the real gateway's limits before they meet it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiohttp import web

from tickgate.dialects.ratelimit import TokenBucket
from tickgate.server.gateway import GATEWAY
from tickgate.server.http import PREFIXES, Handler, answered, error_response

log = logging.getLogger("tickgate.pacing")

#: (route suffix, requests, per seconds) from reference §9; the first match applies.
LIMITS: tuple[tuple[str, int, float], ...] = (
    ("/iserver/account/orders", 1, 5.0),
    ("/iserver/account/trades", 1, 5.0),
    ("/iserver/account/pnl/partitioned", 1, 5.0),
    ("/portfolio/accounts", 1, 5.0),
    ("/portfolio/subaccounts", 1, 5.0),
    ("/iserver/marketdata/snapshot", 10, 1.0),
    ("/tickle", 1, 1.0),
    ("/sso/validate", 1, 60.0),
)
GLOBAL = (10, 1.0)
TOO_MANY = "Too many requests"
_BUCKETS = web.AppKey("pacing_buckets", dict[str, TokenBucket])


def _route(path: str) -> str | None:
    for prefix in PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix) :].rstrip("/") or "/"
    return None


@web.middleware
def pacing_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """429 `{"error":"Too many requests"}` past the reference's limits, when pacing is on."""
    gateway = request.app[GATEWAY]
    route = _route(request.path)
    if not gateway.config.rest_pacing or route is None or route.endswith("/ws"):
        return handler(request)  # a plain function: see `PassMiddleware`
    now = gateway.clock.monotonic_ns()
    buckets = request.app[_BUCKETS]
    keys = ["*", *[suffix for suffix, _, _ in LIMITS if route == suffix][:1]]
    for key in keys:
        bucket = buckets.get(key)
        if bucket is None:
            count, seconds = (
                GLOBAL if key == "*" else next((c, s) for k, c, s in LIMITS if k == key)
            )
            bucket = buckets[key] = TokenBucket(rate=count / seconds, burst=count, now_ns=now)
        if not bucket.allow(now):
            log.info("%s %s -> 429 (pacing %s)", request.method, request.path, key)
            return answered(error_response(TOO_MANY, status=429))
    return handler(request)


def install(app: web.Application) -> None:
    """Give the app its pacing state (the middleware is in the app's middleware list)."""
    app[_BUCKETS] = {}
