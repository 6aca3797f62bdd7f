"""An edge's REST calls that only the core can answer, forwarded over NATS request/reply.

Which calls: every API route except the ones an edge answers from its own engines
(`EDGE_LOCAL`: market data but its history, contracts and rules, the session routes). The
rule is "forward unless known local", so a new trading, portfolio or account route goes to
the core without anyone listing it here; the cost of forwarding a route that could have been
local is a bus hop, the cost of answering a trading route locally would be a wrong answer.

How: the request travels as data (`rest_envelope`): method, path and query, the headers that
identify the client (cookie, authorization), the body. The core answers it with the same
application that serves its own HTTP clients (`trading_serve`) and the edge returns the
status, headers and body it got.

Guarantees:
- a core that does not answer never makes a client wait past `timeout_s`: no core listening
  is a 503 at once, no answer in time a 503 after `timeout_s`, a disconnected bus a 503
  without sending anything;
- nothing is sent twice: there are no automatic retries, and a request is never handed to
  the bus while it is disconnected (nats-py would send it after the reconnect, when its client
  has long been told it failed); a request that still reaches the core after its deadline is
  refused there, not carried out;
- when the answer is lost after the core acted (the core died right after placing an order),
  the client gets a 503 saying the request may have been carried out. Its order is then in
  `GET /iserver/account/orders` (the core stored it before answering), and sending it again
  with the same `cOID` is refused as a duplicate, so a careful client cannot place it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats.errors
from aiohttp import web
from multidict import CIMultiDict
from nats.aio.client import Client

from tickgate.clock import NS_PER_MS, Clock
from tickgate.server import handoff
from tickgate.server.cluster.rest_envelope import (
    EnvelopeError,
    ForwardedRequest,
    decode_response,
    encode_request,
)
from tickgate.server.cluster.session_sync import SESSION_VERSION_HEADER
from tickgate.server.http import PREFIXES, Handler, error_response

log = logging.getLogger("tickgate.cluster.forward")

#: Routes (under the API prefixes) an edge answers itself: each covers itself and what lies
#: under it ("/md" takes "/md/snapshot", not "/mdx").
EDGE_LOCAL: tuple[str, ...] = (
    # Market data: the edge's own market engine, fed over the bus.
    "/iserver/marketdata",
    "/md",
    # Contracts, rules and currencies: the catalogue, the same on every member.
    "/iserver/secdef",
    "/trsrv",
    "/iserver/contract",
    "/iserver/currency",
    "/iserver/exchangerate",
    # The session routes: the roles share the session across the cluster themselves.
    "/tickle",
    "/iserver/auth",
    "/iserver/reauthenticate",
    "/iserver/accounts",
    "/sso",
    "/logout",
    # The API's own description.
    "/openapi.json",
)
#: Routes under a local prefix that only the core answers: history bars come from the core's
#: history service, which has recorded every trade since it started (an edge's saw only the
#: conids its clients followed).
CORE_UNDER_LOCAL: tuple[str, ...] = ("/iserver/marketdata/history", "/hmds/history")
#: Request headers that reach the core: who the client is and what the body is. Host, Origin
#: and the fetch metadata were judged by the edge's own access rules and stay there.
FORWARDED_HEADERS = ("Cookie", "Authorization", "Content-Type", "Accept", "User-Agent")
#: Answer headers the edge's own HTTP stack sets (framing, connection, date).
HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)

NOT_REACHABLE = (
    "the cluster's core is not reachable from this edge (bus disconnected): nothing was sent; "
    "retry later"
)
NO_CORE = "no core is serving this cluster: nothing was carried out; retry once it is back"


def rest_subject(prefix: str) -> str:
    """The subject forwarded requests travel on, under the cluster's bus prefix."""
    return f"{prefix}.rest"


def api_route(path: str) -> str | None:
    """`path` without its API prefix (`/v1/api`, `/v1/portal`), None outside the API."""
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            return path[len(prefix) :]
    return None


