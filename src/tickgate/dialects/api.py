"""The api dialect on `/v1/api/ws` (protocol reference §3.3-§5) as a sans-I/O session.

Per connection: cookie (or `{"session":..}`) authentication within a deadline, the connect
burst, a heartbeat, `smd` streams through the hub (full frame on every `smd`, then changes at
most every 500 ms) with server-side expiry, `smh` bars (computed off the event loop through an
`Offload` effect), `sbd` ladders refreshed every second, `tic`, `ech` and the account topics
(`api_account`). Its timers are deadlines the pump asks for (`next_deadline_ns`). Everything a
connection holds is released when it closes; subscriptions never survive a reconnect (rule 21).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from tickgate.clock import NS_PER_MS, NS_PER_S
from tickgate.config import Config
from tickgate.dialects.api_account import AccountTopics
from tickgate.dialects.base import DialectSession, describe_bad_command
from tickgate.dialects.brokerage import (
    NOT_AUTHENTICATED,
    SERVER_NAME,
    USERNAME,
    SessionStatus,
    StatusChange,
)
from tickgate.dialects.budgets import session_lines_refusal
from tickgate.dialects.context import DialectContext, Now
from tickgate.dialects.effects import Close, Offload
from tickgate.errors import ProtocolError, TickgateError
from tickgate.market import depth
from tickgate.market.history.payload import smh_payload
from tickgate.market.history.query import default_bar, parse_period
from tickgate.model.instruments import invalid_conid
from tickgate.protocol import fields as F
from tickgate.protocol.api import frames
from tickgate.protocol.api import grammar as C
from tickgate.streaming.outbox import Outbox

log = logging.getLogger("tickgate.ws.api")

DIALECT = "api"
TEMPO_MS = 500
MAX_HISTORY = 5
DEFAULT_HISTORY_PERIOD = "1d"
DEPTH_NS = NS_PER_S
POLICY_VIOLATION = 1008
AUTHENTICATION_HINT = 'send {"session":"<id from /tickle>"} or the api cookie'
_md_encoder = functools.partial(frames.encode_market, server_id=frames.DEFAULT_SERVER_ID)


def smd_tempo_ms(config: Config) -> int:
    """How `smd` streams are paced: changes at most every `TEMPO_MS`, as the real gateway
    sends them, except behind a relay. Its upstream paces them already, and pacing them again
    on this gateway's own grid would hold each relayed frame for up to another tempo (about
    250 ms on average); unpaced, a relay forwards each upstream frame as it comes."""
    return 0 if config.source == "relay" else TEMPO_MS


class ApiDialect(DialectSession):
    """One connection's commands in the api grammar; `cookie` is the upgrade's `api` cookie."""

    def __init__(
        self,
        context: DialectContext,
        outbox: Outbox,
        *,
        peer: str,
        now: Now,
        cookie: str | None = None,
    ) -> None:
        super().__init__(context, outbox, peer=peer, now=now)
        self.cookie = cookie
        self.authenticated = False
        self.history: dict[str, int] = {}
        self.depth: dict[str, tuple[int, str | None]] = {}
        self.accounts = AccountTopics(self)
        self._watching = False
        self._authentication_due: int | None = None
        self._heartbeat_due: int | None = None
        self._depth_due: int | None = None
        #: While set, a stalled heartbeat (an injected fault) until this monotonic time.
        self._stalled_until: int | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def opened(self, now: Now) -> None:
        """Authenticate from the `api` cookie, or ask for the session (§3.3) and close the
        socket if it does not come within `request_timeout_seconds`."""
        if self.context.brokerage.matches_cookie(self.cookie):
            self._authenticated(now)
        else:
            self.send(frames.WAITING_FOR_SESSION)
            timeout = self.context.config.request_timeout_seconds
            self._authentication_due = now.monotonic_ns + int(timeout * NS_PER_S)

    def _authenticated(self, now: Now) -> None:
        self.authenticated = True
        self._authentication_due = None
        self.established()
        brokerage = self.context.brokerage
        self.send(frames.encode_system_success(USERNAME))
        self.send(frames.encode_account(self.context.accounts_payload()))
        self._send_status(brokerage.status())
        self._heartbeat(now)
        brokerage.watch(self)
        self._watching = True
        self.accounts.notices()

    def _send_status(self, status: SessionStatus) -> None:
        self.send(
            frames.encode_status(
                authenticated=status.authenticated,
                competing=status.competing,
                server_name=SERVER_NAME,
                username=USERNAME,
            )
        )

    def on_status_change(self, change: StatusChange) -> None:
        """The brokerage session changed: say so (rule 22). A logout ends md streams; any
        other change (a relay's upstream, a competing session) ends nothing: they resume."""
        if change.login is False:  # md and depth need the brokerage session (reference §3.2)
            for subscription in self.context.hub.subscriptions_of(self.outbox, DIALECT):
                self._unsubscribe_md(subscription.conid)
            self.depth.clear()
        if self._stalled_until is None:
            self._send_status(change.status)

    def error(self, message: str, topic: str | None) -> None:
        self.send(frames.encode_error(message, topic))

    def stall_heartbeat(self, until_ns: int | None) -> None:
        self._stalled_until = until_ns

    def _stalled(self, now: Now) -> bool:
        return self._stalled_until is not None and now.monotonic_ns < self._stalled_until

    @property
    def hears_status(self) -> bool:
        return self._watching

    def closed(self) -> None:
        if self._watching:
            self.context.brokerage.unwatch(self)
            self._watching = False
        self.context.hub.drop(self.outbox)
        self.accounts.close()

    # --- timers ----------------------------------------------------------------------------------
    def next_deadline_ns(self) -> int | None:
        due = [
            d
            for d in (
                self._authentication_due,
                self._heartbeat_due,
                self._depth_due,
                self._stalled_until,
                self.context.hub.next_expiry_ns(self.outbox, DIALECT),
            )
            if d is not None
        ]
        return min(due) if due else None

    def on_timer(self, now: Now) -> None:
        at = now.monotonic_ns
        if self._stalled_until is not None and self._stalled_until <= at:
            self._stalled_until = None
        if self._authentication_due is not None and self._authentication_due <= at:
            self._authentication_due = None
            self._authentication_timeout()
        if self._heartbeat_due is not None and self._heartbeat_due <= at:
            self._heartbeat(now)
        if self._depth_due is not None and self._depth_due <= at:
            self._refresh_depth(now)
        expiry = self.context.config.smd_expiry_seconds
        for conid in self.context.hub.expire(self.outbox, DIALECT, at):
            log.info("smd+%d expired after %d s without renewal", conid, expiry)

    def _authentication_timeout(self) -> None:
        seconds = self.context.config.request_timeout_seconds
        self.notes.note("authentication timeout", f"not authenticated within {seconds:g} s")
        self._effect(
            Close(
                POLICY_VIOLATION, f"not authenticated within {seconds:g} s; {AUTHENTICATION_HINT}"
            )
        )

    def _heartbeat(self, now: Now) -> None:
        """`{"topic":"system","hb":EPOCH_MS}` now and every `heartbeat_seconds` (rule 6); none
        while the heartbeat is stalled. The time is the machine's (`host_ns`), not a shifted
        or replayed one: clients such as ibind treat a heartbeat far from their own clock as
        a dead connection."""
        if not self._stalled(now):
            self.send(frames.encode_heartbeat(now.host_ns // NS_PER_MS))
        interval = int(self.context.config.heartbeat_seconds * NS_PER_S)
        self._heartbeat_due = now.monotonic_ns + interval

    # --- commands --------------------------------------------------------------------------------
    def handle(self, text: str, now: Now) -> None:
        try:
            command = C.parse(text)
        except ProtocolError as exc:
            self.notes.note("bad command", describe_bad_command(text, exc))
            self.error(exc.message, exc.topic)
            return
        if isinstance(command, C.Ignore):
            self.notes.note("ignored JSON message", "not a session message")
        elif isinstance(command, C.Authenticate):
            self._authenticate(command.session, now)
        elif not self.authenticated:
            self.send(frames.WAITING_FOR_SESSION)
        elif isinstance(command, C.Echo):
            self.send(command.text.encode())
        else:
            try:
                self._dispatch(command, now)
            except TickgateError as exc:
                self.notes.note("refused command", str(exc))
                self.error(str(exc), None)

    def _authenticate(self, session: str, now: Now) -> None:
        if self.authenticated:
            return
        if session != self.context.brokerage.id:
            self.send(frames.WAITING_FOR_SESSION)
            return
        self._authenticated(now)

    def _dispatch(self, command: C.ApiCommand, now: Now) -> None:
        if isinstance(command, C.Tickle):
            if self._stalled(now):
                return  # a stalled session answers no tic
            brokerage = self.context.brokerage
            self.send(frames.encode_tic(brokerage.id, brokerage.touch()))
        elif isinstance(command, C.SubscribeMarketData):
            self._subscribe_md(command, now)
        elif isinstance(command, C.UnsubscribeMarketData):
            self._unsubscribe_md(command.conid)
        elif isinstance(command, C.SubscribeHistory):
            self._history(command)
        elif isinstance(command, C.UnsubscribeHistory):
            self._unsubscribe_history(command.server_id)
        elif isinstance(command, C.SubscribeDepth):
            self._subscribe_depth(command, now)
        elif isinstance(command, C.UnsubscribeDepth):
            self.depth.pop(command.account, None)
            if not self.depth:
                self._depth_due = None
        elif isinstance(command, C.Unsubscribe):
            self.accounts.handle(command, now)
        else:
            refusal = self.budgets.account_refusal(now.monotonic_ns)
            if refusal is not None:
                self.notes.note("refused command", refusal)
                self.error(refusal, None)
                return
            self.accounts.handle(command, now)

    # --- smd / umd -------------------------------------------------------------------------------
    def _subscribe_md(self, command: C.SubscribeMarketData, now: Now) -> None:
        conid, topic = command.conid, f"smd+{command.conid}"
        context, hub = self.context, self.context.hub
        if not context.brokerage.authenticated:
            self.error(NOT_AUTHENTICATED, topic)
            return
        if not context.market.knows(conid):
            self.error(invalid_conid(conid), topic)
            return
        current = hub.subscription(self.outbox, conid, DIALECT)
        if current is None:
            held = len(hub.subscriptions_of(self.outbox, DIALECT))
            refusal = self.budgets.md_line_refusal(held)
            if refusal is not None:
                self.notes.note("refused command", refusal)
                self.error(refusal, topic)
                return
            if hub.would_exceed_lines(conid, context.config.md_lines):
                self.error(session_lines_refusal(context.config), topic)
                return
        # Resending smd adds fields and re-emits a full frame (rules 10, 11).
        wanted = command.fields or F.DEFAULT_FIELDS
        fields = tuple(dict.fromkeys((current.fields if current else ()) + wanted))
        expiry = context.config.smd_expiry_seconds
        hub.subscribe_market(
            self.outbox,
            conid,
            fields,
            tempo_ms=smd_tempo_ms(context.config),
            snapshot=True,
            dialect=DIALECT,
            encoder=_md_encoder,
            expires_ns=now.monotonic_ns + expiry * NS_PER_S if expiry > 0 else None,
        )

    def stream_refused(self, conid: int, message: str) -> None:
        if self.context.hub.unsubscribe_market(self.outbox, conid, DIALECT):
            self.error(message, f"smd+{conid}")

    def _unsubscribe_md(self, conid: int) -> None:
        # umd gets no reply, not even for a conid that is not streaming
        self.context.hub.unsubscribe_market(self.outbox, conid, DIALECT)

    # --- smh / umh -------------------------------------------------------------------------------
    def _history(self, command: C.SubscribeHistory) -> None:
        """One frame of bars (defaults: 1 day of the period's default bar, trades)."""
        topic = f"smh+{command.conid}"
        instrument = self.context.catalogue.find(command.conid)
        if instrument is None:
            self.error(invalid_conid(command.conid), topic)
            return
        if len(self.history) >= MAX_HISTORY:
            self.error(f"at most {MAX_HISTORY} concurrent smh requests; send umh first", topic)
            return
        period = command.period or DEFAULT_HISTORY_PERIOD
        bar = command.bar or default_bar(parse_period(period)).text
        compute = self.context.history.plan(
            command.conid,
            period=period,
            bar=bar,
            outside_rth=command.outside_rth,
            source=command.source or "trades",
        )
        server_id = str(next(self.context.smh_server_ids))
        self.history[server_id] = command.conid

        def work() -> dict[str, Any]:
            # Long windows take 100+ ms: computed off the event loop so streams keep flowing.
            return smh_payload(
                instrument,
                compute(),
                period=period,
                bar=bar,
                outside_rth=command.outside_rth,
                server_id=server_id,
            )

        def done(outcome: object) -> None:
            if isinstance(outcome, TickgateError):
                self.history.pop(server_id, None)
                self.error(str(outcome), topic)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                self.send(frames.encode_history(outcome))  # type: ignore[arg-type]

        self._effect(Offload(f"smh-{server_id}", work, done))

    def _unsubscribe_history(self, server_id: str) -> None:
        if self.history.pop(server_id, None) is None:
            self.error(f"no smh request {server_id} on this connection", f"umh+{server_id}")
            return
        self.send(frames.encode_unsubscribed_history(server_id))

    # --- sbd / ubd -------------------------------------------------------------------------------
    def _subscribe_depth(self, command: C.SubscribeDepth, now: Now) -> None:
        """A price ladder for one of the gateway's accounts, within the connection's budget."""
        account, topic = command.account, f"sbd+{command.account}+{command.conid}"
        if not self.context.brokerage.authenticated:
            self.error(NOT_AUTHENTICATED, topic)
            return
        accounts = self.context.views.accounts()
        if account not in accounts:
            self.error(f"unknown account {account}; accounts: {', '.join(accounts)}", topic)
            return
        refusal = None
        if account not in self.depth:
            refusal = self.budgets.depth_refusal(len(self.depth))
        if refusal is not None:
            self.notes.note("refused command", refusal)
            self.error(refusal, topic)
            return
        self.depth[account] = (command.conid, command.exchange)
        if self._depth_due is None:
            self._depth_due = now.monotonic_ns + DEPTH_NS
        self._send_depth(account)

    def _send_depth(self, account: str) -> None:
        conid, exchange = self.depth[account]
        market = self.context.market
        if not market.knows(conid):
            self.depth.pop(account, None)
            self.error(invalid_conid(conid), f"sbd+{account}+{conid}")
            return
        rows = depth.ladder(conid, market.snapshot(conid))
        self.send(frames.encode_depth(account, conid, exchange, rows))

    def _refresh_depth(self, now: Now) -> None:
        """Every ladder once a second while there are any."""
        for account in list(self.depth):
            self._send_depth(account)
        self._depth_due = now.monotonic_ns + DEPTH_NS if self.depth else None
