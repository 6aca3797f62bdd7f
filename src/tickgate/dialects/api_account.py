"""Account topics of the api dialect: `sor`, `str`, `spl`, `ssd`, `sld` (reference §5.4-§5.8).

A subscribe's answer reads the gateway's `TradingEngine` (it answers a request); after it, the
frames come from the engine's events alone, shared through the gateway's `AccountStreams`
(see `account_frames`), so each event is rendered once per topic and P&L-driven frames
(`spl`, `ssd`, `sld`) go out at most once a second. Frames follow what ibind waits for: `spl`
and `str` answer at once (rules 12, 13), `ssd` entries all carry `key`/`timestamp` and `AccountCode`
(rule 14), `sld` entries carry `acctCode` (rule 15), `usd`/`uld` are confirmed (rule 16) when
they end a subscription of this connection, else answered with an error frame.
`sor` sends no initial snapshot, as the real server; `uor`/`utr`/`upl` get no reply (rule 20).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable
from typing import Any

from tickgate.clock import NS_PER_DAY, NS_PER_S
from tickgate.dialects.account_frames import (
    NOTICES_TOPIC,
    api_notices_renderer,
    api_orders_renderer,
    api_pnl,
    api_trades_renderer,
    trade_rows,
)
from tickgate.dialects.base import DialectSession
from tickgate.dialects.context import Now
from tickgate.protocol.api import frames
from tickgate.protocol.api import grammar as C
from tickgate.protocol.rest import accounts as account_shapes
from tickgate.protocol.rest.accounts import AccountFigures
from tickgate.streaming.accounts import Renderer
from tickgate.streaming.backlog import chunked_frames, frame_budget
from tickgate.trading.events import (
    PnlChanged,
    TradingEvent,
)


def summary_entries(
    portfolio: AccountFigures, keys: tuple[str, ...], now_ns: int
) -> list[dict[str, Any]]:
    """`ssd` entries: `AccountCode` first, then monetary keys with and without `-S` (segment)."""
    ts, ccy = now_ns // NS_PER_S, portfolio.config.base_currency
    figures = account_shapes.summary_figures(portfolio)
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
    portfolio: AccountFigures, keys: tuple[str, ...], now_ns: int
) -> list[dict[str, Any]]:
    """`sld` entries (`LedgerListBASE`, `LedgerList<CCY>`), each with `acctCode` and `key`."""
    entries = []
    for second_key, row in account_shapes.ledger(portfolio, now_ns).items():
        key = f"LedgerList{second_key}"
        if keys and key not in keys:
            continue
        entry = {"acctCode": row["acctcode"], "key": key, "secondKey": second_key}
        entry.update(
            {
                _LEDGER_NAMES.get(name, name): value
                for name, value in row.items()
                if name not in ("acctcode", "key", "secondkey")
            }
        )
        entries.append(entry)
    return entries


#: REST ledger keys are lower case; the `sld` stream spells them as reference §5.8 shows.
_LEDGER_NAMES = {
    "settledcash": "settledCash",
    "netliquidationvalue": "netLiquidationValue",
    "unrealizedpnl": "unrealizedPnl",
    "realizedpnl": "realizedPnl",
    "stockmarketvalue": "stockMarketValue",
    "exchangerate": "exchangeRate",
}
#: Entry members every `ssd`/`sld` entry keeps whatever `fields` asks (ibind needs them).
_ALWAYS = frozenset({"key", "timestamp", "acctCode"})


def only_fields(entries: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Entries cut to the requested `fields` (case-insensitive) plus key, timestamp, acctCode;
    all members when `fields` is empty."""
    if not fields:
        return entries
    wanted = {f.lower() for f in fields}
    return [
        {k: v for k, v in entry.items() if k in _ALWAYS or k.lower() in wanted} for entry in entries
    ]


