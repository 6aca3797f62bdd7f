"""The `/tickgate/faults/...` control routes (docs/control.md lists them with examples).

Instant faults act once and answer how many sockets or streams they touched: `drop`,
`competing`, `expire`, and `logout` (which may also last `seconds`, then logs in again).
Lasting faults (`rest`, `heartbeat`, `latency`) answer the fault with its `id`; `GET
/tickgate/faults` lists them with their calls and seconds left, `DELETE /tickgate/faults[/ID]`
or `POST /tickgate/faults/clear` (`{"id": N}` or nothing for all) ends them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from tickgate.errors import RequestError
from tickgate.server.faults import body as B
from tickgate.server.faults import sockets
from tickgate.server.faults.registry import (
    HEARTBEAT,
    LOGOUT,
    REST_LATENCY,
    REST_STATUS,
    WS_LATENCY,
    Delay,
    Fault,
    FaultRegistry,
)
from tickgate.server.faults.rest import FAULTS, STATUS_ERRORS
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import HttpError, json_body, json_response, parse_int
from tickgate.server.ws import Connection

#: Close codes a drop may use: the standard ones a server sends, and the private range.
CLOSE_CODES = (1000, 1001, 1008, 1011, 1012, 1013)
DEFAULT_CLOSE = 1001
MAX_CALLS = 1_000_000


def registry_of(request: web.Request) -> FaultRegistry:
    """The faults of the gateway serving `request`."""
    return request.app[FAULTS]


def _lasting(fault: Fault, request: web.Request) -> web.Response:
    return json_response(fault.describe(gateway_of(request).clock.monotonic_ns()))


async def drop(request: web.Request) -> web.Response:
    body = await json_body(request)
    B.only(body, {"code", "reason", "abort"})
    abort = body.get("abort", False)
    if not isinstance(abort, bool):
        raise RequestError(f"abort must be true or false, not {abort!r}")
    code = B.integer(body, "code", low=1000, high=4999)
    if abort and code is not None:
        raise RequestError("abort drops without a close frame: give either abort or code")
    if code is not None and code < 3000 and code not in CLOSE_CODES:
        raise RequestError(
            f"code must be one of {', '.join(map(str, CLOSE_CODES))} or 3000-4999, not {code}"
        )
    reason = B.text(body, "reason", default="fault injected", longest=120)
    gateway = gateway_of(request)
    chosen = None if abort else code or DEFAULT_CLOSE
    count = sockets.drop_all(gateway, code=chosen, reason=reason)
    sockets.log.warning(
        "fault: dropped %d WebSocket(s) %s",
        count,
        "without a close frame" if chosen is None else f"with {chosen} {reason!r}",
    )
    return json_response({"dropped": count, "code": chosen})


async def logout(request: web.Request) -> web.Response:
    body = await json_body(request)
    B.only(body, {"seconds"})
    seconds = B.seconds(body)
    gateway = gateway_of(request)
    if not gateway.session.authenticated:
        raise HttpError("the brokerage session is already logged out", status=409)
    gateway.session.logout()
    if seconds is None:
        sockets.log.warning("fault: brokerage session logged out until a client logs in")
        return json_response({"authenticated": False})
    fault = registry_of(request).add(LOGOUT, {}, seconds=seconds)
    return _lasting(fault, request)


async def competing(request: web.Request) -> web.Response:
    B.only(await json_body(request), set())
    count = sockets.announce_competing(gateway_of(request))
    sockets.log.warning("fault: competing-session status sent to %d WebSocket(s)", count)
    return json_response({"sockets": count})


async def expire(request: web.Request) -> web.Response:
    B.only(await json_body(request), set())
    count = sockets.expire_all(gateway_of(request))
    sockets.log.warning("fault: %d smd stream(s) expired now", count)
    return json_response({"expired": count})


def _bounds(body: dict[str, Any]) -> tuple[int | None, float | None]:
    calls = B.integer(body, "calls", low=1, high=MAX_CALLS)
    return calls, B.seconds(body)


async def rest_status(request: web.Request) -> web.Response:
    body = await json_body(request)
    B.only(body, {"path", "status", "calls", "seconds", "retryAfter", "error"})
    path = _route_pattern(body)
    status = B.integer(body, "status", low=100, high=599)
    if status not in STATUS_ERRORS:
        raise RequestError(f"status must be one of {', '.join(map(str, STATUS_ERRORS))}")
    calls, seconds = _bounds(body)
    retry_after = B.integer(body, "retryAfter", low=0, high=86_400)
    if retry_after is not None and status != 429:
        raise RequestError("retryAfter goes with status 429")
    details: dict[str, Any] = {
        "path": path,
        "status": status,
        "error": B.text(body, "error", default=STATUS_ERRORS[status]),
    }
    if status == 429:
        details["retryAfter"] = 1 if retry_after is None else retry_after
    fault = registry_of(request).add(REST_STATUS, details, calls=calls, seconds=seconds)
    return _lasting(fault, request)


def _route_pattern(body: dict[str, Any]) -> str:
    path = B.text(body, "path", default="*")
    for prefix in ("/v1/api", "/v1/portal"):
        if path.startswith(prefix + "/"):
            path = path[len(prefix) :]
    if path != "*" and not path.startswith("/"):
        raise RequestError(f"path must be an API route such as /iserver/accounts, or *: {path!r}")
    return path.rstrip("/") or "/"


async def heartbeat(request: web.Request) -> web.Response:
    body = await json_body(request)
    B.only(body, {"seconds"})
    seconds = B.seconds(body)
    if seconds is None:
        raise RequestError('a stalled heartbeat needs {"seconds": T}')
    registry = registry_of(request)
    if registry.active(HEARTBEAT):
        raise HttpError("the heartbeat is already stalled; clear that fault first", status=409)
    fault = registry.add(HEARTBEAT, {}, seconds=seconds)
    assert fault.until_ns is not None  # given seconds
    sockets.stall_heartbeats(gateway_of(request), fault.until_ns)
    return _lasting(fault, request)


async def latency(request: web.Request) -> web.Response:
    body = await json_body(request)
    B.only(body, {"target", "path", "ms", "minMs", "maxMs", "seed", "calls", "seconds"})
    target = B.text(body, "target", default="rest")
    if target not in ("rest", "ws"):
        raise RequestError(f"target must be rest or ws, not {target!r}")
    delay = _delay(body)
    calls, seconds = _bounds(body)
    details: dict[str, Any] = delay.describe()
    if target == "rest":
        details = {"path": _route_pattern(body), **details}
    elif "path" in body or calls is not None:
        raise RequestError("path and calls go with target rest")
    registry = registry_of(request)
    if target == "rest":
        fault = registry.add(REST_LATENCY, details, calls=calls, seconds=seconds, delay=delay)
        return _lasting(fault, request)
    if registry.active(WS_LATENCY):
        raise HttpError("WebSocket frames are already delayed; clear that fault first", status=409)
    fault = registry.add(WS_LATENCY, details, seconds=seconds, delay=delay)
    sockets.delay_all_frames(gateway_of(request), delay)
    return _lasting(fault, request)


def _delay(body: dict[str, Any]) -> Delay:
    fixed = B.number(body, "ms", low=0, high=B.MAX_MS)
    low = B.number(body, "minMs", low=0, high=B.MAX_MS)
    high = B.number(body, "maxMs", low=0, high=B.MAX_MS)
    seed = B.integer(body, "seed", low=0, high=2**63 - 1)
    if fixed is not None:
        if low is not None or high is not None or seed is not None:
            raise RequestError("give either ms, or minMs and maxMs (and seed)")
        return Delay(fixed, fixed)
    if low is None or high is None:
        raise RequestError('latency needs {"ms": N} or {"minMs": A, "maxMs": B, "seed": S}')
    if low > high:
        raise RequestError(f"minMs ({low:g}) must not exceed maxMs ({high:g})")
    return Delay(low, high, 0 if seed is None else seed)


async def listing(request: web.Request) -> web.Response:
    return json_response({"faults": registry_of(request).describe()})


async def clear(request: web.Request) -> web.Response:
    fault_id: int | None = None
    if "id" in request.match_info:
        fault_id = parse_int(request.match_info["id"], "id")
    elif request.method == "POST":
        body = await json_body(request)
        B.only(body, {"id"})
        fault_id = B.integer(body, "id", low=1, high=2**63 - 1)
    try:
        ended = registry_of(request).clear(fault_id)
    except KeyError:
        raise HttpError(f"no active fault {fault_id}", status=404) from None
    return json_response({"cleared": [fault.id for fault in ended]})


async def unknown_kind(request: web.Request) -> web.Response:
    """404 for `POST /tickgate/faults/NAME` with a NAME no fault kind has, naming the kinds
    (else the `DELETE /tickgate/faults/{id}` route would make it a 405 allowing DELETE)."""
    kind = request.match_info["id"]
    raise HttpError(
        f"unknown fault kind {kind!r}; the kinds are {', '.join(KINDS)} "
        "(and POST /tickgate/faults/clear ends faults)",
        status=404,
    )


#: The faults `POST /tickgate/faults/KIND` injects, by KIND.
KINDS: dict[str, Callable[[web.Request], Awaitable[web.Response]]] = {
    "drop": drop,
    "logout": logout,
    "competing": competing,
    "expire": expire,
    "rest": rest_status,
    "heartbeat": heartbeat,
    "latency": latency,
}


def install(app: web.Application, gateway: Gateway) -> None:
    """Give the app its fault registry and register the `/tickgate/faults` routes (the
    middleware `rest.fault_middleware` is in the app's middleware list)."""
    registry = FaultRegistry(gateway.clock)
    registry.on_end(LOGOUT, lambda _fault: gateway.session.login())
    registry.on_end(HEARTBEAT, lambda _fault: _resume_heartbeats(gateway))
    registry.on_end(WS_LATENCY, lambda _fault: _undelay_frames(gateway))
    registry.on_join(lambda connection: _join(registry, connection))
    app[FAULTS] = registry
    routes = [
        ("GET", "/tickgate/faults", listing),
        ("DELETE", "/tickgate/faults", clear),
        ("POST", "/tickgate/faults/clear", clear),
        *(("POST", f"/tickgate/faults/{kind}", inject) for kind, inject in KINDS.items()),
        # After the kinds' own routes, so a POST reaches it only for a name no fault has.
        ("DELETE", "/tickgate/faults/{id}", clear),
        ("POST", "/tickgate/faults/{id}", unknown_kind),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)

    @contextlib.asynccontextmanager
    async def stop_timer(_app: web.Application) -> AsyncIterator[None]:
        yield
        registry.close()

    app.cleanup_ctx.append(stop_timer)


def _resume_heartbeats(gateway: Gateway) -> None:
    sockets.stall_heartbeats(gateway, None)


def _undelay_frames(gateway: Gateway) -> None:
    sockets.delay_all_frames(gateway, None)


def _join(registry: FaultRegistry, connection: Any) -> None:
    """Apply the lasting socket faults to a connection that opens while they last."""
    if not isinstance(connection, Connection):
        return
    for stall in registry.active(HEARTBEAT):
        if connection.session is not None:
            connection.session.stall_heartbeat(stall.until_ns)
    for slow in registry.active(WS_LATENCY):
        sockets.delay_frames(connection, slow.delay)
