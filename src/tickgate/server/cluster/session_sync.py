"""One brokerage session across a cluster, as one gateway has one.

The core's `BrokerSession` is the session: its id, whether it is logged in, whether
`/iserver/accounts` primed it, the account `POST /iserver/account` selected, and whether an
order question awaits its reply. The core publishes that state on `session` after every change
and answers `session.get`; each edge adopts it (a logout on the core closes the edges' streams
as it closes its own). What a client does to the session on an edge (prime, log out, log in,
pre-flight a snapshot, make pending reply ids stale with a request the edge answers itself)
is sent to the core as `session.op`, whose reply is the new state, which every edge adopts.
Two members changing the pre-flights at the same instant: the one the core hears last wins.

Every state carries a version that grows with each change (from the host clock's ns at the
core's start, so a restarted core's are higher); an edge never adopts an older state than it
has. A forwarded request's answer names the version the core was at when it answered
(`SESSION_VERSION_HEADER`), and the edge answers its client once it has adopted that state:
a client that selected an account through an edge sees it selected in its next request there.

The core also repeats its state every `HEARTBEAT_S`. An edge that hears nothing from it for
three heartbeats, or whose bus is disconnected, marks its market data stale exactly as a relay
does when its upstream is away (`BrokerSession.set_upstream`): every client is told
`authenticated: false` (an `sts` frame on both dialects, `/iserver/auth/status`, `/tickle`),
streams stay subscribed and resume when the core is heard again, and `/readyz` says why. What
the core's clients are told beyond its login (a relay core's upstream away, a competing
session) reaches the edges' clients the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
import orjson
from aiohttp import web
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.dialects.brokerage import SessionStatus
from tickgate.server.session import BrokerSession

log = logging.getLogger("tickgate.cluster")

_OPS = ("prime", "logout", "login", "preflight", "interrupt")
#: The core repeats its state this often; an edge that misses three marks it stale.
HEARTBEAT_S = 2.0
#: The header of a forwarded answer naming the core's session version when it answered.
SESSION_VERSION_HEADER = "X-Tickgate-Session-Version"


def _preflights(session: BrokerSession) -> dict[str, list[int]]:
    return {str(conid): list(fields) for conid, fields in session.preflighted.items()}


def _read_preflights(raw: object) -> dict[int, tuple[int, ...]]:
    if not isinstance(raw, dict):
        raise TypeError("preflighted must be an object")
    return {int(conid): tuple(int(f) for f in fields) for conid, fields in raw.items()}


@dataclass(slots=True)
class _State:
    """The core's session as it travels: see the module docstring."""

    version: int
    session_id: str
    authenticated: bool
    primed: bool
    preflighted: dict[int, tuple[int, ...]]
    selected_account: str | None
    replies_pending: bool
    #: What the core's clients are told beyond its login (a relay's upstream, a competing
    #: session), as an upstream status for the edge's session.
    beyond_login: SessionStatus

    @classmethod
    def decode(cls, data: bytes) -> _State | None:
        """The state in `data`, or None (logged) when it is not one."""
        try:
            raw = orjson.loads(data)
            selected = raw.get("selected")
            return cls(
                version=int(raw.get("version", 0)),
                session_id=str(raw["id"]),
                authenticated=bool(raw["authenticated"]),
                primed=bool(raw["primed"]),
                preflighted=_read_preflights(raw.get("preflighted", {})),
                selected_account=None if selected is None else str(selected),
                replies_pending=bool(raw.get("replies", False)),
                beyond_login=SessionStatus(
                    authenticated=bool(raw.get("upstream", True)),
                    competing=bool(raw.get("competing", False)),
                ),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("ignoring a bad session state message")
            return None


class CoreSession:
    """The core's side: publishes its session's state and applies edges' operations.

    `replies_pending` tells whether an order question awaits its reply, `interrupt` makes
    pending reply ids stale (the core's order desk); `version_base` is where versions start."""

    def __init__(
        self,
        session: BrokerSession,
        bus: NatsBus,
        *,
        version_base: int = 0,
        replies_pending: Callable[[], bool] = lambda: False,
        interrupt: Callable[[], None] = lambda: None,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._session = session
        self._bus = bus
        self._heartbeat_s = heartbeat_s
        self._heartbeat: asyncio.Task[None] | None = None
        self._replies_pending = replies_pending
        self._interrupt = interrupt
        self._replies_told = False
        self.version = version_base
        self._subscriptions: list[Subscription] = []
        self._pending: set[asyncio.Task[None]] = set()
        session.add_change_listener(lambda _what: self._publish_soon())
        session.add_status_listener(lambda _authenticated: self._publish_soon())

    def state(self) -> bytes:
        """The session as edges adopt it (see `_State`)."""
        session = self._session
        upstream = session.upstream or SessionStatus(authenticated=True)
        return orjson.dumps(
            {
                "version": self.version,
                "upstream": upstream.authenticated and not session.competing,
                "competing": session.status().competing,
                "id": session.id,
                "authenticated": session.authenticated,
                "primed": session.primed,
                "preflighted": _preflights(session),
                "selected": session.selected_account,
                "replies": self._replies_pending(),
            },
            option=orjson.OPT_NON_STR_KEYS,
        )

    def current_version(self) -> int:
        """The version of the state as it is now (a change not yet published counts: it is
        on its way to every edge)."""
        self.note_replies()
        return self.version

    def note_replies(self) -> None:
        """Publish the state if an order question started or stopped waiting since the last
        one (called after each request the core answered)."""
        pending = self._replies_pending()
        if pending != self._replies_told:
            self._replies_told = pending
            self._publish_soon()

    async def start(self) -> None:
        prefix = self._bus.prefix
        self._subscriptions = [
            await self._bus.client.subscribe(f"{prefix}.session.get", cb=self._on_get),
            await self._bus.client.subscribe(f"{prefix}.session.op", cb=self._on_op),
        ]
        await self._bus.round_trip()
        await self._publish()  # edges that started first learn the id now
        self._heartbeat = asyncio.create_task(self._beat(), name="core-session-heartbeat")

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if self._bus.connected:
                await self._publish()

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        for subscription in self._subscriptions:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _publish_soon(self) -> None:
        self.version += 1
        task = asyncio.get_running_loop().create_task(self._publish())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self) -> None:
        with contextlib.suppress(nats.errors.Error):
            await self._bus.client.publish(f"{self._bus.prefix}.session", self.state())

    async def _on_get(self, msg: Msg) -> None:
        if msg.reply:
            await self._bus.client.publish(msg.reply, self.state())

    async def _on_op(self, msg: Msg) -> None:
        op, _, body = msg.data.decode(errors="replace").partition(" ")
        if op == "preflight":
            try:
                self._session.preflighted.replace(_read_preflights(orjson.loads(body)))
            except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
                log.warning("ignoring a bad pre-flight operation")
        elif op == "prime":
            self._session.primed = True
        elif op == "logout":
            self._session.logout()
        elif op == "login":
            self._session.login()
        elif op == "interrupt":
            self._interrupt()
            self._replies_told = self._replies_pending()
        else:
            log.warning("ignoring session operation %r", op)
        self.version += 1  # whatever it changed (a pre-flight changes silently)
        # The state goes to every edge before the reply goes to the one that asked (one
        # connection keeps its order), so by the time its client hears the answer and turns
        # to another member, that member has the new state on its way.
        await self._publish()
        if msg.reply:
            await self._bus.client.publish(msg.reply, self.state())


class EdgeSession:
    """An edge's side: adopts the core's session and sends it what clients did here.

    `ready` is set once the core's state was adopted (an edge serves meanwhile with its own
    provisional id). Operations are sent in order by one task and retried until the core
    answers: a logout asked on an edge while the core is away still happens."""

    def __init__(
        self,
        session: BrokerSession,
        bus: NatsBus,
        *,
        timeout_s: float = 2.0,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._session = session
        self._bus = bus
        self._timeout_s = timeout_s
        self._heartbeat_s = heartbeat_s
        #: When the core was last heard (the loop's time), None before it ever was.
        self._heard: float | None = None
        self._beyond_login = SessionStatus(authenticated=True)
        #: Whether the core is heard from (see the module docstring); until it first is,
        #: no client is told the session is authenticated.
        self.core_present = False
        #: Whether the core was ever lost after being heard (its return is "heard again").
        self._lost_core = False
        self._watch: asyncio.Task[None] | None = None
        session.set_upstream(SessionStatus(authenticated=False))
        self._ops: asyncio.Queue[str] = asyncio.Queue()
        #: Operations done here, queued or in flight, in order.
        self._unacknowledged: list[str] = []
        self._settle_waiters: list[asyncio.Future[None]] = []
        self._adopted = asyncio.Condition()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        #: The version of the core's state adopted last (0: none yet).
        self.version = 0
        #: Whether an order question awaits its reply on the core, as last heard.
        self.replies_pending = False
        session.add_change_listener(self._on_change)
        bus.add_reconnect_listener(self._on_reconnect)

    async def settled(self, timeout_s: float = 2.0) -> bool:
        """Wait until the core acknowledged every operation done here (False after
        `timeout_s`): a request that primed or logged out answers once that is cluster-wide."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._unacknowledged:
            if loop.time() >= deadline:
                return False
            waiter = loop.create_future()
            self._settle_waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - loop.time()):
                    await waiter
        return True

    async def caught_up(self, version: int, timeout_s: float = 2.0) -> bool:
        """Wait until the core's state of `version` (or a later one) is adopted here; False
        after `timeout_s` (the core's state message was lost: the next one brings it)."""
        try:
            async with asyncio.timeout(timeout_s), self._adopted:
                await self._adopted.wait_for(lambda: self.version >= version)
        except TimeoutError:
            return False
        return True

    @property
    def unsettled(self) -> bool:
        return bool(self._unacknowledged)

    def interrupt_replies(self) -> None:
        """A request answered here makes the core's pending reply ids stale, as any request
        to one gateway does; a no-op while none is pending."""
        if self.replies_pending:
            self.replies_pending = False
            self._queue("interrupt")

    def _on_change(self, what: str) -> None:
        if what in _OPS:
            self._queue(what)

    def _queue(self, op: str) -> None:
        self._unacknowledged.append(op)
        self._ops.put_nowait(op)

    def _on_reconnect(self) -> None:
        self.ready.clear()  # a logout may have happened meanwhile: ask again
        self._ops.put_nowait("get")

    async def start(self) -> None:
        self._subscription = await self._bus.client.subscribe(
            f"{self._bus.prefix}.session", cb=self._on_state
        )
        await self._bus.round_trip()
        self._ops.put_nowait("get")
        self._task = asyncio.create_task(self._send_loop(), name="edge-session")
        self._watch = asyncio.create_task(self._watch_core(), name="edge-core-watch")

    def problem(self) -> str | None:
        """Why this edge's market data is stale now (the core is not heard from), or None."""
        if self.core_present:
            return None
        if not self._bus.connected:
            return "the cluster's core is not reachable: the bus is disconnected"
        if self._heard is None:
            return "the cluster's core has not been heard from yet"
        silent = asyncio.get_running_loop().time() - self._heard
        return f"the cluster's core has not been heard from for {silent:.0f} s"

    async def _watch_core(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._heartbeat_s / 2)
            heard = self._heard
            present = (
                self._bus.connected
                and heard is not None
                and loop.time() - heard <= 3 * self._heartbeat_s
            )
            if present != self.core_present:
                self._set_present(present)

    def _set_present(self, present: bool) -> None:
        self.core_present = present
        if present:
            again = " again" if self._lost_core else ""
            log.info("edge: the cluster's core is heard%s; market data is live", again)
        else:
            self._lost_core = True
            log.warning("edge: %s; market data is stale until it is back", self.problem())
        self._tell_upstream()

    def _tell_upstream(self) -> None:
        beyond = self._beyond_login
        self._session.set_upstream(
            SessionStatus(
                authenticated=self.core_present and beyond.authenticated,
                competing=beyond.competing,
            )
        )

    async def close(self) -> None:
        for task in (self._task, self._watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()

    async def _on_state(self, msg: Msg) -> None:
        await self._adopt(msg.data)

    async def _adopt(self, data: bytes) -> None:
        """Take the core's state from `data` unless an older one than adopted, with the effect
        of the operations done here that the core has not acknowledged yet on top (a state
        it sent before it saw them must not undo them: a client that just primed the session
        must be able to stream)."""
        state = _State.decode(data)
        if state is None:
            return
        self._heard = asyncio.get_running_loop().time()
        if state.version < self.version:
            return
        self._beyond_login = state.beyond_login
        if not self.core_present:
            self._set_present(True)
        else:
            self._tell_upstream()
        authenticated, primed, pending = state.authenticated, state.primed, state.replies_pending
        for op in self._unacknowledged:
            if op == "prime":
                primed = True
            elif op == "logout":
                authenticated, primed = False, False
            elif op == "login":
                authenticated = True
            elif op == "interrupt":
                pending = False
        session = self._session
        local = dict(session.preflighted)
        session.adopt(
            state.session_id,
            authenticated=authenticated,
            primed=primed,
            selected_account=state.selected_account,
        )
        session.preflighted.replace(
            local if "preflight" in self._unacknowledged else state.preflighted
        )
        self.replies_pending = pending
        self.ready.set()
        async with self._adopted:
            self.version = state.version
            self._adopted.notify_all()

    async def _send_loop(self) -> None:
        prefix = self._bus.prefix
        while True:
            op = await self._ops.get()
            if op == "get":
                subject, payload = f"{prefix}.session.get", b""
            elif op == "preflight":  # the pre-flights as they are now, not as they were
                subject = f"{prefix}.session.op"
                payload = b"preflight " + orjson.dumps(_preflights(self._session))
            else:
                subject, payload = f"{prefix}.session.op", op.encode()
            while True:
                try:
                    reply = await self._bus.client.request(
                        subject, payload, timeout=self._timeout_s
                    )
                except (nats.errors.Error, TimeoutError) as exc:
                    log.debug("session %s not answered by the core yet: %r", op, exc)
                    await asyncio.sleep(self._timeout_s / 4)
                    continue
                if op != "get":
                    self._unacknowledged.remove(op)  # the reply's state includes it
                await self._adopt(reply.data)
                if not self._unacknowledged:
                    waiters, self._settle_waiters = self._settle_waiters, []
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                break


CORE_SESSION = web.AppKey("core_session", CoreSession)
EDGE_SESSION = web.AppKey("edge_session", EdgeSession)
