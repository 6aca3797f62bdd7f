"""Today's IBKR dialect on `/v1/api/ws` (protocol reference §3.3-§5), on the Connection shell.

Per connection: cookie (or `{"session":..}`) authentication, the connect burst, a wall-clock
heartbeat, `smd` streams through the hub (full frame on every `smd`, then changes at most every
500 ms) with server-side expiry, `smh` bars, `sbd` ladders, `tic`, `ech` and the account topics
(`ws_account`). Everything a connection holds is released when it closes; subscriptions never
survive a reconnect (rule 21).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from aiohttp import web

from tickgate.clock import NS_PER_MS, NS_PER_S
from tickgate.errors import ProtocolError, TickgateError
from tickgate.market import depth
from tickgate.market.history.payload import smh_payload
from tickgate.market.history.query import default_bar, parse_period
from tickgate.model.instruments import invalid_conid
from tickgate.protocol import current as C
from tickgate.protocol import current_frames as frames
from tickgate.protocol import fields as F
from tickgate.server.gateway import gateway_of
from tickgate.server.rest_session import accounts_payload
from tickgate.server.session import NOT_AUTHENTICATED, SERVER_NAME, USERNAME
from tickgate.server.ws import Connection, serve_websocket
from tickgate.server.ws_account import AccountTopics

log = logging.getLogger("tickgate.ws.current")

DIALECT = "current"
TEMPO_MS = 500
MAX_HISTORY = 5
DEFAULT_HISTORY_PERIOD = "1d"
DEPTH_SECONDS = 1.0
#: How often the expiry task looks at deadlines, at most (it is also bounded by the expiry).
EXPIRY_POLL_SECONDS = 0.25
AUTHENTICATION_HINT = 'send {"session":"<id from /tickle>"} or the api cookie'
_md_encoder = functools.partial(frames.encode_market, server_id=frames.DEFAULT_SERVER_ID)


class CurrentDialect:
    """Handles one connection's commands in today's grammar. Lives on the event loop."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.gateway = connection.gateway
        self.authenticated = False
        self.md: dict[int, tuple[int, ...]] = {}
        self.md_deadline_ns: dict[int, int] = {}
        self.history: dict[str, int] = {}
        self.depth: dict[str, tuple[int, str | None]] = {}
        self.accounts = AccountTopics(connection)
        self._forget_status: Callable[[], None] | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def opened(self) -> None:
        """Authenticate from the `api` cookie, or ask for the session (§3.3) and close the
        socket if it does not come within `request_timeout_seconds`."""
        if self.gateway.session.matches_cookie(self.connection.request.cookies.get("api")):
            self._authenticated()
        else:
            self.connection.send(frames.WAITING_FOR_SESSION)
            self.connection.authenticate_within(
                self.gateway.config.request_timeout_seconds, AUTHENTICATION_HINT
            )

    def _authenticated(self) -> None:
        self.authenticated = True
        self.connection.established()
        send = self.connection.send
        send(frames.encode_system_success(USERNAME))
        send(frames.encode_account(accounts_payload(self.gateway)))
        send(
            frames.encode_status(
                authenticated=self.gateway.session.authenticated,
                server_name=SERVER_NAME,
                username=USERNAME,
            )
        )
        self.connection.spawn(self._heartbeat, "heartbeat")
        self._forget_status = self.gateway.session.add_status_listener(self._on_status)
        self.accounts.notices()

    def _on_status(self, authenticated: bool) -> None:
        """The brokerage session logged in or out: say so (rule 22); a logout ends md streams."""
        if not authenticated:  # md and depth need the brokerage session (reference §3.2)
            for conid in list(self.md):
                self._unsubscribe_md(conid)
            self.depth.clear()
        self.connection.send(
            frames.encode_status(
                authenticated=authenticated, server_name=SERVER_NAME, username=USERNAME
            )
        )

    def error(self, message: str, topic: str | None) -> None:
        self.connection.send(frames.encode_error(message, topic))

    def closed(self) -> None:
        if self._forget_status is not None:
            self._forget_status()
        self.gateway.hub.drop(self.connection.outbox)
        for conid in self.md:
            self.gateway.session.release_line(self, conid)
        self.md.clear()
        self.md_deadline_ns.clear()
        self.accounts.close()

    # --- commands --------------------------------------------------------------------------------
    def handle(self, text: str) -> None:
        try:
            command = C.parse(text)
        except ProtocolError as exc:
            self.connection.note("bad command", exc.message)
            self.error(exc.message, exc.topic)
            return
        if isinstance(command, C.Ignore):
            self.connection.note("ignored JSON message", "not a session message")
        elif isinstance(command, C.Authenticate):
            self._authenticate(command.session)
        elif not self.authenticated:
            self.connection.send(frames.WAITING_FOR_SESSION)
        elif isinstance(command, C.Echo):
            self.connection.send(command.text.encode())
        else:
            try:
                self._dispatch(command)
            except TickgateError as exc:
                self.connection.note("refused command", str(exc))
                self.error(str(exc), None)

    def _authenticate(self, session: str) -> None:
        if self.authenticated:
            return
        if session != self.gateway.session.id:
            self.connection.send(frames.WAITING_FOR_SESSION)
            return
        self._authenticated()

    def _dispatch(self, command: C.CurrentCommand) -> None:
        if isinstance(command, C.Tickle):
            session = self.gateway.session
            self.connection.send(frames.encode_tic(session.id, session.touch()))
        elif isinstance(command, C.SubscribeMarketData):
            self._subscribe_md(command)
        elif isinstance(command, C.UnsubscribeMarketData):
            self._unsubscribe_md(command.conid)
        elif isinstance(command, C.SubscribeHistory):
            self._history(command)
        elif isinstance(command, C.UnsubscribeHistory):
            self._unsubscribe_history(command.server_id)
        elif isinstance(command, C.SubscribeDepth):
            self._subscribe_depth(command)
        elif isinstance(command, C.UnsubscribeDepth):
            self.depth.pop(command.account, None)
        elif isinstance(command, C.Unsubscribe):
            self.accounts.handle(command)
        else:
            refusal = self.connection.budgets.account_refusal(self.gateway.clock.monotonic_ns())
            if refusal is not None:
                self.connection.note("refused command", refusal)
                self.error(refusal, None)
                return
            self.accounts.handle(command)

    # --- smd / umd -------------------------------------------------------------------------------
    def _subscribe_md(self, command: C.SubscribeMarketData) -> None:
        conid, topic = command.conid, f"smd+{command.conid}"
        if not self.gateway.session.authenticated:
            self.error(NOT_AUTHENTICATED, topic)
            return
        if not self.gateway.market.knows(conid):
            self.error(invalid_conid(conid), topic)
            return
        budgets = self.connection.budgets
        refusal = None if conid in self.md else budgets.md_line_refusal(len(self.md))
        if refusal is not None:
            self.connection.note("refused command", refusal)
            self.error(refusal, topic)
            return
        if conid not in self.md and not self.gateway.session.acquire_line(self, conid):
            lines = self.gateway.session.md_lines
            self.error(
                f"Max number of market data lines reached ({lines}); unsubscribe one first", topic
            )
            return
        # Resending smd adds fields and re-emits a full frame (rules 10, 11).
        wanted = command.fields or F.DEFAULT_FIELDS
        fields = tuple(dict.fromkeys(self.md.get(conid, ()) + wanted))
        self.md[conid] = fields
        expiry = self.gateway.config.smd_expiry_seconds
        if expiry > 0:
            self.md_deadline_ns[conid] = self.gateway.clock.monotonic_ns() + expiry * NS_PER_S
            if not self.connection.running("smd-expiry"):
                self.connection.spawn(self._expire_streams, "smd-expiry")
        self.gateway.hub.subscribe_market(
            self.connection.outbox,
            conid,
            fields,
            tempo_ms=TEMPO_MS,
            snapshot=True,
            dialect=DIALECT,
            encoder=_md_encoder,
        )

    def _unsubscribe_md(self, conid: int) -> None:
        if self.md.pop(conid, None) is None:
            return  # umd gets no reply, not even for a conid that is not streaming
        self.md_deadline_ns.pop(conid, None)
        self.gateway.hub.unsubscribe_market(self.connection.outbox, conid, DIALECT)
        self.gateway.session.release_line(self, conid)

    async def _expire_streams(self) -> None:
        """End `smd` streams not renewed within `smd_expiry_seconds` (gateway clock).

        Runs only while streams exist, so idle sockets cost no wake-ups."""
        expiry = self.gateway.config.smd_expiry_seconds
        poll = min(EXPIRY_POLL_SECONDS, expiry / 4)
        while self.md_deadline_ns:
            await asyncio.sleep(poll)
            now = self.gateway.clock.monotonic_ns()
            for conid in [c for c, deadline in self.md_deadline_ns.items() if deadline <= now]:
                log.info("smd+%d expired after %d s without renewal", conid, expiry)
                self._unsubscribe_md(conid)

    # --- heartbeat -------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        """`{"topic":"system","hb":EPOCH_MS}` now and every `heartbeat_seconds` (rule 6)."""
        clock, interval = self.gateway.clock, self.gateway.config.heartbeat_seconds
        while True:
            self.connection.send(frames.encode_heartbeat(clock.now_ns() // NS_PER_MS))
            await asyncio.sleep(interval)

    # --- smh / umh -------------------------------------------------------------------------------
    def _history(self, command: C.SubscribeHistory) -> None:
        """One frame of bars (defaults: 1 day of the period's default bar, trades)."""
        topic = f"smh+{command.conid}"
        instrument = self.gateway.catalogue.find(command.conid)
        if instrument is None:
            self.error(invalid_conid(command.conid), topic)
            return
        if len(self.history) >= MAX_HISTORY:
            self.error(f"at most {MAX_HISTORY} concurrent smh requests; send umh first", topic)
            return
        period = command.period or DEFAULT_HISTORY_PERIOD
        bar = command.bar or default_bar(parse_period(period)).text
        compute = self.gateway.history.plan(
            command.conid,
            period=period,
            bar=bar,
            outside_rth=command.outside_rth,
            source=command.source or "trades",
        )
        server_id = str(next(self.gateway.ids.smh_server_ids))
        self.history[server_id] = command.conid

        async def send() -> None:
            # Long windows take 100+ ms: computed off the event loop so streams keep flowing.
            try:
                bars = await asyncio.get_running_loop().run_in_executor(None, compute)
                payload = smh_payload(
                    instrument,
                    bars,
                    period=period,
                    bar=bar,
                    outside_rth=command.outside_rth,
                    server_id=server_id,
                )
            except TickgateError as exc:
                self.history.pop(server_id, None)
                self.error(str(exc), topic)
                return
            self.connection.send(frames.encode_history(payload))

        self.connection.spawn(send, f"smh-{server_id}")

    def _unsubscribe_history(self, server_id: str) -> None:
        if self.history.pop(server_id, None) is None:
            self.error(f"no smh request {server_id} on this connection", f"umh+{server_id}")
            return
        self.connection.send(frames.encode_unsubscribed_history(server_id))

    # --- sbd / ubd -------------------------------------------------------------------------------
    def _subscribe_depth(self, command: C.SubscribeDepth) -> None:
        """A price ladder for one of the gateway's accounts, within the connection's budget."""
        account, topic = command.account, f"sbd+{command.account}+{command.conid}"
        if not self.gateway.session.authenticated:
            self.error(NOT_AUTHENTICATED, topic)
            return
        accounts = self.gateway.trading.accounts()
        if account not in accounts:
            self.error(f"unknown account {account}; accounts: {', '.join(accounts)}", topic)
            return
        refusal = None
        if account not in self.depth:
            refusal = self.connection.budgets.depth_refusal(len(self.depth))
        if refusal is not None:
            self.connection.note("refused command", refusal)
            self.error(refusal, topic)
            return
        self.depth[account] = (command.conid, command.exchange)
        if not self.connection.running("depth"):
            self.connection.spawn(self._depth_loop, "depth")
        self._send_depth(account)

    def _send_depth(self, account: str) -> None:
        conid, exchange = self.depth[account]
        if not self.gateway.market.knows(conid):
            self.depth.pop(account, None)
            self.error(invalid_conid(conid), f"sbd+{account}+{conid}")
            return
        rows = depth.ladder(conid, self.gateway.market.snapshot(conid))
        self.connection.send(frames.encode_depth(account, conid, exchange, rows))

    async def _depth_loop(self) -> None:
        """Refresh every ladder once a second while there are any."""
        while self.depth:
            await asyncio.sleep(DEPTH_SECONDS)
            for account in list(self.depth):
                self._send_depth(account)


async def handler(request: web.Request) -> web.WebSocketResponse:
    """`GET /v1/api/ws`."""
    return await serve_websocket(request, gateway_of(request), CurrentDialect)
