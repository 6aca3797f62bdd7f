"""The services one gateway process is made of, as seen by the HTTP and WebSocket handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tickgate.bus.base import Bus
from tickgate.clock import Clock
from tickgate.config import Config
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.engine import MarketEngine
from tickgate.market.history.service import HistoryService
from tickgate.market.market_hours import MarketHours
from tickgate.server.answer_ids import AnswerIds
from tickgate.server.http import Slots
from tickgate.server.session import Session
from tickgate.server.traffic import Traffic
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.streaming.accounts import AccountStreams
from tickgate.streaming.hub import StreamingHub
from tickgate.streaming.outbox import TurnBatcher
from tickgate.trading.engine import TradingEngine


@dataclass(eq=False)
class Gateway:
    """Everything a request handler may need; built once by `server.app.build_app`."""

    config: Config
    clock: Clock
    catalogue: Catalogue
    market: MarketEngine
    hub: StreamingHub
    history: HistoryService
    session: Session
    trading: TradingEngine
    accounts: AccountStreams
    bus: Bus
    hours: MarketHours
    #: The ids this gateway numbers its answers with (never shared with another gateway).
    ids: AnswerIds
    #: `/iserver/marketdata/history` requests in flight, bounded per gateway.
    history_slots: Slots
    connections: set[Any] = field(default_factory=set)
    #: The simulated market when it is the source (the control routes drive it), else None.
    simulator: MarketSimulator | None = None
    #: Totals for `/metrics` that outlive connections and requests.
    traffic: Traffic = field(default_factory=Traffic)
    #: The data source's name and its task once the app started it (for `/readyz`, `/metrics`).
    source_name: str = ""
    source_task: asyncio.Task[None] | None = None
    _turns: TurnBatcher | None = None

    def turns(self) -> TurnBatcher:
        """The event loop's one flush-all-outboxes callback per turn (made on first use)."""
        if self._turns is None:
            self._turns = TurnBatcher(asyncio.get_running_loop().call_soon)
        return self._turns

    @property
    def account_ids(self) -> list[str]:
        return [account.account_id for account in self.config.accounts]


GATEWAY = web.AppKey("gateway", Gateway)


def gateway_of(request: web.Request) -> Gateway:
    """The gateway serving `request`."""
    return request.app[GATEWAY]
