"""The WebSocket pump shared by both dialects: bytes in, dialect session, outbox out.

A `Connection` owns one socket once aiohttp has answered the upgrade (`server.ws_socket`): it
is the socket's asyncio protocol, so the client's bytes arrive as `data_received` callbacks,
with no task and no coroutine per socket. `protocol.ws_reader` turns them into messages; the
connection's outbox writes its frames (one transport write per event-loop turn). Everything a
dialect means lives in a sans-I/O `tickgate.dialects` session: the pump feeds it each client
message and the time, calls it when its `next_deadline_ns` has passed, and performs the effects
it queues (close the socket, lift the pre-authentication message limit, deliver a large
snapshot as the transport drains, run a computation off the event loop).

Closing (RFC 6455 §7), as aiohttp did it before: a client's close is answered with an empty
close frame; a close the server starts, and a client's breach of the protocol, send a close
frame with a code and a reason (`ws_reader` gives a breach's). Then the socket is closed at
once: nothing is written after a close frame, and what the client still sends is dropped. Each
breach is noted once in the connection's log counts.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

from tickgate.clock import NS_PER_S
from tickgate.dialects.base import DialectSession
from tickgate.dialects.context import AccountReads, DialectContext, Now
from tickgate.dialects.effects import Close, Deliver, Effect, Offload, Trust
from tickgate.log_format import LOG_CONTEXT
from tickgate.protocol.frames import EMPTY_CLOSE, close_frame, close_reason, control_frame
from tickgate.protocol.ws_reader import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_TEXT,
    ClientFrameReader,
    Message,
    Violation,
)
from tickgate.server.errors import error_answer
from tickgate.server.faults.rest import FAULTS
from tickgate.server.gateway import Gateway
from tickgate.server.rest_session import accounts_payload
from tickgate.server.ws_socket import Upgrade, take_over
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
GOING_AWAY = 1001
HARD_MESSAGE_CAP = 4 << 20
DRAIN_POLL_SECONDS = 0.002
#: How long shutting down waits for the sockets' close frames to be written before it resets
#: the sockets whose clients read nothing.
CLOSE_TIMEOUT_SECONDS = 10.0
_OPEN, _CLOSING, _CLOSED = 0, 1, 2


class Connection(asyncio.Protocol):
    """One WebSocket client: the asyncio protocol of its socket. Made by `serve_websocket`."""

    # Slots, a task set made on first use, timers only while armed: with 10,000 sockets
    # every per-connection object shows in the server's memory.
    __slots__ = (
        "_backlog",
        "_before",
        "_context",
        "_lost",
        "_message_timeout",
        "_stall",
        "_state",
        "_timer",
        "_timer_due",
        "_trusted_bytes",
        "gateway",
        "id",
        "opened_ns",
        "outbox",
        "path",
        "peer",
        "reader",
        "session",
        "tasks",
        "transport",
    )

    def __init__(
        self,
        gateway: Gateway,
        transport: asyncio.Transport,
        *,
        path: str,
        peer: str | None,
        before: MessageHook | None = None,
    ) -> None:
        self.gateway = gateway
        self.transport = transport
        self.path = path
        self.peer = peer
        config = gateway.config
        # Until the client authenticates a message over this small limit closes the socket
        # (1009); after `Trust`, messages over max_frame_bytes get an error frame and only
        # those beyond the hard cap (what one client may make the server buffer) close it.
        self.reader = ClientFrameReader(max_message_bytes=config.unauthenticated_message_bytes)
        self._trusted_bytes = max(HARD_MESSAGE_CAP, 4 * config.max_frame_bytes)
        self._message_timeout = config.request_timeout_seconds
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
        self._before = before
        # The upgrade request's context (it carries the connection's log id): every callback
        # of this socket runs in it, so the connection's log lines carry that id.
        self._context = contextvars.copy_context()
        context = LOG_CONTEXT.get()
        self.id = context[1] if context is not None else f"c-{id(self):x}"
        self.opened_ns = gateway.clock.now_ns()
        self._state = _OPEN
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: int | None = None
        self._stall: asyncio.TimerHandle | None = None
        # Messages waiting for a `before` hook's awaitable (reading is paused meanwhile).
        self._backlog: list[Message] | None = None
        self._lost: asyncio.Future[None] | None = None

    # --- what the gateway and the faults call --------------------------------------------------
    def now(self) -> Now:
        """The gateway clock's time, as sessions take it."""
        clock = self.gateway.clock
        return Now(clock.monotonic_ns(), clock.now_ns(), clock.host_ns())

    @property
    def open(self) -> bool:
        """True until the connection has begun to close."""
        return self._state == _OPEN

    def send(self, payload: bytes) -> None:
        """Queue a reliable frame (never dropped; a reader too slow for it is disconnected)."""
        self.outbox.push(payload)

    def spawn(self, coro: Callable[[], Coroutine[Any, Any, object]], name: str) -> None:
        """Run a task owned by this connection; it is cancelled when the connection ends."""
        loop = asyncio.get_running_loop()
        task = loop.create_task(coro(), name=name, context=self._context)
        if self.tasks is None:
            self.tasks = set()
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def close(self, code: int, reason: bytes) -> None:
        """Close with `code` and `reason`: frames already queued go first, then the close
        frame, then the socket (nothing is written after the close frame). Idempotent."""
        if self._state != _OPEN:
            return
        self.outbox.flush()
        self._end(close_frame(code, reason.decode("utf-8", errors="ignore")))

    async def wait_closed(self) -> None:
        """Return once the socket is gone."""
        if self._state == _CLOSED:
            return
        if self._lost is None:
            self._lost = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._lost)

    def poke(self) -> None:
        """Something outside changed the session (an injected fault): perform its effects and
        re-arm its timer, as after an input."""
        if self.session is not None and self._state == _OPEN:
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

    # --- the pump --------------------------------------------------------------------------------
    def start(self, session: DialectSession, early: bytes) -> None:
        """Run `session` on this socket; `early` are the client's bytes that came with the
        upgrade. From here on the socket's callbacks drive everything.

        Guarantees: whatever a session raises, it is logged once with its traceback and the
        socket is closed with 1011, never answered with HTTP bytes (it is no longer HTTP).
        """
        self.session = session
        self._context.run(self._start, session, early)

    def _start(self, session: DialectSession, early: bytes) -> None:
        try:
            session.opened(self.now())
            self._settle(session)
        except Exception:
            self._failed()
            return
        if early:
            self._received(early)

    def data_received(self, data: bytes) -> None:
        self._context.run(self._received, data)

    def eof_received(self) -> bool | None:
        return None  # the client is done: the transport closes the socket

    def connection_lost(self, exc: Exception | None) -> None:
        self._context.run(self._gone)

    def _received(self, data: bytes) -> None:
        state = self._state
        if state == _CLOSED:
            return
        reader = self.reader
        try:
            messages = reader.feed(data)
            if state == _CLOSING:
                return  # the socket is closing: what the client still sends is dropped
            if self._backlog is not None:
                self._backlog.extend(messages)
            else:
                self._handle_all(messages)
            if reader.violation is not None:
                self._violated(reader.violation)
            else:
                self._watch_stall()
        except Exception:
            self._failed()

    def _handle_all(self, messages: list[Message]) -> None:
        before = self._before
        for index, message in enumerate(messages):
            if self._state != _OPEN:
                return
            if before is not None and message.opcode == OP_TEXT:
                pending = before(message.text)
                if pending is not None:
                    # This message and the later ones wait for it, in order.
                    self._backlog = messages[index:]
                    self.transport.pause_reading()
                    self.spawn(functools.partial(self._after_hook, pending), "before message")
                    return
            self._handle(message)

    async def _after_hook(self, pending: Awaitable[None]) -> None:
        try:
            await pending
            backlog, self._backlog = self._backlog or [], None
            if backlog and self._state == _OPEN:
                self._handle(backlog[0])  # its hook is what was awaited
                self._handle_all(backlog[1:])
            if self._backlog is None and self._state == _OPEN:
                self.transport.resume_reading()
        except Exception:
            self._failed()

    def _handle(self, message: Message) -> None:
        session = self.session
        assert session is not None  # started before any byte is read
        opcode = message.opcode
        if opcode == OP_TEXT:
            session.receive(message.text, self.now())
        elif opcode == OP_BINARY:
            session.receive_binary(self.now())
        elif opcode == OP_PING:
            self.transport.write(control_frame(0xA, message.data))
            return
        elif opcode == OP_CLOSE:
            self._answer_close()
            return
        else:  # a pong: nothing to do
            return
        self._settle(session)

    def _watch_stall(self) -> None:
        """A message that has begun must be complete within the request timeout."""
        busy = self.reader.busy
        if busy and self._stall is None:
            self._stall = asyncio.get_running_loop().call_later(
                self._message_timeout, self._stalled, context=self._context
            )
        elif not busy and self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        self._violated(
            Violation(POLICY_VIOLATION, f"message not completed within {self._message_timeout:g} s")
        )

    def _violated(self, violation: Violation) -> None:
        """The client broke the protocol: close with its code and reason."""
        if self._state != _OPEN:
            return
        if self.session is not None:
            self.session.notes.note("protocol error", f"closed: {violation.reason}")
        self._end(close_frame(violation.code, violation.reason))

    def _answer_close(self) -> None:
        # Frames queued this turn go first, then the closing handshake and the socket itself.
        self.outbox.flush()
        self._end(EMPTY_CLOSE)

    def _end(self, close: bytes) -> None:
        """Release the session, write `close` (a close frame) and close the socket."""
        self._release()
        self._state = _CLOSING
        if not self.transport.is_closing():
            self.transport.write(close)
            self.transport.close()

    def _failed(self) -> None:
        log.exception("WebSocket connection from %s failed; closing it", self.peer)
        self.close(INTERNAL_ERROR, b"internal error")

    def _gone(self) -> None:
        self._release()
        self._state = _CLOSED
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        self.gateway.connections.discard(self)
        self.gateway.traffic.retire(self.outbox.stats)
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def _release(self) -> None:
        """Once, when the closing begins: end the session and everything it runs."""
        if self._state != _OPEN:
            return
        self.outbox.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        session = self.session
        if session is not None:
            try:
                session.closed()
            except Exception:
                log.exception("releasing WebSocket connection from %s failed", self.peer)
        for task in list(self.tasks or ()):
            task.cancel()
        if session is not None:
            session.notes.log_counts()

    def _settle(self, session: DialectSession) -> None:
        """After an input: perform the session's effects and (re)arm its timer."""
        for effect in session.effects():
            self._perform(session, effect)
        if self._state != _OPEN:
            return
        due = session.next_deadline_ns()
        if due == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_due = due
        if due is not None:
            delay = max(0, due - self.gateway.clock.monotonic_ns()) / NS_PER_S
            self._timer = asyncio.get_running_loop().call_later(
                delay, self._fire, session, context=self._context
            )

    def _fire(self, session: DialectSession) -> None:
        self._timer, self._timer_due = None, None
        if self._state != _OPEN:
            return
        try:
            session.on_timer(self.now())
            self._settle(session)
        except Exception:
            self._failed()

    def _perform(self, session: DialectSession, effect: Effect) -> None:
        if isinstance(effect, Trust):
            self.reader.max_message_bytes = self._trusted_bytes
        elif isinstance(effect, Deliver):
            self.deliver(effect.backlog)
        elif isinstance(effect, Close):
            # After this turn's effects and writes, as a close from outside would be.
            self._later(self.close, effect.code, close_reason(effect.reason))
        elif isinstance(effect, Offload):
            self.spawn(functools.partial(self._offload, session, effect), effect.name)

    def _later(self, callback: Callable[..., object], *args: object) -> None:
        asyncio.get_running_loop().call_soon(callback, *args, context=self._context)

    async def _offload(self, session: DialectSession, effect: Offload) -> None:
        try:
            outcome = await asyncio.get_running_loop().run_in_executor(None, effect.work)
        except Exception as exc:  # handed to the session, which answers it in its dialect
            outcome = exc
        if self._state != _OPEN:
            return
        try:
            effect.done(outcome)
            self._settle(session)
        except Exception:
            self._failed()

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
        log.warning("closing slow consumer %s: %s", self.peer, reason)
        self._later(self.close, CLOSE_SLOW_CONSUMER, close_reason(reason))


