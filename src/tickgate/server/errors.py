"""Errors at the HTTP edge: every failure becomes a JSON body with the right status, logged once."""

from __future__ import annotations

import logging

from aiohttp import web

from tickgate.errors import NotFoundError, RequestError
from tickgate.server.gateway import GATEWAY
from tickgate.server.http import PREFIXES, Handler, error_response
from tickgate.server.session import NOT_AUTHENTICATED, OPEN_WHILE_LOGGED_OUT

log = logging.getLogger("tickgate.rest")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Translate exceptions into the API's `{"error": ...}` responses."""
    try:
        return await handler(request)
    except RequestError as exc:
        log.info("%s %s -> %d: %s", request.method, request.path, exc.status, exc.message)
        return error_response(exc.message, status=exc.status, **exc.extra)
    except NotFoundError as exc:
        log.info("%s %s -> 404: %s", request.method, request.path, exc)
        return error_response(str(exc), status=404)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        log.info("%s %s -> %d", request.method, request.path, exc.status)
        return error_response(exc.reason, status=exc.status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response("internal error", status=500)


async def not_found(request: web.Request) -> web.StreamResponse:
    """Unknown routes get a JSON 404 naming the path."""
    raise RequestError(f"no route for {request.method} {request.path}", status=404)


@web.middleware
async def reply_discipline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Honour the IBKR rule that an order question must be answered before anything else.

    Any other REST request in between makes pending reply ids stale, so a late
    `POST /iserver/reply/{id}` gets a 503 as on the real gateway (`--no-strict-replies` lifts it).
    """
    gateway = request.app[GATEWAY]
    path = request.path
    if (
        gateway.config.strict_replies
        and path.startswith(PREFIXES)
        and not path.endswith("/ws")
        and "/iserver/reply/" not in path
    ):
        gateway.trading.interrupt_replies()
    return await handler(request)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While the brokerage session is logged out, `/iserver` answers 401 (reference §10.1)."""
    gateway = request.app[GATEWAY]
    if not gateway.session.authenticated and request.path.startswith(PREFIXES):
        route = request.path.split("/", 3)[-1].rstrip("/")
        if route.startswith("iserver/") and "/" + route not in OPEN_WHILE_LOGGED_OUT:
            log.info("%s %s -> 401: logged out", request.method, request.path)
            return error_response(NOT_AUTHENTICATED, status=401, statusCode=401)
    return await handler(request)