def forwarded(path: str) -> bool:
    """True when the route (a path or a route template such as `/v1/api/portfolio/{account}
    /summary`) is answered by the core: an API route not in `EDGE_LOCAL`."""
    route = api_route(path)
    if route is None or route.endswith("/ws"):
        return False
    route = route.rstrip("/") or "/"
    if _under(route, CORE_UNDER_LOCAL):
        return True
    return not _under(route, EDGE_LOCAL)


def _under(route: str, prefixes: tuple[str, ...]) -> bool:
    return any(route == prefix or route.startswith(prefix + "/") for prefix in prefixes)


def timed_out(timeout_s: float) -> str:
    return (
        f"the cluster's core did not answer within {timeout_s:g} s: the request may have been "
        "carried out; check (e.g. GET /iserver/account/orders) before sending it again"
    )


@dataclass(eq=False)
class TradingForwarder:
    """Forwards requests on one edge; see the module's guarantees. Holds no connection of its
    own: `client` is the edge's NATS connection (the bus member's)."""

    client: Client
    subject: str
    clock: Clock
    edge: str
    timeout_s: float = 5.0
    #: Waits until the edge has the core's session state of a version (see `session_sync`).
    catch_up: Callable[[int], Awaitable[bool]] | None = None
    forwarded: int = 0
    failed: int = 0

    async def forward(self, request: web.Request) -> web.Response:
        """The core's answer to `request`, or a 503 `{"error": ...}` saying why there is none."""
        body = await request.read()
        if not self.client.is_connected:
            return self._fail(request, NOT_REACHABLE)
        envelope = ForwardedRequest(
            method=request.method,
            path_qs=request.path_qs,
            headers=tuple(
                (name, value)
                for name in FORWARDED_HEADERS
                for value in request.headers.getall(name, ())
            ),
            body=body,
            deadline_ms=self.clock.host_ns() // NS_PER_MS + int(self.timeout_s * 1000),
            edge=self.edge,
        )
        try:
            reply = await self.client.request(
                self.subject, encode_request(envelope), timeout=self.timeout_s
            )
        except nats.errors.NoRespondersError:
            return self._fail(request, NO_CORE)
        except nats.errors.TimeoutError:
            return self._fail(request, timed_out(self.timeout_s))
        except nats.errors.Error as exc:  # closed or draining connection, a full buffer
            log.info("forwarding %s %s failed: %r", request.method, request.path, exc)
            return self._fail(request, timed_out(self.timeout_s))  # sent or not: unknown
        try:
            answer = decode_response(reply.data)
        except EnvelopeError as exc:
            log.warning("the core answered %s %s unreadably: %s", request.method, request.path, exc)
            return self._fail(request, f"the cluster's core answered unreadably: {exc}")
        self.forwarded += 1
        headers: CIMultiDict[str] = CIMultiDict(
            (name, value) for name, value in answer.headers if name.lower() not in HOP_BY_HOP
        )
        version = headers.popall(SESSION_VERSION_HEADER, None)
        # What the request did to the session (an account selected, a question left
        # waiting) is known here before its client hears the answer.
        if (
            version
            and self.catch_up is not None
            and version[0].isdigit()
            and not await self.catch_up(int(version[0]))
        ):
            log.warning("the core's session after %s %s is late", request.method, request.path)
        return web.Response(status=answer.status, headers=headers, body=answer.body)

    def _fail(self, request: web.Request, message: str) -> web.Response:
        self.failed += 1
        log.info("%s %s -> 503: %s", request.method, request.path, message)
        return error_response(message, status=503)


FORWARDER = web.AppKey("trading_forwarder", TradingForwarder)


def install(app: web.Application, forwarder: TradingForwarder) -> None:
    """Make `app` (an edge's) forward the core's routes through `forwarder`."""
    app[FORWARDER] = forwarder
    handoff.install(app, forward_middleware)


@web.middleware
async def forward_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On an edge (`install`ed), hand the core's routes to the forwarder; elsewhere a no-op.

    Sits after the access rules, faults and pacing (the edge is the client's door) and before
    the session and reply rules, which the core applies to what it answers."""
    forwarder = request.app.get(FORWARDER)
    if forwarder is None:
        return await handler(request)
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    if not forwarded(template):
        return await handler(request)
    return await forwarder.forward(request)
