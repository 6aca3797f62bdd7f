"""The seed's dialect on `/v1/portal/ws`: `s+md+CONID+{...}`, `u+md+CONID`, account data."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from aiohttp import web

from tickgate.errors import ProtocolError
from tickgate.model.instruments import invalid_conid
from tickgate.protocol import fields as F
from tickgate.protocol import legacy
from tickgate.protocol.rest import accounts as account_shapes
from tickgate.server.gateway import gateway_of
from tickgate.server.session import NOT_AUTHENTICATED
from tickgate.server.ws import Connection, serve_websocket
from tickgate.streaming.accounts import Renderer
from tickgate.streaming.backlog import chunked_frames, frame_budget
from tickgate.trading.engine import TradingEngine
from tickgate.trading.events import (
    OrderAccepted,
    OrderFilled,
    OrderUpdated,
    PnlChanged,
    TradingEvent,
)

DIALECT = "legacy"
#: Without `fields`, a subscription streams every field the market knows for the conid.
ALL_FIELDS: tuple[int, ...] = tuple(sorted(F.KNOWN_FIELDS))


class LegacyDialect:
    """Handles one connection's commands in the seed's grammar."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.gateway = connection.gateway
        self.md_conids: set[int] = set()
        self._forget_status: Callable[[], None] | None = None

    def opened(self) -> None:
        """The seed's dialect sends nothing until asked; it only listens for logouts."""
        self._forget_status = self.gateway.session.add_status_listener(self._on_status)

    def _on_status(self, authenticated: bool) -> None:
        """A logout ends market data (it needs the brokerage session) and says so."""
        if authenticated:
            return
        for conid in list(self.md_conids):
            self._unsubscribe(conid)
        self.error(NOT_AUTHENTICATED, None)

    def error(self, message: str, topic: str | None) -> None:
        self.connection.send(legacy.encode_error(message, topic))

    def handle(self, text: str) -> None:
        try:
            command = legacy.parse(text)
        except ProtocolError as exc:
            self.connection.note("bad command", exc.message)
            self.error(exc.message, exc.topic)
            return
        if isinstance(command, legacy.SubscribeMarketData):
            self._subscribe(command)
        elif isinstance(command, legacy.UnsubscribeMarketData):
            self._unsubscribe(command.conid)
        elif isinstance(command, legacy.SubscribeAccount | legacy.UnsubscribeAccount):
            self._account(command)

    def _subscribe(self, command: legacy.SubscribeMarketData) -> None:
        topic = f"md+{command.conid}"
        refusal = self._refusal(command.conid)
        if refusal is not None:
            self.connection.note("refused command", refusal)
            self.error(refusal, topic)
            return
        # The seed's dialect has no login of its own: a socket whose subscription the session
        # accepted is in use by a real client, and gets the normal message limit.
        self.connection.established()
        self.md_conids.add(command.conid)
        self.gateway.hub.subscribe_market(
            self.connection.outbox,
            command.conid,
            command.fields or ALL_FIELDS,
            tempo_ms=command.tempo_ms,
            snapshot=command.snapshot,
            dialect=DIALECT,
            encoder=legacy.encode_market,
        )

    def _refusal(self, conid: int) -> str | None:
        gateway = self.gateway
        if not gateway.session.authenticated:
            return NOT_AUTHENTICATED
        if gateway.config.require_priming and not gateway.session.primed:
            return "streaming needs a primed session: call GET /iserver/accounts first"
        if gateway.catalogue.find(conid) is None:
            return invalid_conid(conid)
        if conid not in self.md_conids:
            refusal = self.connection.budgets.md_line_refusal(len(self.md_conids))
            if refusal is not None:
                return refusal
        if conid not in self.md_conids and not gateway.session.acquire_line(self, conid):
            return (
                f"market data lines limit reached: at most {gateway.session.md_lines} "
                "concurrent md subscriptions; unsubscribe one first"
            )
        return None

    def _unsubscribe(self, conid: int) -> None:
        if conid not in self.md_conids:
            self.error(f"not subscribed to md+{conid}", f"md+{conid}")
            return
        self.md_conids.discard(conid)
        self.gateway.hub.unsubscribe_market(self.connection.outbox, conid, DIALECT)
        self.gateway.session.release_line(self, conid)

    def _account(self, command: legacy.SubscribeAccount | legacy.UnsubscribeAccount) -> None:
        account = command.account
        topic = f"{legacy.ACCOUNT}+{account}"
        key = (DIALECT, account)
        streams, outbox = self.gateway.accounts, self.connection.outbox
        if isinstance(command, legacy.UnsubscribeAccount):
            if not streams.unsubscribe(key, outbox):
                self.error(f"not subscribed to {topic}", topic)
            return
        trading = self.gateway.trading
        if account not in trading.accounts():
            self.error(
                f"unknown account {account}; accounts: {', '.join(trading.accounts())}", topic
            )
            return
        # Each subscription renders the whole day's orders: budgeted per connection.
        refusal = self.connection.budgets.account_refusal(self.gateway.clock.monotonic_ns())
        if refusal is not None:
            self.connection.note("refused command", refusal)
            self.error(refusal, topic)
            return
        self.connection.established()
        # The current day's orders first (filled, cancelled and working; in frames that fit
        # the outbox), the P&L, then every change after them.
        backlog = streams.subscribe(
            key,
            outbox,
            account_renderer(trading, account),
            snapshot=itertools.chain(
                day_order_frames(trading, account, max_bytes=frame_budget(outbox)),
                [render_pnl(account, trading.pnl_event(account))],
            ),
        )
        if backlog is not None:
            self.connection.deliver(backlog)

    def closed(self) -> None:
        if self._forget_status is not None:
            self._forget_status()
        self.gateway.hub.drop(self.connection.outbox)
        self.gateway.accounts.drop(self.connection.outbox)
        for conid in self.md_conids:
            self.gateway.session.release_line(self, conid)
        self.md_conids.clear()


def day_order_frames(trading: TradingEngine, account: str, *, max_bytes: int) -> Iterator[bytes]:
    """The account's orders of the day as of now, oldest first, in `{"orders":[...]}` frames
    of at most `max_bytes` (rendered lazily; orders are immutable snapshots). One empty frame
    on a day without orders, as the seed's first account frame always comes."""
    orders = trading.todays_orders(account)
    if not orders:
        return iter([legacy.encode_account_orders(account, [])])
    return chunked_frames(
        orders,
        lambda batch: legacy.encode_account_orders(account, trading.order_rows(batch)),
        max_bytes=max_bytes,
    )


def render_pnl(account: str, event: PnlChanged) -> bytes:
    """`{"pnl":{"ACCT.Core":{rowType,dpl,nl,upl,el,uel,mv}},"topic":"realtime-account-data+ACCT"}`."""
    return legacy.encode_topic_payload(
        f"{legacy.ACCOUNT}+{account}", {"pnl": {f"{account}.Core": account_shapes.pnl_row(event)}}
    )


def account_renderer(trading: TradingEngine, account: str) -> Renderer:
    """Renders the account's order changes and P&L for `realtime-account-data+ACCT`."""

    def render(event: TradingEvent) -> bytes | None:
        if isinstance(event, PnlChanged):
            return render_pnl(account, event) if event.account == account else None
        if isinstance(event, OrderAccepted | OrderUpdated | OrderFilled) and (
            event.order.account == account
        ):
            return legacy.encode_account_orders(account, trading.order_rows([event.order]))
        return None

    return render


async def handler(request: web.Request) -> web.WebSocketResponse:
    """`GET /v1/portal/ws`."""
    return await serve_websocket(request, gateway_of(request), LegacyDialect)
