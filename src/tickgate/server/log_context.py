"""Per-request log context: an id on every log line, and the gateway's secrets kept out of them.

Every HTTP request gets `request_id` `r-N`; a WebSocket upgrade gets `connection_id` `c-N`
instead, which every line of that connection carries (its tasks inherit the context). N counts
per gateway. The ids are never sent to API clients; only the operator's `/tickgate/connections`
shows a connection's id, so a row there can be found in the log.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Awaitable, Iterable, Iterator

from aiohttp import web

from tickgate.log_format import LOG_CONTEXT, add_secrets
from tickgate.server.gatekeeper import WEBSOCKET_PATHS
from tickgate.server.http import Handler
from tickgate.server.session import BrokerSession

_COUNTER: web.AppKey[Iterator[int]] = web.AppKey("log_ids")
#: Session ids rotate on logout; the last few stay redacted, since a client may still send one.
RECENT_SESSION_IDS = 8


@web.middleware
def log_context_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Serve `request` with its request or connection id in `LOG_CONTEXT`."""
    ids = request.app[_COUNTER]
    number = next(ids)
    if request.path in WEBSOCKET_PATHS:
        # aiohttp runs each request in a task of its own, whose context copy ends with it:
        # nothing to reset, so no frame of ours stays alive as long as the socket
        # (`tickgate.server.http.PassMiddleware`).
        LOG_CONTEXT.set(("connection_id", f"c-{number}"))
        return handler(request)
    return _with_request_id(request, handler, f"r-{number}")


async def _with_request_id(
    request: web.Request, handler: Handler, request_id: str
) -> web.StreamResponse:
    token = LOG_CONTEXT.set(("request_id", request_id))
    try:
        return await handler(request)
    finally:
        LOG_CONTEXT.reset(token)


def install(app: web.Application, session: BrokerSession, *, auth_token: str | None) -> None:
    """Number `app`'s requests and redact `auth_token` and `session`'s ids from log lines
    while the app runs; add `log_context_middleware` to the app's middlewares yourself."""
    app[_COUNTER] = itertools.count(1)
    seen: deque[str] = deque([session.id], maxlen=RECENT_SESSION_IDS)
    # The session rotates its id before telling listeners of a logout or a new login.
    unlisten = session.add_status_listener(
        lambda change: None if change.login is None else seen.append(session.id)
    )

    def secrets() -> Iterable[str | None]:
        return (auth_token, session.id, *seen)

    remove = add_secrets(secrets)

    forgotten = False

    async def forget(_app: web.Application) -> None:
        # A server stopped twice (a restart test, then its fixture) runs cleanup twice.
        nonlocal forgotten
        if not forgotten:
            forgotten = True
            remove()
            unlisten()

    app.on_cleanup.append(forget)
