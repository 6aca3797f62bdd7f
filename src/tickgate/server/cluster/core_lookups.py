"""An edge's contract lookups of instruments its catalogue lacks but the core may know: a relay
core's upstream instruments, one added at run time that has not reached this edge yet.

The edge answers contract and market-data requests from its own catalogue (see
`trading_forward.EDGE_LOCAL`). Where that catalogue lacks what a request names, the edge asks
the core first and then answers like for any instrument of its own:

- a conid named by `/trsrv/secdef`, `/iserver/contract/{conid}/info` (and `info-and-rules`),
  `/iserver/secdef/info` and `strikes`, a REST snapshot or a WebSocket `smd`/`s+md` is looked
  up on the core (`EdgeCatalogue.fetch`: a relay core learns it from its upstream) and added
  to the edge's catalogue before the request is served;
- a `/iserver/secdef/search` the edge finds nothing for is the core's answer (forwarded as
  trading is), the conids in it added here before it is returned.

A core that cannot be asked (none, no answer within the timeout, the bus down) makes the
request a 503 `{"error": ...}` naming why, at once or after the timeout, never a hang; a
WebSocket stream of such a conid is refused as any unknown conid is. A conid the core does
not know either is answered as unknown, as on one gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from tickgate.server.cluster.catalogue_sync import CoreLookupError, EdgeCatalogue
from tickgate.server.cluster.trading_forward import FORWARDER, api_route
from tickgate.server.http import Handler
from tickgate.server.relay_lookups import (
    body_of,
    contract_info,
    secdef,
    streamed_conid,
)

log = logging.getLogger("tickgate.cluster.lookups")

Route = Callable[[web.Request, Handler, "CoreLookups"], Awaitable[web.StreamResponse]]


class CoreLookups:
    """The edge's side: what its catalogue lacks, asked of the core (see the module)."""

    def __init__(self, catalogue: EdgeCatalogue) -> None:
        self._catalogue = catalogue

    async def learn(self, conids: Iterable[int]) -> None:
        """Add those of `conids` the edge lacks and the core knows. Raises CoreLookupError."""
        await self._catalogue.fetch(conids)

    def learn_streamed(self, text: str) -> Awaitable[None] | None:
        """A WebSocket message (`ws.BEFORE_MESSAGE`): a stream of a conid the edge lacks is
        looked up on the core before the session reads it; None for every other message."""
        conid = streamed_conid(text)
        if conid is None or self._catalogue.knows(conid):
            return None
        return self._learn_quietly(conid)

    async def _learn_quietly(self, conid: int) -> None:
        try:
            await self.learn([conid])
        except CoreLookupError as exc:  # the session then refuses the unknown conid
            log.warning("conid %d streamed but not looked up on the core: %s", conid, exc)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        route = api_route(resource.canonical if resource is not None else request.path)
        found = ROUTES.get(route.rstrip("/")) if route is not None else None
        if found is None:
            return await handler(request)
        return await found(request, handler, self)


async def search(
    request: web.Request, handler: Handler, lookups: CoreLookups
) -> web.StreamResponse:
    """The edge's own hits; when it has none, the core's (which a relay core asks upstream)."""
    local = await handler(request)
    forwarder = request.app.get(FORWARDER)
    if local.status != 200 or body_of(local) != [] or forwarder is None:
        return local
    answer = await forwarder.forward(request)
    rows = body_of(answer)
    if answer.status == 200 and isinstance(rows, list):
        conids = [str(row.get("conid")) for row in rows if isinstance(row, dict)]
        await lookups.learn(int(c) for c in conids if c.isdigit())
    return answer


async def conid_parameter(
    request: web.Request, handler: Handler, lookups: CoreLookups
) -> web.StreamResponse:
    """A route naming one conid (`?conid=`): it is looked up first."""
    raw = request.query.get("conid", "")
    if raw.isdigit():
        await lookups.learn([int(raw)])
    return await handler(request)


async def snapshot(
    request: web.Request, handler: Handler, lookups: CoreLookups
) -> web.StreamResponse:
    """A REST snapshot: the conids it names are looked up first."""
    raw = request.query.get("conids", "")
    await lookups.learn(int(c) for c in raw.split(",") if c.strip().isdigit())
    return await handler(request)


ROUTES: dict[str, Route] = {
    "/iserver/secdef/search": search,
    "/trsrv/secdef": secdef,
    "/iserver/contract/{conid}/info": contract_info,
    "/iserver/contract/{conid}/info-and-rules": contract_info,
    "/iserver/secdef/info": conid_parameter,
    "/iserver/secdef/strikes": conid_parameter,
    "/iserver/marketdata/snapshot": snapshot,
}
