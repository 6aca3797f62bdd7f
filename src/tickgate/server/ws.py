"""The WebSocket connection shell shared by both dialects.

A `Connection` owns one socket: its outbox (one transport write per event-loop turn), its command
rate limit and budgets, whether the client has authenticated (which lifts the small message
limit of a fresh socket), and its per-connection tasks. Dialects (`ws_legacy`,
`ws_current`) turn text commands into calls on the hub and the engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiohttp import WSCloseCode, WSMsgType, web

from tickgate.protocol.frames import EMPTY_CLOSE, close_reason
from tickgate.server.gateway import Gateway
from tickgate.server.ratelimit import TokenBucket
from tickgate.server.ws_budgets import ConnectionBudgets
from tickgate.server.ws_socket import GuardedWebSocket
from tickgate.streaming.backlog import Backlog
from tickgate.streaming.outbox import Outbox

log = logging.getLogger("tickgate.ws")

CLOSE_SLOW_CONSUMER = 1008
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
HARD_MESSAGE_CAP = 4 << 20
DRAIN_POLL_SECONDS = 0.002


class Dialect(Protocol):
    """What a connection needs from a dialect."""

    def opened(self) -> None:
        """Called once the socket is open (connect burst, if the dialect has one)."""

    def handle(self, text: str) -> None:
        """Handle one client text message. Must not raise for bad input: answer with an error."""

    def error(self, message: str, topic: str | None) -> None:
        """Send an error frame in the dialect's shape."""

    def closed(self) -> None:
        """Release everything the dialect holds for this connection."""


class Connection:
    """One WebSocket client. Created and run by `serve_websocket`."""

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
        self.limiter = TokenBucket(
            rate=config.commands_per_second,
            burst=config.command_burst,
            now_ns=gateway.clock.monotonic_ns(),
        )
        self.budgets = ConnectionBudgets(config, now_ns=gateway.clock.monotonic_ns())
        self.tasks: set[asyncio.Task[object]] = set()
        self.dialect: Dialect | None = None
        #: Set once the client has authenticated (see `established`).
        self.trusted = False
        self._noted: dict[str, int] = {}

    def send(self, payload: bytes) -> None:
        """Queue a reliable frame (never dropped; a reader too slow for it is disconnected)."""
        self.outbox.push(payload)

    def spawn(self, coro: Callable[[], Coroutine[Any, Any, object]], name: str) -> None:
        """Run a task owned by this connection; it is cancelled when the connection ends."""
        task = asyncio.get_running_loop().create_task(coro(), name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def running(self, name: str) -> bool:
        """True while a task spawned under `name` has not finished."""
        return any(task.get_name() == name and not task.done() for task in self.tasks)

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

    def allow_command(self) -> bool:
        return self.limiter.allow(self.gateway.clock.monotonic_ns())

    def note(self, kind: str, detail: str) -> None:
        """Log a client's mistake of `kind` once per connection; later ones are only counted."""
        if kind in self._noted:
            self._noted[kind] += 1
            return
        self._noted[kind] = 0
        log.info(
            "%s from %s: %s (further ones on this connection are counted, not logged)",
            kind,
            self.request.remote,
            detail,
        )

    def established(self) -> None:
        """The client has authenticated: lift the small pre-authentication message limit."""
        if not self.trusted:
            self.trusted = True
            self.ws.trust()

    def authenticate_within(self, seconds: float, hint: str) -> None:
        """Close the socket with 1008 if `established()` has not been called after `seconds`."""

        async def deadline() -> None:
            await asyncio.sleep(seconds)
            if not self.trusted:
                self.note("authentication timeout", f"not authenticated within {seconds:g} s")
                await self.ws.close(
                    code=POLICY_VIOLATION,
                    message=close_reason(f"not authenticated within {seconds:g} s; {hint}"),
                )

        self.spawn(deadline, "authentication-deadline")

    async def run(self, dialect: Dialect) -> None:
        """Read commands until the client goes away; then release everything.

        Guarantees: returns normally whatever a dialect raises. An unexpected exception is
        logged once with its traceback and the socket is closed with 1011, never answered with
        HTTP bytes (the socket is no longer HTTP).
        """
        self.dialect = dialect
        try:
            dialect.opened()
            await self._read(dialect)
        except Exception:
            log.exception("WebSocket connection from %s failed; closing it", self.request.remote)
            await self._close_internal_error()
        finally:
            try:
                dialect.closed()
            except Exception:
                log.exception("releasing WebSocket connection from %s failed", self.request.remote)
            for task in list(self.tasks):
                task.cancel()
            self._log_counts()

    async def _read(self, dialect: Dialect) -> None:
        limit = self.gateway.config.max_frame_bytes
        while True:
            message = await self.ws.receive()
            if message.type is WSMsgType.TEXT:
                self._dispatch(dialect, message.data, limit)
            elif message.type is WSMsgType.BINARY:
                self.note("binary frame", "binary frames are not supported")
                dialect.error("binary frames are not supported; send text commands", None)
            else:
                if message.type is WSMsgType.CLOSE:
                    self._answer_close()
                elif message.type is WSMsgType.ERROR:
                    # aiohttp has already sent the close frame (code and reason) for it.
                    self.note("protocol error", f"closed: {message.data}")
                return

    async def _close_internal_error(self) -> None:
        if not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close(code=INTERNAL_ERROR, message=b"internal error")

    def _log_counts(self) -> None:
        counted = {kind: n for kind, n in self._noted.items() if n}
        if counted:
            summary = ", ".join(f"{n} more {kind}" for kind, n in counted.items())
            log.info("connection from %s closed after %s", self.request.remote, summary)

    def _answer_close(self) -> None:
        # Frames queued this turn go first, then the closing handshake and the socket itself.
        self.outbox.flush()
        if not self.transport.is_closing():
            self.transport.write(EMPTY_CLOSE)
            self.transport.close()

    def _dispatch(self, dialect: Dialect, text: str, limit: int) -> None:
        size = len(text.encode())
        if size > limit:
            self.note("oversized message", f"{size} bytes")
            dialect.error(
                f"message of {size} bytes exceeds the limit of {limit} bytes; ignored", None
            )
        elif not self.allow_command():
            config = self.gateway.config
            self.note("rate-limited command", f"over {config.commands_per_second:g}/s")
            dialect.error(
                f"too many commands: at most {config.commands_per_second:g} per second "
                f"(burst {config.command_burst}); command ignored",
                None,
            )
        else:
            dialect.handle(text)


async def serve_websocket(
    request: web.Request, gateway: Gateway, make_dialect: Callable[[Connection], Dialect]
) -> web.WebSocketResponse:
    """Upgrade `request` and run a connection with the dialect `make_dialect` builds.

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
    await ws.prepare(request)
    try:
        connection = Connection(gateway, ws, request)
    except Exception:
        log.exception("WebSocket connection from %s could not start", request.remote)
        with contextlib.suppress(Exception):
            await ws.close(code=INTERNAL_ERROR, message=b"internal error")
        return ws
    gateway.connections.add(connection)
    try:
        await connection.run(make_dialect(connection))
    except Exception:
        log.exception("WebSocket connection from %s failed; closing it", request.remote)
        await connection._close_internal_error()
    finally:
        gateway.connections.discard(connection)
        gateway.traffic.retire(connection.outbox.stats)
    return ws


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
