"""The HTTP boundary of the exception tree: every failure becomes a JSON body with the right
status, logged once.

The core raises errors that say what went wrong (`tickgate.errors`, `tickgate.trading.errors`);
only this module decides how HTTP answers each (`http_answer`). The WebSocket handlers answer
any `TickgateError` with an error frame carrying its message, so no status is needed there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from tickgate.config import Config
from tickgate.errors import NotFoundError, RequestError, TickgateError
from tickgate.server.gatekeeper import WEBSOCKET_PATHS
from tickgate.server.gateway import GATEWAY
from tickgate.server.http import PREFIXES, Handler, HttpError, answered, error_response
from tickgate.server.session import NOT_AUTHENTICATED, OPEN_WHILE_LOGGED_OUT
from tickgate.trading.errors import (
    IllegalTransition,
    OrderNotConfirmed,
    OrderRejected,
    QuestionExpired,
    UnknownQuestion,
)

log = logging.getLogger("tickgate.rest")

#: The status of each core error, most specific class first.
STATUSES: tuple[tuple[type[TickgateError], int], ...] = (
    (HttpError, 0),  # carries its own status
    # IBKR answers an order reject with HTTP 200 and `{"error": "<reason>"}` (reference §10.1).
    (OrderRejected, 200),
    (IllegalTransition, 400),
    # A reply id made stale by another request: the real gateway's 503.
    (QuestionExpired, 503),
    (UnknownQuestion, 400),
    (OrderNotConfirmed, 400),
    (NotFoundError, 404),
    (RequestError, 400),
)
#: What the middleware answers; any other exception is a bug of ours: logged, then a 500.
ANSWERED = tuple(kind for kind, _ in STATUSES)


def http_answer(exc: TickgateError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body `{"error": ...}` that answer `exc`.

    Raises LookupError for an error `STATUSES` does not name.
    """
    body: dict[str, Any] = {"error": getattr(exc, "message", str(exc))}
    if isinstance(exc, HttpError):
        return exc.status, body
    if isinstance(exc, OrderNotConfirmed):
        body["statusCode"] = 400  # IBKR's declined reply carries it in the body too
    for kind, status in STATUSES:
        if isinstance(exc, kind):
            return status, body
    raise LookupError(f"no HTTP status for {type(exc).__name__}")


@web.middleware
def error_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Translate exceptions into the API's `{"error": ...}` responses.

    A WebSocket upgrade passes straight through (`PassMiddleware`): its handler answers a
    failed handshake with `error_answer` itself, and past the upgrade nothing is HTTP.
    """
    if request.path in WEBSOCKET_PATHS:
        return handler(request)
    return _answering_errors(request, handler)


async def _answering_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as exc:
        return error_answer(request, exc)


def error_answer(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The `{"error": ...}` response that answers `exc`, raised while serving `request`, logged
    once. Re-raises an `HTTPException` below 400 (a redirect is aiohttp's to send)."""
    if isinstance(exc, ANSWERED):
        status, body = http_answer(exc)
        log.info("%s %s -> %d: %s", request.method, request.path, status, body["error"])
        return error_response(body.pop("error"), status=status, **body)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        log.info("%s %s -> %d", request.method, request.path, exc.status)
        return error_response(exc.reason, status=exc.status)
    log.exception("%s %s failed", request.method, request.path, exc_info=exc)
    return error_response("internal error", status=500)


async def not_found(request: web.Request) -> web.StreamResponse:
    """The catch-all's answer, logged once: a JSON 405 with an `Allow` header when the path is
    routed for other methods only, else a JSON 404 naming the path.

    A WebSocket path is a handshake, not a REST resource: any other method there is a 404
    (docs/compatibility.md lists `POST /ws` as not served)."""
    allowed = [] if request.path in WEBSOCKET_PATHS else await allowed_methods(request)
    if not allowed:
        return error_answer(
            request, HttpError(f"no route for {request.method} {request.path}", status=404)
        )
    listed = ", ".join(allowed)
    refusal = HttpError(
        f"{request.method} is not allowed on {request.path}; allowed: {listed}", status=405
    )
    response = error_answer(request, refusal)
    response.headers["Allow"] = listed
    return response


async def allowed_methods(request: web.Request) -> list[str]:
    """The methods the app's routes (the catch-all aside) serve on `request`'s path, sorted;
    empty when no route matches the path.

    Asks every resource (a few hundred regex matches): paid on a wrong request only, which
    the router already sent to the catch-all, so nothing else slows down."""
    catch_all = request.match_info.route.resource
    found: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not catch_all:
            _match, methods = await resource.resolve(request)
            found |= methods
    return sorted(found)


@web.middleware
def reply_discipline_middleware(
    request: web.Request, handler: Handler
) -> Awaitable[web.StreamResponse]:
    """Honour the IBKR rule that an order question must be answered before anything else.

    Any other REST request in between makes pending reply ids stale, so a late
    `POST /iserver/reply/{id}` gets a 503 as on the real gateway (`--no-strict-replies` lifts it).
    """
    gateway = request.app[GATEWAY]
    if interrupts_replies(gateway.config, request.path):
        gateway.trading.desk.interrupt_replies()
    return handler(request)  # a plain function: see `PassMiddleware`


def interrupts_replies(config: Config, path: str) -> bool:
    """True when a request for `path` makes pending order reply ids stale: any API request
    but a reply itself and a WebSocket upgrade, unless `--no-strict-replies`."""
    return (
        config.strict_replies
        and path.startswith(PREFIXES)
        and not path.endswith("/ws")
        and "/iserver/reply/" not in path
    )


@web.middleware
def session_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """While the brokerage session is logged out, `/iserver` answers 401 (reference §10.1)."""
    gateway = request.app[GATEWAY]
    if not gateway.session.authenticated and request.path.startswith(PREFIXES):
        route = request.path.split("/", 3)[-1].rstrip("/")
        if route.startswith("iserver/") and "/" + route not in OPEN_WHILE_LOGGED_OUT:
            log.info("%s %s -> 401: logged out", request.method, request.path)
            return answered(error_response(NOT_AUTHENTICATED, status=401, statusCode=401))
    return handler(request)  # a plain function: see `PassMiddleware`
