"""The services one gateway process is made of, as seen by the HTTP and WebSocket handlers."""

from __future__ import annotations

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
from tickgate.server.session import BrokerSession
from tickgate.server.traffic import Traffic
from tickgate.sources.simulator.market import MarketSimulator
from tickgate.streaming.accounts import AccountStreams
from tickgate.streaming.hub import StreamingHub
from tickgate.streaming.outbox import TurnBatcher
from tickgate.trading.alerts import AlertBook
from tickgate.trading.allocated_orders import AllocationDesk
from tickgate.trading.allocation import AllocationBook
from tickgate.trading.day_cycle import DayCycle
from tickgate.trading.engine import TradingEngine
from tickgate.trading.fa_models import ModelDesk
from tickgate.trading.fyi import FyiCenter


@dataclass(eq=False, frozen=True)
class Gateway:
    """The services of one gateway, as the HTTP and WebSocket handlers reach them.

    Built whole by the composition root (`server.app.build_gateway`), every field given there;
    frozen, so nothing can swap a service afterwards. Two gateways never share a service, a
    counter or a limit. A handler that needs one or two services is better given those (see
    `server.app`).
    """

    config: Config
    clock: Clock
    catalogue: Catalogue
    market: MarketEngine
    hub: StreamingHub
    history: HistoryService
    session: BrokerSession
    trading: TradingEngine
    accounts: AccountStreams
    bus: Bus
    hours: MarketHours
    #: The owner of the daily close and every other session boundary.
    days: DayCycle
    #: The simulated market when it is the source (the control routes drive it), else None.
    simulator: MarketSimulator | None
    #: Totals for `/metrics` that outlive connections and requests.
    traffic: Traffic
    #: The one flush-all-outboxes loop callback per event-loop turn, shared by connections.
    turns: TurnBatcher
    #: The ids this gateway numbers its answers with (never shared with another gateway).
    ids: AnswerIds
    #: `/iserver/marketdata/history` requests in flight, bounded per gateway.
    history_slots: Slots
    #: The user's trading alerts, evaluated on the market, and the FYI notifications.
    alerts: AlertBook
    fyi: FyiCenter
    #: The Financial Advisor's allocation groups and presets (disabled without --advisor).
    allocations: AllocationBook
    #: Orders to the advisor's groups, split over their sub-accounts.
    allocated: AllocationDesk
    #: The advisor's model portfolios (disabled without --advisor).
    models: ModelDesk
    #: The open WebSocket connections (closed together on shutdown).
    connections: set[Any] = field(default_factory=set)

    @property
    def account_ids(self) -> list[str]:
        return [account.account_id for account in self.config.accounts]


GATEWAY = web.AppKey("gateway", Gateway)


def gateway_of(request: web.Request) -> Gateway:
    """The gateway serving `request`."""
    return request.app[GATEWAY]