class AccountTopics:
    """One connection's account subscriptions on the api dialect."""

    def __init__(self, session: DialectSession) -> None:
        self.session = session
        self.context = session.context
        self.views = session.context.views
        self.catalogue = session.context.catalogue
        self.keys: dict[str, Hashable] = {}

    def handle(self, command: C.ApiCommand, now: Now) -> None:
        """Apply an account command. Raises NotFoundError for an account we do not hold."""
        if isinstance(command, C.Unsubscribe):
            self._unsubscribe(command)
        elif isinstance(command, C.SubscribeOrders):
            filters = tuple(sorted(f.lower() for f in command.filters))
            self._subscribe("or", ("sor", filters), api_orders_renderer(self.catalogue, filters))
        elif isinstance(command, C.SubscribeTrades):
            self._subscribe_trades(command, now)
        elif isinstance(command, C.SubscribePnl):
            self._subscribe("pl", ("spl",), api_pnl)
            self.session.send(self._pnl_frame(self.views.accounts()))
        elif isinstance(command, C.SubscribeSummary | C.SubscribeLedger):
            self._subscribe_account_view(command)

    def _subscribe(
        self,
        topic: str,
        key: Hashable,
        renderer: Renderer,
        *,
        snapshot: Iterable[bytes] | None = None,
    ) -> None:
        old = self.keys.get(topic)
        if old is not None and old != key:
            self.context.accounts.unsubscribe(old, self.session.outbox)
        self.keys[topic] = key
        backlog = self.context.accounts.subscribe(
            key, self.session.outbox, renderer, snapshot=snapshot
        )
        if backlog is not None:
            self.session.deliver(backlog)

    def _unsubscribe(self, command: C.Unsubscribe) -> None:
        topic = (
            command.topic
            if command.topic in ("or", "tr", "pl")
            else f"{command.topic}+{command.account}"
        )
        key = self.keys.pop(topic, None)
        if key is not None:
            self.context.accounts.unsubscribe(key, self.session.outbox)
        elif command.topic in ("sd", "ld"):
            # Only these two are confirmed; confirming what never existed would mislead.
            self.session.send(frames.encode_error(f"not subscribed to s{topic}", f"u{topic}"))
            return
        if command.topic == "sd":
            self.session.send(frames.UNSUBSCRIBED_SUMMARY)
        elif command.topic == "ld":
            self.session.send(frames.UNSUBSCRIBED_LEDGER)

    def _subscribe_trades(self, command: C.SubscribeTrades, now: Now) -> None:
        # As the real server: an empty `str` frame at once (rule 13), then the executions of
        # the last `days` as further `str` frames (in pieces that fit the outbox), then live.
        first = [frames.encode_trades([])]
        if command.realtime_updates_only:
            self._subscribe("tr", ("str",), api_trades_renderer(self.catalogue), snapshot=first)
            return
        since = now.wall_ns - command.days * NS_PER_DAY
        fills = self.views.fills_since(since)
        history = chunked_frames(
            fills,
            lambda batch: frames.encode_trades(trade_rows(self.catalogue, batch)),
            max_bytes=frame_budget(self.session.outbox),
        )
        self._subscribe(
            "tr",
            ("str",),
            api_trades_renderer(self.catalogue),
            snapshot=itertools.chain(first, history),
        )

    def _subscribe_account_view(self, command: C.SubscribeSummary | C.SubscribeLedger) -> None:
        account = command.account
        # The first frame answers a request, so it asks the engine for the figures now
        # (NotFoundError for an unknown account); later frames come from the events alone.
        current = self.views.pnl_event(account)
        summary = isinstance(command, C.SubscribeSummary)
        name = "sd" if summary else "ld"
        render = self._summary_frame if summary else self._ledger_frame
        keys, fields = command.keys, command.fields

        def on_event(event: TradingEvent) -> bytes | None:
            if isinstance(event, PnlChanged) and event.account == account:
                return render(event, keys, fields)
            return None

        self._subscribe(f"{name}+{account}", (f"s{name}", account, keys, fields), on_event)
        self.session.send(render(current, keys, fields))

    def _summary_frame(
        self, portfolio: AccountFigures, keys: tuple[str, ...], fields: tuple[str, ...]
    ) -> bytes:
        entries = summary_entries(portfolio, keys, self.context.clock.now_ns())
        return frames.encode_summary(portfolio.config.account_id, only_fields(entries, fields))

    def _ledger_frame(
        self, portfolio: AccountFigures, keys: tuple[str, ...], fields: tuple[str, ...]
    ) -> bytes:
        entries = ledger_entries(portfolio, keys, self.context.clock.now_ns())
        return frames.encode_ledger(portfolio.config.account_id, only_fields(entries, fields))

    def _pnl_frame(self, accounts: list[str]) -> bytes:
        # A subscribe's answer: a request, so it may ask the engine; the event path never does.
        views = self.views
        rows = {f"{a}.Core": account_shapes.pnl_row(views.pnl_event(a)) for a in accounts}
        return frames.encode_pnl(rows)

    def notices(self) -> None:
        """Unsolicited frames every authenticated socket gets: `ntf` for each fill and each
        alert firing, and a `blt` bulletin when the simulated session closes."""
        self.context.accounts.subscribe(
            NOTICES_TOPIC, self.session.outbox, api_notices_renderer(self.catalogue)
        )

    def close(self) -> None:
        """The connection is gone: leave every account topic."""
        self.context.accounts.drop(self.session.outbox)
        self.keys.clear()
