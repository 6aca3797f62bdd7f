"""The WebSocket pump shared by both dialects: bytes in, dialect session, outbox out.

A `Connection` owns one socket: its outbox (one transport write per event-loop turn), its
per-connection tasks and its one timer. Everything a dialect means lives in a sans-I/O
`tickgate.dialects` session: the pump feeds it each client message and the time, calls it when
its `next_deadline_ns` has passed, and performs the effects it queues (close the socket, lift
the pre-authentication message limit, deliver a large snapshot as the transport drains, run a
computation off the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from tickgate.clock import NS_PER_S
from tickgate.dialects.base import DialectSession
from tickgate.dialects.context import AccountReads, DialectContext, Now
from tickgate.dialects.effects import Close, Deliver, Effect, Offload, Trust
from tickgate.log_format import LOG_CONTEXT
from tickgate.protocol.frames import EMPTY_CLOSE, close_reason
from tickgate.server.errors import error_answer
from tickgate.server.faults.rest import FAULTS
from tickgate.server.gateway import Gateway
from tickgate.server.rest_session import accounts_payload
from tickgate.server.ws_socket import GuardedWebSocket
from tickgate.streaming.backlog import Backlog
from tickgate.streaming.outbox import Outbox

#: A cluster edge's replica of the core's accounts, which its account topics read instead of
#: the edge's own (idle) trading engine; absent on a gateway that trades itself.
ACCOUNT_READS = web.AppKey("account_reads", AccountReads)


class MessageHook(Protocol):
    """Looks at a client's text message before its session does; an awaitable it returns is
    awaited first (the connection's later messages wait too, so their order stays)."""

    def __call__(self, text: str) -> Awaitable[None] | None: ...


#: A relay's: a stream of a conid its catalogue lacks is first looked up upstream.
BEFORE_MESSAGE = web.AppKey("before_message", MessageHook)

log = logging.getLogger("tickgate.ws")

#: Builds a connection's session from the gateway's context, its outbox, the upgrade request
#: and the time.
SessionFactory = Callable[[DialectContext, Outbox, web.Request, Now], DialectSession]

CLOSE_SLOW_CONSUMER = 1008
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
HARD_MESSAGE_CAP = 4 << 20
DRAIN_POLL_SECONDS = 0.002


class Connection:
    """One WebSocket client. Created and run by `serve_websocket`."""

    # Slots, a task set made on first use, and one coroutine for the whole read loop: with
    # 10,000 sockets every per-connection object shows in the server's memory.
    __slots__ = (
        "_timer",
        "_timer_due",
        "gateway",
        "id",
        "opened_ns",
        "outbox",
        "request",
        "session",
        "tasks",
        "transport",
        "ws",
    )

    def __init__(self, gateway: Gateway, ws: GuardedWebSocket, request: web.Request) -> None:
        self.gateway = gateway
        self.ws = ws
        self.request = request
        transport = request.transport
        assert transport is not None  # the socket was upgraded, so it has a transport
        self.transport = transport
        config = gateway.config
        self.outbox = Outbox(
            transport,
            schedule=gateway.turns,
            limit_bytes=config.outbox_limit_bytes,
            high_water=min(262_144, config.outbox_limit_bytes // 4),
            on_congested=self._on_congested,
            on_overflow=self._on_overflow,
            on_write_sample=gateway.traffic.write_bytes.observe,
        )
        self.tasks: set[asyncio.Task[object]] | None = None
        self.session: DialectSession | None = None
        # The id this connection's log lines carry (`log_context`), so the operator view and
        # the log name a connection alike; and when it opened (epoch ns).
        context = LOG_CONTEXT.get()
        self.id = context[1] if context is not None else f"c-{id(self):x}"
        self.opened_ns = gateway.clock.now_ns()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: int | None = None

    def now(self) -> Now:
        """The gateway clock's time, as sessions take it."""
        clock = self.gateway.clock
        return Now(clock.monotonic_ns(), clock.now_ns(), clock.host_ns())

    def send(self, payload: bytes) -> None:
        """Queue a reliable frame (never dropped; a reader too slow for it is disconnected)."""
        self.outbox.push(payload)

    def spawn(self, coro: Callable[[], Coroutine[Any, Any, object]], name: str) -> None:
        """Run a task owned by this connection; it is cancelled when the connection ends."""
        task = asyncio.get_running_loop().create_task(coro(), name=name)
        if self.tasks is None:
            self.tasks = set()
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def close(self, code: int, reason: bytes) -> None:
        """Close the socket with `code` and `reason` (frames already queued go first)."""
        self.outbox.flush()
        self.spawn(lambda: self.ws.close(code=code, message=reason), "close")

    def poke(self) -> None:
        """Something outside changed the session (an injected fault): perform its effects and
        re-arm its timer, as after an input."""
        if self.session is not None:
            self._settle(self.session)

    def running(self, name: str) -> bool:
        """True while a task spawned under `name` has not finished."""
        return any(task.get_name() == name and not task.done() for task in self.tasks or ())

    def deliver(self, backlog: Backlog) -> None:
        """Pump `backlog` (a snapshot too large for one push) into the outbox as it drains, in
        a task owned by this connection."""

        async def pump() -> None:
            while not backlog.pump():
                await asyncio.sleep(0)  # let this turn's flush write what was pushed
                await self._transport_drained()

        self.spawn(pump, "snapshot")

    def _on_congested(self) -> None:
        self.spawn(self._drain, "drain")

    async def _drain(self) -> None:
        # The transport's own buffer is above the high-water mark: wait until the kernel takes it,
        # then let the outbox write what it conflated meanwhile.
        await self._transport_drained()
        self.outbox.flush()

    async def _transport_drained(self) -> None:
        """Return once the transport's buffer is below half the high-water mark (or closing)."""
        low_water = self.outbox.high_water // 2
        while (
            not self.transport.is_closing() and self.transport.get_write_buffer_size() > low_water
        ):
            await asyncio.sleep(DRAIN_POLL_SECONDS)

    def _on_overflow(self, reason: str) -> None:
        self.gateway.traffic.slow_reader_closes += 1
        log.warning("closing slow consumer %s: %s", self.request.remote, reason)
        self.spawn(
            lambda: self.ws.close(code=CLOSE_SLOW_CONSUMER, message=reason.encode()[:120]), "close"
        )

    # --- the pump --------------------------------------------------------------------------------
    async def run(self, session: DialectSession) -> None:
        """Feed `session` until the client goes away; then release everything.

        Guarantees: returns normally whatever a session raises. An unexpected exception is
        logged once with its traceback and the socket is closed with 1011, never answered with
        HTTP bytes (the socket is no longer HTTP).
        """
        self.session = session
        try:
            session.opened(self.now())
            self._settle(session)
            before = self.request.app.get(BEFORE_MESSAGE)
            # The read loop inline, not a coroutine of its own (one frame less per socket).
            while True:
                message = await self.ws.receive()
                if message.type is WSMsgType.TEXT:
                    if before is not None and (pending := before(message.data)) is not None:
                        await pending
                    session.receive(message.data, self.now())
                elif message.type is WSMsgType.BINARY:
                    session.receive_binary(self.now())
                else:
                    if message.type is WSMsgType.CLOSE:
                        self._answer_close()
                    elif message.type is WSMsgType.ERROR:
                        # aiohttp has already sent the close frame (code and reason) for it.
                        session.notes.note("protocol error", f"closed: {message.data}")
                    return
                self._settle(session)
        except Exception:
            log.exception("WebSocket connection from %s failed; closing it", self.request.remote)
            await self._close_internal_error()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            try:
                session.closed()
            except Exception:
                log.exception("releasing WebSocket connection from %s failed", self.request.remote)
            for task in list(self.tasks or ()):
                task.cancel()
            session.notes.log_counts()

    def _settle(self, session: DialectSession) -> None:
        """After an input: perform the session's effects and (re)arm its timer."""
        for effect in session.effects():
            self._perform(session, effect)
        due = session.next_deadline_ns()
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_due = due
        if due is not None:
            delay = max(0, due - self.gateway.clock.monotonic_ns()) / NS_PER_S
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire, session)

    def _fire(self, session: DialectSession) -> None:
        self._timer, self._timer_due = None, None
        try:
            session.on_timer(self.now())
            self._settle(session)
        except Exception:
            log.exception("WebSocket connection from %s failed; closing it", self.request.remote)
            self.spawn(self._close_internal_error, "close")

    def _perform(self, session: DialectSession, effect: Effect) -> None:
        if isinstance(effect, Trust):
            self.ws.trust()
        elif isinstance(effect, Deliver):
            self.deliver(effect.backlog)
        elif isinstance(effect, Close):
            code, reason = effect.code, close_reason(effect.reason)
            self.spawn(lambda: self.ws.close(code=code, message=reason), "close")
        elif isinstance(effect, Offload):
            self.spawn(functools.partial(self._offload, session, effect), effect.name)

    async def _offload(self, session: DialectSession, effect: Offload) -> None:
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(None, effect.work)
        except Exception as exc:  # handed to the session, which answers it in its dialect
            outcome = exc
        effect.done(outcome)
        self._settle(session)

    async def _close_internal_error(self) -> None:
        if not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close(code=INTERNAL_ERROR, message=b"internal error")

    def _answer_close(self) -> None:
        # Frames queued this turn go first, then the closing handshake and the socket itself.
        self.outbox.flush()
        if not self.transport.is_closing():
            self.transport.write(EMPTY_CLOSE)
            self.transport.close()


async def serve_websocket(
    request: web.Request, gateway: Gateway, make_session: SessionFactory
) -> web.StreamResponse:
    """Upgrade `request` and pump a connection through the session `make_session` builds.

    Guarantees: once the upgrade is done it returns normally (a failure closes the socket with
    1011 and is logged), so no HTTP error response is ever written onto the upgraded socket.
    """
    config = gateway.config
    ws = GuardedWebSocket(
        autoping=True,
        autoclose=False,
        compress=False,
        # Until the client authenticates, a message over this small limit closes the socket.
        untrusted_message_bytes=config.unauthenticated_message_bytes,
        message_timeout=config.request_timeout_seconds,
        # Messages over max_frame_bytes get an error frame; only beyond this hard cap (which
        # bounds what one client can make the server buffer) is the socket closed with 1009.
        max_msg_size=max(HARD_MESSAGE_CAP, 4 * config.max_frame_bytes),
    )
    try:
        await ws.prepare(request)
    except Exception as exc:  # a bad handshake: error_middleware lets WebSockets through
        return error_answer(request, exc)
    try:
        connection = Connection(gateway, ws, request)
        session = make_session(
            dialect_context(gateway, views=request.app.get(ACCOUNT_READS)),
            connection.outbox,
            request,
            connection.now(),
        )
    except Exception:
        log.exception("WebSocket connection from %s could not start", request.remote)
        with contextlib.suppress(Exception):
            await ws.close(code=INTERNAL_ERROR, message=b"internal error")
        return ws
    gateway.connections.add(connection)
    faults = request.app.get(FAULTS)
    if faults is not None:
        connection.session = session  # a stalled heartbeat or a latency applies from the start
        faults.joined(connection)
    try:
        await connection.run(session)
    except Exception:
        log.exception("WebSocket connection from %s failed; closing it", request.remote)
        await connection._close_internal_error()
    finally:
        gateway.connections.discard(connection)
        gateway.traffic.retire(connection.outbox.stats)
    return ws


def websocket_handler(
    gateway: Gateway, make_session: SessionFactory
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route handler serving `make_session`'s dialect on `gateway`: `serve_websocket`
    itself, partially applied, so that the route adds no coroutine frame of its own for the
    socket's lifetime (aiohttp takes a partial of a coroutine function as one)."""
    return functools.partial(serve_websocket, gateway=gateway, make_session=make_session)


def dialect_context(gateway: Gateway, *, views: AccountReads | None = None) -> DialectContext:
    """What a dialect session of `gateway` is given; account topics read `views` (a cluster
    edge's replica of the core's accounts) or else the gateway's own trading engine."""
    return DialectContext(
        config=gateway.config,
        catalogue=gateway.catalogue,
        market=gateway.market,
        hub=gateway.hub,
        history=gateway.history,
        views=gateway.trading.views if views is None else views,
        accounts=gateway.accounts,
        brokerage=gateway.session,
        accounts_payload=lambda: accounts_payload(gateway),
        smh_server_ids=gateway.ids.smh_server_ids,
        clock=gateway.clock,
    )


async def close_all(gateway: Gateway) -> None:
    """Close every WebSocket with 1001 (going away): the server is shutting down."""
    connections = list(gateway.connections)
    await asyncio.gather(
        *(
            c.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
            for c in connections
        ),
        return_exceptions=True,
    )
