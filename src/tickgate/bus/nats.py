"""`Bus` over NATS core pub/sub (nats-py, asyncio).

Ticks of a conid travel on the subject `<prefix>.tick.<conid>`; ticks of one conid that
queued up together (the publisher outran the writer) share one message, so a busy conid costs
fewer messages without any tick waiting for a batch to fill. Every member subscribes to
`<prefix>.tick.*` once, when it connects (unless it follows chosen conids instead, see
`market_data`), and hands each tick to its handlers; a member's own ticks reach its own
handlers inside `publish` (the server does not echo them back).

What is guaranteed, and what is not (NATS core is at-most-once):

- Order: ticks of one conid reach every member in publish order, never duplicated. One
  publisher writes through one connection from one task; NATS keeps a connection's order.
- Nothing is lost while the connection is up and each side keeps up (no queue overflows).
- `publish` never blocks the caller: it encodes and queues; a writer task hands the queue to
  nats-py. If the queue holds `outgoing_limit` ticks, further ticks are dropped and counted.
- Across a bus outage (server killed, restarted, stopped): the client reconnects by itself
  (forever by default) and re-subscribes. Ticks published while disconnected are kept by
  nats-py up to `pending_bytes` and sent after the reconnect, but a member that reconnects
  later misses them, and messages in flight when the server died are gone. So across an outage
  each member sees, per conid, an ordered subsequence without duplicates; every tick published
  after both publisher and member are reconnected is delivered. Sequence numbers in the payload
  let a consumer see the gap (and re-fetch an image).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import ConnectionClosedError, OutboundBufferLimitError

from tickgate.bus.base import BusError, TickEncodingError, add_handler
from tickgate.bus.codec import decode_ticks, encode_tick
from tickgate.model.ticks import Tick, TickSink

log = logging.getLogger("tickgate.bus.nats")

#: "No timeout" for nats-py calls whose waiting we bound ourselves.
_NEVER_S = 1 << 30
_USERINFO = re.compile(r"^([a-z]+://)[^@/]*@")
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True, slots=True)
class NatsOptions:
    """How to reach a NATS server or cluster.

    `url` is one URL or several separated by commas (`nats://`, or `tls://` for TLS); it may
    carry `user:password@`. Credentials otherwise come from `user`/`password`, `token` or a
    `.creds` file (JWT + NKey). TLS trusts `tls_ca` (the system's roots without it) and presents
    `tls_cert`/`tls_key` when the server verifies clients.
    """

    url: str = "nats://127.0.0.1:4222"
    user: str | None = None
    password: str | None = None
    token: str | None = None
    creds_file: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    name: str = "tickgate"
    connect_timeout_s: float = 5.0
    reconnect_wait_s: float = 0.5
    #: -1: keep trying forever (a bus member has nothing better to do than wait for its bus).
    max_reconnect_attempts: int = -1
    #: What nats-py buffers for us while disconnected.
    pending_bytes: int = 8 << 20
    #: A server that leaves this many PINGs sent every `ping_interval_s` unanswered (frozen,
    #: cut off) is given up and reconnected to.
    ping_interval_s: float = 20.0
    max_outstanding_pings: int = 3

    def servers(self) -> list[str]:
        return [url.strip() for url in self.url.split(",") if url.strip()]

    def display_url(self) -> str:
        """`url` with any `user:password@` removed, for messages and logs."""
        return ",".join(_USERINFO.sub(r"\1", url) for url in self.servers())

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for nats-py's `connect`. Raises `BusError` for incomplete or
        unreadable settings (a password without a user, a certificate without its key...)."""
        if (self.user is None) != (self.password is None):
            raise BusError("NATS user and password go together: give both or neither")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise BusError("NATS TLS client certificate and key go together")
        for path in (self.creds_file, self.tls_ca, self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise BusError(f"NATS option file not found: {path}")
        if not self.servers():
            raise BusError("no NATS server URL given")
        kwargs: dict[str, Any] = {
            "servers": self.servers(),
            "name": self.name,
            "connect_timeout": self.connect_timeout_s,
            "reconnect_time_wait": self.reconnect_wait_s,
            "max_reconnect_attempts": self.max_reconnect_attempts,
            "pending_size": self.pending_bytes,
            "ping_interval": self.ping_interval_s,
            "max_outstanding_pings": self.max_outstanding_pings,
            # A member's own ticks reach its handlers directly in `publish`, not via the server.
            "no_echo": True,
            # Subjects are built here from a validated prefix and an int.
            "skip_subject_validation": True,
        }
        if self.user is not None:
            kwargs["user"], kwargs["password"] = self.user, self.password
        if self.token is not None:
            kwargs["token"] = self.token
        if self.creds_file is not None:
            kwargs["user_credentials"] = str(self.creds_file)
        context = self._tls_context()
        if context is not None:
            kwargs["tls"] = context
        return kwargs

    def _tls_context(self) -> ssl.SSLContext | None:
        wants_tls = any(url.startswith("tls://") for url in self.servers())
        if not (wants_tls or self.tls_ca or self.tls_cert):
            return None
        try:
            context = ssl.create_default_context(
                cafile=None if self.tls_ca is None else str(self.tls_ca)
            )
            if self.tls_cert is not None and self.tls_key is not None:
                context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        except (ssl.SSLError, OSError) as exc:
            raise BusError(f"NATS TLS files unusable: {exc}") from exc
        return context


@dataclass(slots=True)
class NatsBusStats:
    """Counters of one member; `dropped` and `bad_messages` stay 0 in normal operation."""

    published: int = 0
    delivered: int = 0
    #: Ticks not sent: the outgoing queue was full, or nats-py's buffer during an outage.
    dropped: int = 0
    #: Messages on our subjects that are not ticks (the first one is logged).
    bad_messages: int = 0
    handler_errors: int = 0
    disconnects: int = 0
    reconnects: int = 0
    #: NATS messages sent; one carries several ticks of a conid when they queued up together.
    messages: int = 0
    last_error: str | None = field(default=None)


class NatsBus:
    """A `Bus` member on a NATS connection. Create with `await NatsBus.connect(options)`.

    The member owns its connection, its writer task and its one subscription; `close` ends
    them. Handlers run on the event loop thread, in arrival order; a handler that raises is
    logged (once per handler) and counted, and the others still get the tick.
    """

    def __init__(
        self,
        client: Client,
        options: NatsOptions,
        *,
        prefix: str,
        outgoing_limit: int,
        stats: NatsBusStats,
    ) -> None:
        self._client = client
        self.options = options
        self.prefix = prefix
        self.stats = stats
        self._outgoing: deque[tuple[int, bytes]] = deque()
        self._outgoing_limit = outgoing_limit
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._handlers: list[TickSink] = []
        self._failed_handlers: set[int] = set()
        self._subjects: dict[int, str] = {}
        self._dropping = False
        self._closed = False
        self._subscription: Subscription | None = None
        self._pings: set[asyncio.Task[None]] = set()
        self._reconnect_listeners: list[Callable[[], object]] = []
        self._connected = asyncio.Event()
        if client.is_connected:
            self._connected.set()
        self._writer = asyncio.create_task(self._write_loop(), name=f"nats-bus-writer-{prefix}")

    @classmethod
    async def connect(
        cls,
        options: NatsOptions,
        *,
        prefix: str = "tickgate",
        outgoing_limit: int = 100_000,
        subscribe_all: bool = True,
    ) -> NatsBus:
        """Connect, subscribe to the tick subjects of every conid (unless `subscribe_all` is
        False: a member that follows chosen conids, see `tickgate.bus.market_data`), and
        return the member.

        Raises `BusError` when the prefix is not a valid subject prefix, or when no server
        accepts the connection within `options.connect_timeout_s` (with the last reason, e.g.
        an authorization violation)."""
        if not _PREFIX.match(prefix):
            raise BusError(f"bad NATS subject prefix {prefix!r}: dot-separated [A-Za-z0-9_-]")
        stats = NatsBusStats()
        client = Client()
        callbacks = _Callbacks(stats)
        kwargs = options.connect_kwargs()  # raises BusError for bad options, before any I/O
        connecting = asyncio.create_task(
            client.connect(
                **kwargs,
                error_cb=callbacks.on_error,
                disconnected_cb=callbacks.on_disconnect,
                reconnected_cb=callbacks.on_reconnect,
            )
        )
        refused = asyncio.create_task(callbacks.refused.wait())
        # nats-py would retry refused credentials until the timeout: a refusal ends it now.
        await asyncio.wait(
            {connecting, refused},
            timeout=options.connect_timeout_s * 2,
            return_when=asyncio.FIRST_COMPLETED,
        )
        refused.cancel()
        failure: BaseException | None = None
        if not connecting.done():
            connecting.cancel()
            failure = TimeoutError()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await connecting
        elif connecting.exception() is not None:
            failure = connecting.exception()
        if failure is not None or callbacks.auth_error is not None:
            with contextlib.suppress(Exception):
                await client.close()
            reason = callbacks.auth_error or stats.last_error or repr(failure)
            raise BusError(
                f"cannot connect to NATS at {options.display_url()}: {reason}"
            ) from failure
        bus = cls(client, options, prefix=prefix, outgoing_limit=outgoing_limit, stats=stats)
        callbacks.bus = bus
        if subscribe_all:
            bus._subscription = await client.subscribe(f"{prefix}.tick.*", cb=bus._on_message)
        await _round_trip(client)  # the server knows the subscription before we return
        return bus

    @property
    def client(self) -> Client:
        """The nats-py connection, for components that add their own subjects on it."""
        return self._client

    async def round_trip(self) -> None:
        """Return once the server has read everything sent on this connection so far
        (subscriptions included; queued ticks not yet handed over are not waited for)."""
        await _round_trip(self._client)

    def add_reconnect_listener(self, listener: Callable[[], object]) -> None:
        """Call `listener()` after every reconnect (subscriptions are back by then): whoever
        keeps state fed by the bus may have missed ticks during the outage."""
        self._reconnect_listeners.append(listener)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        """Return once the connection is up (at once if it is). Raises `BusError` on timeout."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError as exc:
            raise BusError(f"NATS not reconnected within {timeout} s") from exc

    # --- publishing -------------------------------------------------------------------

    def subject(self, conid: int) -> str:
        """The subject carrying `conid`'s ticks."""
        subject = self._subjects.get(conid)
        if subject is None:
            subject = self._subjects[conid] = f"{self.prefix}.tick.{conid}"
        return subject

    def publish(self, tick: Tick, seq: int = 0) -> None:
        """Deliver `tick` to this member's handlers now and queue it for every other member
        (see the module's guarantees). Raises `TickEncodingError` for a tick the wire cannot
        carry (then no one gets it), `BusError` after `close`."""
        if self._closed:
            raise BusError("the NATS bus is closed")
        frame = encode_tick(tick, seq)
        self._deliver(tick)
        if len(self._outgoing) >= self._outgoing_limit:
            self._drop(1, "the outgoing queue is full")
            return
        self._outgoing.append((tick.conid, frame))
        self.stats.published += 1
        if not self._wake.is_set():
            self._wake.set()
            self._idle.clear()

    def _drop(self, count: int, reason: str) -> None:
        self.stats.dropped += count
        if not self._dropping:
            self._dropping = True
            log.warning("NATS bus %s: dropping ticks: %s", self.prefix, reason)

    async def _write_loop(self) -> None:
        client, outgoing = self._client, self._outgoing
        while True:
            await self._wake.wait()
            self._wake.clear()
            while outgoing:
                for conid, frames in _batches(outgoing):
                    try:
                        await client.publish(
                            self.subject(conid), frames[0] if len(frames) == 1 else b"".join(frames)
                        )
                    except OutboundBufferLimitError:
                        self._drop(
                            len(frames), "disconnected and nats-py's reconnect buffer is full"
                        )
                        continue
                    except ConnectionClosedError:
                        self._drop(len(frames), "the connection is closed")
                        continue
                    self.stats.messages += 1
                    if self._dropping and client.is_connected:
                        self._dropping = False
                        log.info("NATS bus %s: sending again", self.prefix)
            self._idle.set()

    async def flush(self, timeout: float = 10.0) -> None:
        """Return once every tick published before the call was received by the server.

        Raises `BusError` when that takes longer than `timeout` (e.g. the server is down)."""
        try:
            await asyncio.wait_for(self._flush(), timeout)
        except (TimeoutError, nats.errors.Error) as exc:
            raise BusError(f"NATS flush did not complete: {exc!r}") from exc

    async def _flush(self) -> None:
        await self._idle.wait()
        await self._connected.wait()
        # nats-py's own flush timeout cancels the PING's future, and the late PONG then kills
        # its read loop (InvalidStateError): never let a PING be cancelled while connected.
        # The round trip runs as our own task; a caller that gives up only stops waiting.
        ping = asyncio.create_task(_round_trip(self._client))
        self._pings.add(ping)
        ping.add_done_callback(self._pings.discard)
        await asyncio.shield(ping)

    # --- delivering -------------------------------------------------------------------

    def subscribe(self, handler: TickSink) -> Callable[[], None]:
        return add_handler(self._handlers, handler)

    async def _on_message(self, msg: Msg) -> None:
        try:
            conid = int(msg.subject.rpartition(".")[2])
            ticks = decode_ticks(conid, msg.data)
        except (ValueError, TickEncodingError) as exc:
            self.stats.bad_messages += 1
            if self.stats.bad_messages == 1:
                log.warning(
                    "NATS bus %s: ignoring a message on %s: %s", self.prefix, msg.subject, exc
                )
            return
        for _seq, tick in ticks:
            self._deliver(tick)

    def _deliver(self, tick: Tick) -> None:
        self.stats.delivered += 1
        for handler in list(self._handlers):
            try:
                handler(tick)
            except Exception:
                self.stats.handler_errors += 1
                if id(handler) not in self._failed_handlers:
                    self._failed_handlers.add(id(handler))
                    log.exception("NATS bus %s: a tick handler failed", self.prefix)

    # --- lifecycle --------------------------------------------------------------------

    async def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (within `timeout` if the server is up), then disconnect."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(BusError):
            if self._client.is_connected:
                await self.flush(timeout)
        self._writer.cancel()
        await asyncio.gather(self._writer, return_exceptions=True)
        self._handlers.clear()
        # With the server gone, nats-py's close drains a transport that is already reset (or,
        # under uvloop, already closed: RuntimeError): the ticks still buffered cannot be sent
        # anyway, and the member must still close.
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._client.close()
        for ping in list(self._pings):
            ping.cancel()
        await asyncio.gather(*self._pings, return_exceptions=True)


class _Callbacks:
    """nats-py's connection callbacks, kept apart so `connect` can register them before the
    member exists (the first errors happen while connecting)."""

    def __init__(self, stats: NatsBusStats) -> None:
        self.stats = stats
        self.bus: NatsBus | None = None
        #: The clearest reason a connect fails: later retries only see the socket reset.
        self.auth_error: str | None = None
        self.refused = asyncio.Event()

    async def on_error(self, error: Exception) -> None:
        self.stats.last_error = repr(error)
        # During connect nats-py reports a refusal as a plain Error with the server's text.
        if isinstance(error, nats.errors.Error) and "authorization" in str(error).lower():
            self.auth_error = f"{error} (check the NATS credentials)"
            if self.bus is None:  # still connecting
                self.refused.set()
        log.debug("NATS: %r", error)

    async def on_disconnect(self) -> None:
        if self.bus is not None and not self.bus._closed:
            self.stats.disconnects += 1
            self.bus._connected.clear()
            log.warning("NATS bus %s: disconnected; reconnecting", self.bus.prefix)

    async def on_reconnect(self) -> None:
        self.stats.reconnects += 1
        if self.bus is not None:
            log.info("NATS bus %s: reconnected", self.bus.prefix)
            self.bus._connected.set()
            for listener in list(self.bus._reconnect_listeners):
                listener()
            if self.bus._outgoing:
                self.bus._wake.set()


async def _round_trip(client: Client) -> None:
    """Return once the server has read every command given to `client` so far."""
    # nats-py's flush() writes its PING straight to the socket, ahead of commands still in its
    # pending buffer, so the PONG alone proves nothing: have its flusher write that buffer
    # first. A private call, but there is no public way to wait for it.
    await client._flush_pending(force_flush=True)
    await client.flush(timeout=_NEVER_S)


#: Ticks of one conid that queued up together leave as one message of at most this size.
BATCH_BYTES = 32 << 10


def _batches(outgoing: deque[tuple[int, bytes]]) -> list[tuple[int, list[bytes]]]:
    """Empty `outgoing` into per-conid batches: order kept within each conid (which is all
    the bus promises), first-queued conid first, no batch over `BATCH_BYTES`."""
    open_batches: dict[int, tuple[list[bytes], list[int]]] = {}
    batches: list[tuple[int, list[bytes]]] = []
    while outgoing:
        conid, frame = outgoing.popleft()
        current = open_batches.get(conid)
        if current is None or current[1][0] + len(frame) > BATCH_BYTES:
            current = ([], [0])
            open_batches[conid] = current
            batches.append((conid, current[0]))
        current[0].append(frame)
        current[1][0] += len(frame)
    return batches
