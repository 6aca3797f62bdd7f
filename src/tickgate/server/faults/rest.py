"""The REST side of fault injection: chosen routes answer 429, 503 or 500, or answer late.

A middleware after the access checks (so a refused client stays refused) and before every
API rule. Only the IBKR API routes (`/v1/api/...`, `/v1/portal/...`) are affected, never the
WebSocket upgrades or tickgate's own routes, so a fault can always be listed and cleared.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable

from aiohttp import web

from tickgate.server.faults.registry import REST_LATENCY, REST_STATUS, Fault, FaultRegistry
from tickgate.server.http import PREFIXES, Handler, error_response

log = logging.getLogger("tickgate.faults")

FAULTS = web.AppKey("faults", FaultRegistry)

#: The bodies the real gateway answers these statuses with.
STATUS_ERRORS = {429: "Too many requests", 500: "Internal Server Error", 503: "Service Unavailable"}


def api_route(path: str) -> str | None:
    """The route of an API path without its prefix (`/iserver/accounts`), or None for a
    path outside the API and for the WebSocket endpoints."""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            route = path[len(prefix) :].rstrip("/") or "/"
            return None if route == "/ws" else route
    return None


def matches(pattern: str, route: str) -> bool:
    """True when `route` is `pattern` or matches it as a glob (`*` alone: every route)."""
    return route == pattern or fnmatch.fnmatchcase(route, pattern)


def _first(faults: list[Fault], route: str) -> Fault | None:
    return next((f for f in faults if matches(str(f.details["path"]), route)), None)


@web.middleware
def fault_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Delay the answer, then answer with the injected status instead of the handler's.

    A plain function, not a coroutine, so that a request no fault applies to (every
    WebSocket upgrade, and every request while no REST fault is active) gets the handler's
    own awaitable back: no middleware frame stays alive for the lifetime of a WebSocket,
    which cost each connection about 400 bytes.
    """
    route = api_route(request.path)
    if route is None:
        return handler(request)
    registry = request.app[FAULTS]
    slow = _first(registry.active(REST_LATENCY), route)
    failing = _first(registry.active(REST_STATUS), route)
    if slow is None and failing is None:
        return handler(request)
    return _faulted(request, handler, registry, route)


async def _faulted(
    request: web.Request, handler: Handler, registry: FaultRegistry, route: str
) -> web.StreamResponse:
    slow = _first(registry.active(REST_LATENCY), route)
    if slow is not None:
        assert slow.delay is not None  # latency faults carry one
        registry.use(slow)
        await asyncio.sleep(slow.delay.next_seconds())
    failing = _first(registry.active(REST_STATUS), route)
    if failing is None:
        return await handler(request)
    registry.use(failing)
    status = int(failing.details["status"])
    log.debug("%s %s -> %d (fault %d)", request.method, request.path, status, failing.id)
    response = error_response(str(failing.details["error"]), status=status)
    retry_after = failing.details.get("retryAfter")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response
