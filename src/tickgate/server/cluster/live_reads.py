"""An edge's REST reads of current market values: answered from current values.

An edge's engine holds values only for the conids it follows (streamed by its clients or
pre-flighted). A route that reads values without a subscription would otherwise answer from
whatever image the edge last had (stale) or none (missing), where one gateway answers from
its live engine. So such a route first follows the conids it reads and waits for their image
from the core (`EdgeFeed.ensure_live`); then it answers as a single gateway does.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from tickgate.market.fx import FxRates
from tickgate.model.ticks import Quote
from tickgate.server.cluster.market import EdgeFeed
from tickgate.server.gateway import Gateway
from tickgate.server.http import Handler
from tickgate.server.rest_marketdata import SNAPSHOT_CONIDS

ConidsRead = Callable[[web.Request, Gateway], list[int]]
#: How long a read waits for the images it needs: generous, since an answer without them
#: would be wrong, and a loaded machine can take seconds to bring a conid from the core.
LIVE_WAIT_S = 10.0


def queried_conids(request: web.Request, _gateway: Gateway) -> list[int]:
    """The `conids` of a snapshot query (bad ones are left to the route to refuse)."""
    words = request.query.get("conids", "").split(",")
    return [int(c) for c in words if c.strip().isdigit()][:SNAPSHOT_CONIDS]


class _QuotesAsked:
    """The engine's quotes, noting which conids were read."""

    def __init__(self, gateway: Gateway) -> None:
        self._market = gateway.market
        self.conids: list[int] = []

    def quote(self, conid: int) -> Quote | None:
        self.conids.append(conid)
        return self._market.quote(conid)


def rate_conids(request: web.Request, gateway: Gateway) -> list[int]:
    """The FX pairs `/iserver/exchangerate` reads for its `source` and `target` (found by
    computing the rate once, so the pairs are exactly the ones the route uses)."""
    source = request.query.get("source", "").strip()
    target = request.query.get("target", "").strip()
    if not (source.isalpha() and target.isalpha()):
        return []  # the route refuses it
    asked = _QuotesAsked(gateway)
    FxRates(gateway.catalogue, asked).rate(source, target)
    return list(dict.fromkeys(asked.conids))


#: The routes an edge answers from values it must have live, and the conids each reads.
LIVE_READS: dict[str, ConidsRead] = {
    "/iserver/marketdata/snapshot": queried_conids,
    "/md/snapshot": queried_conids,
    "/iserver/exchangerate": rate_conids,
}


def live_first(feed: EdgeFeed, gateway: Gateway, handler: Handler, read: ConidsRead) -> Handler:
    """`handler` once the conids it reads are followed here and have their image from the
    core (or after `ensure_live`'s timeout: then with what the edge has)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        conids = read(request, gateway)
        if conids:
            await feed.ensure_live(conids, timeout_s=LIVE_WAIT_S)
        return await handler(request)

    return answer
