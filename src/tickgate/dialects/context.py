"""What a dialect session is given: the gateway's engines, the brokerage session, the time."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from tickgate.clock import Clock
from tickgate.config import Config
from tickgate.dialects.brokerage import Brokerage
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.engine import MarketEngine
from tickgate.market.history.service import HistoryService
from tickgate.model.orders import Fill, Order
from tickgate.streaming.accounts import AccountStreams
from tickgate.streaming.hub import StreamingHub
from tickgate.trading.events import PnlChanged

log = logging.getLogger("tickgate.ws")


class AccountReads(Protocol):
    """What account topics read to answer a subscribe: the trading engine's `views` on a
    gateway that trades, a replica of the core's accounts on a cluster edge."""

    def accounts(self) -> list[str]:
        """Account ids, in configuration order."""
        ...

    def todays_orders(self, account: str | None = None) -> list[Order]:
        """Orders of the current day (optionally of one account), oldest first."""
        ...

    def fills_since(self, since_ns: int, account: str | None = None) -> list[Fill]:
        """Executions at or after `since_ns`, oldest first."""
        ...

    def pnl_event(self, account: str) -> PnlChanged:
        """The account's current figures. Raises NotFoundError for an unknown account."""
        ...


@dataclass(frozen=True, eq=False, slots=True)
class DialectContext:
    """The gateway services every dialect session of one server shares."""

    config: Config
    catalogue: Catalogue
    market: MarketEngine
    hub: StreamingHub
    history: HistoryService
    #: Where account topics read what a subscribe answers (later frames come from events).
    views: AccountReads
    accounts: AccountStreams
    brokerage: Brokerage
    #: The `/iserver/accounts` body, which the api dialect's `act` frame carries.
    accounts_payload: Callable[[], Mapping[str, Any]]
    #: `smh` server ids, unique per gateway (ibind maps them back to conids).
    smh_server_ids: Iterator[int]
    #: Read only by account-topic renderers, which run on trading events, not session inputs.
    clock: Clock


@dataclass(frozen=True, slots=True)
class Now:
    """When an input happened: `monotonic_ns` orders deadlines and budgets; `wall_ns` is the
    gateway clock's time of day (replay time under replay), which frames report; `host_ns` is
    the machine's own time, which heartbeats carry because clients compare them with theirs."""

    monotonic_ns: int
    wall_ns: int
    host_ns: int


class Notes:
    """A client's mistakes on one connection: each kind is logged once, later ones counted."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self._counts: dict[str, int] = {}

    def note(self, kind: str, detail: str) -> None:
        """Log `kind` with `detail` the first time; afterwards only count it."""
        if kind in self._counts:
            self._counts[kind] += 1
            return
        self._counts[kind] = 0
        log.info(
            "%s from %s: %s (further ones on this connection are counted, not logged)",
            kind,
            self.peer,
            detail,
        )

    def log_counts(self) -> None:
        """Log how many of each kind were only counted (once, when the connection closes)."""
        counted = {kind: n for kind, n in self._counts.items() if n}
        if counted:
            # Every kind is a noun phrase whose plural takes an "s" ("bad commands").
            summary = ", ".join(
                f"{n} more {kind}{'' if n == 1 else 's'}" for kind, n in counted.items()
            )
            log.info("connection from %s closed after %s", self.peer, summary)
