"""The relay source: one upstream Client Portal session (IBKR's gateway or another tickgate)
streamed to this gateway's market engine over aiohttp.

The I/O shell around `tickgate.sources.relay`: it primes the upstream (`/iserver/accounts`),
reads the session id from `/tickle`, opens one `/v1/api/ws` and authenticates with that id,
then moves the messages of `UpstreamLines` to the socket and every upstream `smd` value into
the market engine as a tick; an `smd` the upstream refuses (its own line limit may be lower
than `--upstream-md-lines`) is handed to `on_refused`. It keeps the session alive (`POST
/tickle` every minute, `ech+hb` on the socket) and, when anything fails, reconnects after a
back-off with jitter and subscribes every wanted line again. Orders never go upstream:
trading stays paper.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from tickgate.clock import NS_PER_S, Clock
from tickgate.dialects.brokerage import SessionStatus
from tickgate.errors import ProtocolError
from tickgate.model.ticks import Tick, TickSink
from tickgate.protocol.api import client as api
from tickgate.server.api_client import ClientError, GatewayClient, Target
from tickgate.sources.relay.address import UpstreamAddress
from tickgate.sources.relay.backoff import Backoff
from tickgate.sources.relay.lines import UpstreamLines
from tickgate.sources.relay.status import UP, RelayStatus

log = logging.getLogger("tickgate.relay")

#: The real gateway ends a session not tickled for about five minutes; once a minute is safe.
TICKLE_SECONDS = 60.0
#: `ech+hb` on the socket, as IBKR's clients send it.
HEARTBEAT_SECONDS = 10.0
#: The longest the writer sleeps without looking at renewals.
POLL_SECONDS = 1.0

Sleep = Callable[[float], Awaitable[None]]
_FAILURES = (ClientError, aiohttp.ClientError, OSError, ProtocolError, TimeoutError)


class RelaySource:
    """A `DataSource` relaying one upstream session. `wake` must be called after the lines'
    wanted set changes (the composition root does it from the hub's interest listener)."""

    name = "relay"

    def __init__(
        self,
        target: Target,
        lines: UpstreamLines,
        status: RelayStatus,
        clock: Clock,
        *,
        random: Callable[[], float],
        on_status: Callable[[SessionStatus], None] = lambda _: None,
        on_refused: Callable[[int, str], None] = lambda _conid, _message: None,
        sleep: Sleep = asyncio.sleep,
        tickle_seconds: float = TICKLE_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._target = target
        self._address = UpstreamAddress.parse(target.url)
        self._lines = lines
        self._status = status
        self._clock = clock
        self._backoff = Backoff(random)
        self._on_status = on_status
        self._on_refused = on_refused
        self._sleep = sleep
        self._tickle_seconds = tickle_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    @property
    def status(self) -> RelayStatus:
        return self._status

    def problem(self) -> str | None:
        """Why no upstream data flows now (for `/readyz`), or None."""
        return self._status.problem()

    def wake(self) -> None:
        """Something is to be sent upstream: let the writer look now."""
        self._wake.set()

    async def run(self, sink: TickSink) -> None:
        async with GatewayClient(self._target) as client:
            while True:
                try:
                    await self._connection(client, sink)
                    reason = "the upstream closed the WebSocket"
                except _FAILURES as exc:
                    # Messages built from the address quote its credentials: never shown.
                    reason = self._address.scrub(str(exc) or type(exc).__name__)
                self._lines.disconnect()
                self._status.down(reason)
                self._tell(SessionStatus(authenticated=False))
                delay = self._backoff.next_delay()
                log.warning(
                    "upstream %s down (%s); reconnecting in %.1f s",
                    self._address.shown,
                    reason,
                    delay,
                )
                await self._sleep(delay)

    async def _connection(self, client: GatewayClient, sink: TickSink) -> None:
        await client.account()  # primes the session, as every IBKR client does first
        session = await _tickle(client)
        url = client.base.replace("http", "ws", 1) + "/v1/api/ws"
        async with client.http.ws_connect(url, heartbeat=None) as ws:
            tasks = [
                asyncio.create_task(self._reader(ws, session, sink)),
                asyncio.create_task(self._keepalive(client, ws)),
                asyncio.create_task(self._writer(ws)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:  # the first to end ends the connection, with its error if any
                task.result()

    async def _reader(
        self, ws: aiohttp.ClientWebSocketResponse, session: str, sink: TickSink
    ) -> None:
        """Until the socket closes: every upstream frame read and acted on."""
        reader = api.ApiClient()
        async for message in ws:
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                return
            await self._on_event(reader.receive(message.data), ws, session, sink)

    async def _on_event(
        self,
        event: api.ServerEvent,
        ws: aiohttp.ClientWebSocketResponse,
        session: str,
        sink: TickSink,
    ) -> None:
        if isinstance(event, api.MarketData):
            if event.conid in self._lines.wanted and event.values:
                sink(Tick(event.conid, dict(event.values), self._clock.now_ns()))
        elif isinstance(event, api.WaitingForSession):
            await ws.send_str(api.ApiClient.authenticate(session))
        elif isinstance(event, api.Connected):
            self._connected()  # the sts that follows says whether the session streams
        elif isinstance(event, api.Status):
            competing = bool(event.args.get("competing", self._status.competing))
            self._upstream_status(event.authenticated, competing)
        elif isinstance(event, api.ErrorFrame):
            log.warning(
                "upstream error about %s: %s", event.request, self._address.scrub(event.message)
            )
            conid = _refused_line(event.request)
            if conid is not None:
                # The upstream's own limit (or any reason it has) ends the line downstream too.
                self._status.refusals += 1
                self._on_refused(conid, event.message)

    def _connected(self) -> None:
        if self._status.state != UP:
            self._status.up()
            self._backoff.reset()
            log.info("upstream %s connected", self._address.shown)

    def _upstream_status(self, authenticated: bool, competing: bool) -> None:
        """The upstream's `sts`: lines are held only while its session is authenticated (a
        logout ends them upstream, so they are all subscribed again once it is back)."""
        self._connected()
        lines = self._lines
        if authenticated and not lines.connected:
            lines.connect()
            self.wake()
        elif not authenticated and lines.connected:
            lines.disconnect()
            self._status.lines = 0
        self._tell(SessionStatus(authenticated, competing))

    def _tell(self, upstream: SessionStatus) -> None:
        self._status.authenticated = upstream.authenticated
        self._status.competing = upstream.competing
        self._on_status(upstream)

    async def _writer(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        lines = self._lines
        while True:
            for message in lines.take(self._clock.monotonic_ns()):
                await ws.send_str(message)
            self._status.lines = lines.held()
            self._wake.clear()
            if lines.has_work():
                continue
            due = lines.next_due_ns()
            wait = self._poll_seconds
            if due is not None:
                wait = min(wait, max(0.0, (due - self._clock.monotonic_ns()) / NS_PER_S))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _keepalive(self, client: GatewayClient, ws: aiohttp.ClientWebSocketResponse) -> None:
        since_tickle = 0.0
        while True:
            await self._sleep(self._heartbeat_seconds)
            await ws.send_str(api.ApiClient.heartbeat())
            since_tickle += self._heartbeat_seconds
            if since_tickle >= self._tickle_seconds:
                since_tickle = 0.0
                await _tickle(client)


def _refused_line(request: str | None) -> int | None:
    """The conid of an upstream error about `smd+CONID` (a refused line), else None."""
    if request is None or not request.startswith("smd+"):
        return None
    conid = request[4:]
    return int(conid) if conid.isascii() and conid.isdigit() and len(conid) <= 10 else None


async def _tickle(client: GatewayClient) -> str:
    """POST /tickle; the session id it names. Raises ClientError when it names none."""
    answer = await client.call("POST", "/v1/api/tickle")
    session = answer.get("session") if isinstance(answer, dict) else None
    if not isinstance(session, str) or not session:
        raise ClientError(f"{client.base}/v1/api/tickle names no session: {answer}")
    return session
