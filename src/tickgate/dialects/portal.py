"""The portal dialect on `/v1/portal/ws`: `s+md+CONID+{...}`, `u+md+CONID`, account data."""

from __future__ import annotations

import itertools

from tickgate.dialects.account_frames import portal_day_frames, portal_pnl, portal_renderer
from tickgate.dialects.base import DialectSession, describe_bad_command
from tickgate.dialects.brokerage import NOT_AUTHENTICATED, StatusChange
from tickgate.dialects.budgets import session_lines_refusal
from tickgate.dialects.context import DialectContext, Now
from tickgate.errors import ProtocolError
from tickgate.model.instruments import invalid_conid
from tickgate.protocol import fields as F
from tickgate.protocol import portal
from tickgate.streaming.backlog import frame_budget
from tickgate.streaming.outbox import Outbox

DIALECT = "portal"
#: Without `fields`, a subscription streams every field the market knows for the conid.
ALL_FIELDS: tuple[int, ...] = tuple(sorted(F.KNOWN_FIELDS))


class PortalDialect(DialectSession):
    """One connection's commands in the portal grammar. Has no timers."""

    def __init__(self, context: DialectContext, outbox: Outbox, *, peer: str, now: Now) -> None:
        super().__init__(context, outbox, peer=peer, now=now)
        self._watching = False

    def opened(self, now: Now) -> None:
        """The portal dialect sends nothing until asked; it only listens to the session."""
        self.context.brokerage.watch(self)
        self._watching = True

    @property
    def hears_status(self) -> bool:
        return self._watching

    def on_status_change(self, change: StatusChange) -> None:
        """A logout ends market data (it needs the brokerage session) and says so with an
        error frame. Any other change (a relay's upstream, a competing session, a login) is an
        `sts` frame as the api dialect sends it (this dialect has none of its own); streams
        stay and resume."""
        if change.login is False:
            for subscription in self.context.hub.subscriptions_of(self.outbox, DIALECT):
                self.context.hub.unsubscribe_market(self.outbox, subscription.conid, DIALECT)
            self.error(NOT_AUTHENTICATED, None)
            return
        status = change.status
        args = {"authenticated": status.authenticated, "competing": status.competing}
        self.send(portal.encode_topic_payload("sts", {"args": args}))

    def error(self, message: str, topic: str | None) -> None:
        self.send(portal.encode_error(message, topic))

    def stream_refused(self, conid: int, message: str) -> None:
        if self.context.hub.unsubscribe_market(self.outbox, conid, DIALECT):
            self.error(message, f"md+{conid}")

    def handle(self, text: str, now: Now) -> None:
        try:
            command = portal.parse(text)
        except ProtocolError as exc:
            self.notes.note("bad command", describe_bad_command(text, exc))
            self.error(exc.message, exc.topic)
            return
        if isinstance(command, portal.SubscribeMarketData):
            self._subscribe(command)
        elif isinstance(command, portal.UnsubscribeMarketData):
            self._unsubscribe(command.conid)
        elif isinstance(command, portal.SubscribeAccount | portal.UnsubscribeAccount):
            self._account(command, now)

    def _subscribe(self, command: portal.SubscribeMarketData) -> None:
        topic = f"md+{command.conid}"
        refusal = self._refusal(command.conid)
        if refusal is not None:
            self.notes.note("refused command", refusal)
            self.error(refusal, topic)
            return
        # The portal dialect has no login of its own: a socket whose subscription the session
        # accepted is in use by a real client, and gets the normal message limit.
        self.established()
        self.context.hub.subscribe_market(
            self.outbox,
            command.conid,
            command.fields or ALL_FIELDS,
            tempo_ms=command.tempo_ms,
            snapshot=command.snapshot,
            dialect=DIALECT,
            encoder=portal.encode_market,
        )

    def _refusal(self, conid: int) -> str | None:
        context = self.context
        if not context.brokerage.authenticated:
            return NOT_AUTHENTICATED
        if context.config.require_priming and not context.brokerage.primed:
            return "streaming needs a primed session: call GET /iserver/accounts first"
        if context.catalogue.find(conid) is None:
            return invalid_conid(conid)
        hub = context.hub
        if hub.subscription(self.outbox, conid, DIALECT) is not None:
            return None  # a resubscription takes no new line
        refusal = self.budgets.md_line_refusal(len(hub.subscriptions_of(self.outbox, DIALECT)))
        if refusal is not None:
            return refusal
        if hub.would_exceed_lines(conid, context.config.md_lines):
            return session_lines_refusal(context.config)
        return None

    def _unsubscribe(self, conid: int) -> None:
        if not self.context.hub.unsubscribe_market(self.outbox, conid, DIALECT):
            self.error(f"not subscribed to md+{conid}", f"md+{conid}")

    def _account(
        self, command: portal.SubscribeAccount | portal.UnsubscribeAccount, now: Now
    ) -> None:
        account = command.account
        topic = f"{portal.ACCOUNT}+{account}"
        key = (DIALECT, account)
        streams = self.context.accounts
        if isinstance(command, portal.UnsubscribeAccount):
            if not streams.unsubscribe(key, self.outbox):
                self.error(f"not subscribed to {topic}", topic)
            return
        views = self.context.views
        if account not in views.accounts():
            self.error(f"unknown account {account}; accounts: {', '.join(views.accounts())}", topic)
            return
        # Each subscription renders the whole day's orders: budgeted per connection.
        refusal = self.budgets.account_refusal(now.monotonic_ns)
        if refusal is not None:
            self.notes.note("refused command", refusal)
            self.error(refusal, topic)
            return
        self.established()
        # The current day's orders first (filled, cancelled and working; in frames that fit
        # the outbox), the P&L, then every change after them.
        catalogue = self.context.catalogue
        orders = views.todays_orders(account)
        day = portal_day_frames(catalogue, account, orders, max_bytes=frame_budget(self.outbox))
        backlog = streams.subscribe(
            key,
            self.outbox,
            portal_renderer(catalogue, account),
            snapshot=itertools.chain(day, [portal_pnl(account, views.pnl_event(account))]),
        )
        if backlog is not None:
            self.deliver(backlog)

    def closed(self) -> None:
        if self._watching:
            self.context.brokerage.unwatch(self)
            self._watching = False
        self.context.hub.drop(self.outbox)
        self.context.accounts.drop(self.outbox)
