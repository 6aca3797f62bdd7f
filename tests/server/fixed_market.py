"""A market source for tests that need prices to hold still: it publishes one fixed quote per
conid once, then produces nothing until cancelled. `start_fixed` runs a gateway on it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.conftest import make_config

from tickgate.model.ticks import Tick, TickSink
from tickgate.protocol import fields as F
from tickgate.server.app import RunningServer, build_app, start_server
from tickgate.server.gateway import Gateway
from tickgate.sources.base import DataSource


class FixedMarket:
    """`quotes` maps a conid to (bid, ask, last); sizes are `size` on both sides. `ready` is
    set once every quote has been delivered to the sink."""

    name = "fixed"

    def __init__(self, quotes: Mapping[int, tuple[str, str, str]], *, size: int = 10_000) -> None:
        self.quotes = dict(quotes)
        self.size = size
        self.ready = asyncio.Event()
        self.ts_ns = 0

    def for_gateway(self, gateway: Gateway) -> DataSource:
        """This source, its ticks stamped with the gateway's clock."""
        self.ts_ns = gateway.clock.now_ns()
        return self

    async def run(self, sink: TickSink) -> None:
        for conid, (bid, ask, last) in self.quotes.items():
            values = {F.BID: bid, F.ASK: ask, F.LAST: last,
                      F.BID_SIZE: str(self.size), F.ASK_SIZE: str(self.size)}  # fmt: skip
            sink(Tick(conid, values, self.ts_ns))
        self.ready.set()
        await asyncio.Event().wait()  # nothing more, until the app cancels the task


async def start_fixed(tmp_path: Path, market: FixedMarket, **changes: Any) -> RunningServer:
    """A gateway on `market`, returned once its quotes are in the engines; the caller stops it."""
    app = build_app(make_config(tmp_path, **changes), source=market.for_gateway)
    server = await start_server(app)
    await asyncio.wait_for(market.ready.wait(), 10)
    return server