async def serve_websocket(
    request: web.Request, gateway: Gateway, make_session: SessionFactory
) -> web.StreamResponse:
    """Upgrade `request` and pump a connection through the session `make_session` builds.

    Returns as soon as the socket is handed over (`server.ws_socket.take_over`); the connection
    lives on in its callbacks. Guarantees: once the upgrade is done no HTTP error response is
    ever written onto the socket (a failure closes it with 1011 and is logged).
    """
    upgrade = Upgrade()
    try:
        await upgrade.prepare(request)
    except Exception as exc:  # a bad handshake: error_middleware lets WebSockets through
        return error_answer(request, exc)
    transport = request.transport
    if transport is None:  # the client left while the answer was written
        return upgrade
    connection = Connection(
        gateway,
        transport,
        path=request.path,
        peer=request.remote,
        before=request.app.get(BEFORE_MESSAGE),
    )
    early = take_over(request, connection)
    try:
        session = make_session(
            dialect_context(gateway, views=request.app.get(ACCOUNT_READS)),
            connection.outbox,
            request,
            connection.now(),
        )
    except Exception:
        log.exception("WebSocket connection from %s could not start", request.remote)
        transport.write(close_frame(INTERNAL_ERROR, "internal error"))
        transport.close()
        return upgrade
    gateway.connections.add(connection)
    faults = request.app.get(FAULTS)
    if faults is not None:
        connection.session = session  # a stalled heartbeat or a latency applies from the start
        faults.joined(connection)
    connection.start(session, early)
    return upgrade


def websocket_handler(
    gateway: Gateway, make_session: SessionFactory
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route handler serving `make_session`'s dialect on `gateway`."""
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
    """Close every WebSocket with 1001 (going away): the server is shutting down. Returns once
    every socket is gone; one whose client reads nothing is reset after
    `CLOSE_TIMEOUT_SECONDS`."""
    connections = [c for c in gateway.connections if isinstance(c, Connection)]
    for connection in connections:
        connection.close(GOING_AWAY, b"server shutting down")
    if not connections:
        return
    waiters = {asyncio.ensure_future(c.wait_closed()): c for c in connections}
    _, stuck = await asyncio.wait(waiters, timeout=CLOSE_TIMEOUT_SECONDS)
    for waiter in stuck:
        waiter.cancel()
        waiters[waiter].transport.abort()
