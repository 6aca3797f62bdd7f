"""Account topics of today's dialect: `sor`, `str`, `spl`, `ssd`, `sld` (reference §5.4-§5.8).

They read the trading engine through `TradingFeed`, the small interface this module needs from
it (the gateway's `trading` attribute). Frames follow what ibind waits for: `spl` and `str`
answer at once (rules 12, 13), `ssd` entries all carry `key`/`timestamp` and `AccountCode`
(rule 14), `sld` entries carry `acctCode` (rule 15), `usd`/`uld` are confirmed (rule 16).
`sor` sends no initial snapshot, as the real server; `uor`/`utr`/`upl` get no reply (rule 20).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from tickgate.clock import NS_PER_S
from tickgate.errors import NotFoundError, ProtocolError
from tickgate.model.orders import Fill
from tickgate.protocol import current as C
from tickgate.protocol import current_frames as frames
from tickgate.server.gateway import Gateway
from tickgate.trading import wire
from tickgate.trading.events import (
    OrderAccepted,
    OrderFilled,
    OrderUpdated,
    PnlChanged,
    TradingEvent,
)
from tickgate.trading.portfolio import Portfolio

DAY_NS = 86_400 * NS_PER_S
Listener = Callable[[TradingEvent], None]


class TradingFeed(Protocol):
    """What the account topics need from the trading engine."""

    def portfolio(self, account: str) -> Portfolio:
        """The live portfolio of `account`; raises NotFoundError for an unknown account."""
        ...

    def fills(self, account: str | None, *, since_ns: int) -> list[Fill]:
        """Fills at or after `since_ns`, oldest first (of every account when None)."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Call `listener` with every published trading event, on the event loop."""
        ...

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling `listener` (no-op when it is not registered)."""
        ...


def summary_entries(
    portfolio: Portfolio, keys: tuple[str, ...], now_ns: int
) -> list[dict[str, Any]]:
    """`ssd` entries: `AccountCode` first, then monetary keys with and without `-S` (segment)."""
    ts, ccy = now_ns // NS_PER_S, portfolio.config.base_currency
    figures: dict[str, Decimal] = {
        "NetLiquidation": portfolio.net_liquidation,
        "TotalCashValue": portfolio.cash,
        "BuyingPower": portfolio.buying_power,
        "ExcessLiquidity": portfolio.excess_liquidity,
        "AvailableFunds": portfolio.available_funds,
        "EquityWithLoanValue": portfolio.net_liquidation,
        "GrossPositionValue": portfolio.gross_position_value,
        "InitMarginReq": portfolio.initial_margin,
        "MaintMarginReq": portfolio.maintenance_margin,
    }
    account = portfolio.config.account_id
    entries: list[dict[str, Any]] = [
        {"key": "AccountCode", "value": account, "severity": 0, "timestamp": ts}
    ]
    for name, value in figures.items():
        for key in (name, f"{name}-S"):
            if not keys or key in keys:
                entries.append(
                    {
                        "key": key,
                        "currency": ccy,
                        "monetaryValue": value,
                        "severity": 0,
                        "timestamp": ts,
                    }
                )
    return entries


def ledger_entries(
    portfolio: Portfolio, keys: tuple[str, ...], now_ns: int
) -> list[dict[str, Any]]:
    """`sld` entries (`LedgerListBASE`, `LedgerList<CCY>`), each with `acctCode` and `key`."""
    entries = []
    for second_key, row in wire.ledger(portfolio, now_ns).items():
        key = f"LedgerList{second_key}"
        if keys and key not in keys:
            continue
        entry = {"acctCode": row["acctcode"], "key": key, "secondKey": second_key}
        entry.update(
            {
                name: value
                for name, value in row.items()
                if name not in ("acctcode", "key", "secondkey")
            }
        )
        entries.append(entry)
    return entries


def pnl_event(portfolio: Portfolio) -> PnlChanged:
    """The current P&L figures of `portfolio`, as the engine publishes them."""
    return PnlChanged(
        account=portfolio.config.account_id,
        daily=portfolio.daily_pnl,
        unrealized=portfolio.unrealized,
        realized=portfolio.realized,
        net_liquidation=portfolio.net_liquidation,
        market_value=portfolio.market_value,
        excess_liquidity=portfolio.excess_liquidity,
    )


class AccountStreams:
    """One connection's account subscriptions; frames go to `send` (reliable, never dropped)."""

    def __init__(self, gateway: Gateway, send: Callable[[bytes], None]) -> None:
        self.gateway = gateway
        self.send = send
        self.orders: tuple[str, ...] | None = None
        self.trades = False
        self.pnl = False
        self.summary: dict[str, tuple[str, ...]] = {}
        self.ledger: dict[str, tuple[str, ...]] = {}
        self._listening = False

    @property
    def feed(self) -> TradingFeed:
        feed: TradingFeed | None = getattr(self.gateway, "trading", None)
        if feed is None:
            raise ProtocolError("account topics need the trading engine, which is not running")
        return feed

    def handle(self, command: C.CurrentCommand) -> None:
        """Apply an account command. Raises ProtocolError/NotFoundError for the client."""
        if isinstance(command, C.Unsubscribe):
            self._unsubscribe(command)
            return
        self._listen()
        if isinstance(command, C.SubscribeOrders):
            self.orders = tuple(f.lower() for f in command.filters)
        elif isinstance(command, C.SubscribeTrades):
            self._subscribe_trades(command)
        elif isinstance(command, C.SubscribePnl):
            self.pnl = True
            self._send_pnl()
        elif isinstance(command, C.SubscribeSummary):
            self.summary[self._account(command.account)] = command.keys
            self._send_summary(command.account)
        elif isinstance(command, C.SubscribeLedger):
            self.ledger[self._account(command.account)] = command.keys
            self._send_ledger(command.account)

    def _account(self, account: str) -> str:
        self.feed.portfolio(account)  # raises NotFoundError for an account we do not hold
        return account

    def _listen(self) -> None:
        if not self._listening:
            self.feed.add_listener(self.on_event)
            self._listening = True

    def _unsubscribe(self, command: C.Unsubscribe) -> None:
        if command.topic == "or":
            self.orders = None
        elif command.topic == "tr":
            self.trades = False
        elif command.topic == "pl":
            self.pnl = False
        elif command.topic == "sd":
            self.summary.pop(command.account or "", None)
            self.send(frames.UNSUBSCRIBED_SUMMARY)
        elif command.topic == "ld":
            self.ledger.pop(command.account or "", None)
            self.send(frames.UNSUBSCRIBED_LEDGER)

    def _subscribe_trades(self, command: C.SubscribeTrades) -> None:
        self.trades = True
        self.send(frames.encode_trades([]))  # the real server's first frame (rule 13)
        if command.realtime_updates_only:
            return
        since = self.gateway.clock.now_ns() - command.days * DAY_NS
        rows = [self._trade_row(fill) for fill in self.feed.fills(None, since_ns=since)]
        if rows:
            self.send(frames.encode_trades(rows))

    def _trade_row(self, fill: Fill) -> dict[str, Any]:
        instrument = self.gateway.catalogue.find(fill.conid)
        if instrument is None:
            raise NotFoundError(f"unknown conid {fill.conid}")
        return wire.trade_row(fill, instrument)

    def _send_pnl(self) -> None:
        rows = {}
        for account in self.gateway.account_ids:
            rows[f"{account}.Core"] = wire.pnl_row(pnl_event(self.feed.portfolio(account)))
        self.send(frames.encode_pnl(rows))

    def _send_summary(self, account: str) -> None:
        entries = summary_entries(
            self.feed.portfolio(account), self.summary[account], self.gateway.clock.now_ns()
        )
        self.send(frames.encode_summary(account, entries))

    def _send_ledger(self, account: str) -> None:
        entries = ledger_entries(
            self.feed.portfolio(account), self.ledger[account], self.gateway.clock.now_ns()
        )
        self.send(frames.encode_ledger(account, entries))

    def on_event(self, event: TradingEvent) -> None:
        """Forward one trading event to the topics this connection subscribed to."""
        if isinstance(event, OrderAccepted | OrderUpdated | OrderFilled):
            self._order_event(event)
        if isinstance(event, OrderFilled) and self.trades:
            self.send(frames.encode_trades([self._trade_row(event.fill)]))
        if isinstance(event, PnlChanged):
            if self.pnl:
                self.send(frames.encode_pnl({f"{event.account}.Core": wire.pnl_row(event)}))
            if event.account in self.summary:
                self._send_summary(event.account)
            if event.account in self.ledger:
                self._send_ledger(event.account)

    def _order_event(self, event: OrderAccepted | OrderUpdated | OrderFilled) -> None:
        if self.orders is None:
            return
        order = event.order
        if self.orders and order.status.value.lower() not in self.orders:
            return
        instrument = self.gateway.catalogue.find(order.conid)
        if instrument is not None:
            self.send(frames.encode_orders([wire.order_row(order, instrument)]))

    def close(self) -> None:
        """Stop listening to the trading engine."""
        if self._listening:
            self.feed.remove_listener(self.on_event)
            self._listening = False
