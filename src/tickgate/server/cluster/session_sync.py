"""One brokerage session across a cluster, as one gateway has one.

The core's `BrokerSession` is the session: its id, whether it is logged in and whether
`/iserver/accounts` primed it. The core publishes that state on `session` after every change
and answers `session.get`; each edge adopts it (a logout on the core closes the edges' streams
as it closes its own). What a client does to the session on an edge (prime, log out, log in,
pre-flight a snapshot) is sent to the core as `session.op`, whose reply is the new state,
which every edge adopts. Two members changing the pre-flights at the same instant: the one
the core hears last wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats.errors
import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.server.session import BrokerSession

log = logging.getLogger("tickgate.cluster")

_OPS = ("prime", "logout", "login", "preflight")


def _preflights(session: BrokerSession) -> dict[str, list[int]]:
    return {str(conid): list(fields) for conid, fields in session.preflighted.items()}


def _state(session: BrokerSession) -> bytes:
    return orjson.dumps(
        {
            "id": session.id,
            "authenticated": session.authenticated,
            "primed": session.primed,
            "preflighted": _preflights(session),
        },
        option=orjson.OPT_NON_STR_KEYS,
    )


def _read_preflights(raw: object) -> dict[int, tuple[int, ...]]:
    if not isinstance(raw, dict):
        raise TypeError("preflighted must be an object")
    return {int(conid): tuple(int(f) for f in fields) for conid, fields in raw.items()}


def _adopt(session: BrokerSession, data: bytes, unacknowledged: list[str]) -> bool:
    """Take the core's state from `data`, with the effect of the operations done here that
    the core has not acknowledged yet on top (a state it sent before it saw them must not
    undo them: a client that just primed the session must be able to stream)."""
    try:
        raw = orjson.loads(data)
        session_id, authenticated, primed = (
            str(raw["id"]),
            bool(raw["authenticated"]),
            bool(raw["primed"]),
        )
        preflights = _read_preflights(raw.get("preflighted", {}))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("ignoring a bad session state message")
        return False
    for op in unacknowledged:
        if op == "prime":
            primed = True
        elif op == "logout":
            authenticated, primed = False, False
        elif op == "login":
            authenticated = True
    local = dict(session.preflighted)
    session.adopt(session_id, authenticated=authenticated, primed=primed)
    session.preflighted.replace(local if "preflight" in unacknowledged else preflights)
    return True


class CoreSession:
    """The core's side: publishes its session's state and applies edges' operations."""

    def __init__(self, session: BrokerSession, bus: NatsBus) -> None:
        self._session = session
        self._bus = bus
        self._subscriptions: list[Subscription] = []
        self._pending: set[asyncio.Task[None]] = set()
        session.add_change_listener(lambda _what: self._publish_soon())
        session.add_status_listener(lambda _authenticated: self._publish_soon())

    async def start(self) -> None:
        prefix = self._bus.prefix
        self._subscriptions = [
            await self._bus.client.subscribe(f"{prefix}.session.get", cb=self._on_get),
            await self._bus.client.subscribe(f"{prefix}.session.op", cb=self._on_op),
        ]
        await self._bus.round_trip()
        await self._publish()  # edges that started first learn the id now

    async def close(self) -> None:
        for subscription in self._subscriptions:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        for task in list(self._pending):
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)

    def _publish_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self._publish())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _publish(self) -> None:
        with contextlib.suppress(nats.errors.Error):
            await self._bus.client.publish(f"{self._bus.prefix}.session", _state(self._session))

    async def _on_get(self, msg: Msg) -> None:
        if msg.reply:
            await self._bus.client.publish(msg.reply, _state(self._session))

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
        else:
            log.warning("ignoring session operation %r", op)
        # The state goes to every edge before the reply goes to the one that asked (one
        # connection keeps its order), so by the time its client hears the answer and turns
        # to another member, that member has the new state on its way.
        await self._publish()
        if msg.reply:
            await self._bus.client.publish(msg.reply, _state(self._session))


class EdgeSession:
    """An edge's side: adopts the core's session and sends it what clients did here.

    `ready` is set once the core's state was adopted (an edge serves meanwhile with its own
    provisional id). Operations are sent in order by one task and retried until the core
    answers: a logout asked on an edge while the core is away still happens."""

    def __init__(self, session: BrokerSession, bus: NatsBus, *, timeout_s: float = 2.0) -> None:
        self._session = session
        self._bus = bus
        self._timeout_s = timeout_s
        self._ops: asyncio.Queue[str] = asyncio.Queue()
        #: Operations done here, queued or in flight, in order.
        self._unacknowledged: list[str] = []
        self._settle_waiters: list[asyncio.Future[None]] = []
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
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

    @property
    def unsettled(self) -> bool:
        return bool(self._unacknowledged)

    def _on_change(self, what: str) -> None:
        if what in _OPS:
            self._unacknowledged.append(what)
            self._ops.put_nowait(what)

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

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()

    async def _on_state(self, msg: Msg) -> None:
        if _adopt(self._session, msg.data, self._unacknowledged):
            self.ready.set()

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
                if _adopt(self._session, reply.data, self._unacknowledged):
                    self.ready.set()
                if not self._unacknowledged:
                    waiters, self._settle_waiters = self._settle_waiters, []
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
                break
