"""The core's side of forwarded REST calls: each is answered by the core's own application.

The core adds a listening socket on loopback (`open`) to the runner that serves its clients,
so a forwarded request passes exactly the middlewares and handlers a direct client's does:
the session rule (401 while logged out), the reply discipline, pacing, the error answers,
the same route table. There is no second copy of any route's logic. The loopback socket is
only a way into the application: the edge's client already passed the edge's access rules,
and on loopback with the forwarded cookie and authorization it passes the core's too.

Guarantees:
- a request whose deadline passed before it reached the core is refused with a 503 and not
  carried out (see `rest_envelope`); nothing here retries;
- requests are answered concurrently (a slow one does not hold up an order), each in a task
  this responder owns; `close` ends the subscription, waits for those in flight and closes
  the HTTP session;
- an unreadable request is answered 400 when it has a reply subject, and logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiohttp
import nats.errors
import orjson
from aiohttp import web
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.clock import NS_PER_MS, Clock
from tickgate.server.cluster.rest_envelope import (
    EnvelopeError,
    ForwardedResponse,
    decode_request,
    encode_response,
)
from tickgate.server.cluster.session_sync import SESSION_VERSION_HEADER
from tickgate.server.cluster.trading_forward import HOP_BY_HOP

log = logging.getLogger("tickgate.cluster.serve")

#: The most a forwarded request may take on the core when its deadline allows more.
MAX_ANSWER_S = 60.0


def _error(status: int, message: str) -> ForwardedResponse:
    return ForwardedResponse(
        status, (("Content-Type", "application/json"),), orjson.dumps({"error": message})
    )


class TradingResponder:
    """Answers forwarded requests on `subject` through the application at `base_url`.
    Create with `await TradingResponder.start(...)`."""

    def __init__(
        self,
        client: Client,
        subject: str,
        base_url: str,
        clock: Clock,
        *,
        session_version: Callable[[], int] | None = None,
    ) -> None:
        self.client, self.subject, self.base_url, self.clock = client, subject, base_url, clock
        #: The core's session version once an answer is made: it travels with the answer
        #: (`SESSION_VERSION_HEADER`) so the edge answers once it has that state.
        self._session_version = session_version
        # No cookie jar: each request carries its own client's cookies, never another's.
        self._http = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.answered = 0
        self.late = 0
        self.bad = 0

    @classmethod
    async def start(
        cls,
        bus: NatsBus,
        subject: str,
        base_url: str,
        clock: Clock,
        *,
        session_version: Callable[[], int] | None = None,
    ) -> TradingResponder:
        """Subscribe on `bus`'s connection; return once the NATS server routes `subject` here."""
        responder = cls(bus.client, subject, base_url, clock, session_version=session_version)
        responder._subscription = await bus.client.subscribe(subject, cb=responder._on_request)
        await bus.round_trip()
        return responder

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.create_task(self._answer(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            request = decode_request(msg.data)
        except EnvelopeError as exc:
            self.bad += 1
            if self.bad == 1:
                log.warning("unreadable forwarded request on %s: %s", msg.subject, exc)
            await self._reply(msg, _error(400, f"unreadable forwarded request: {exc}"))
            return
        left_s = (request.deadline_ms - self.clock.host_ns() // NS_PER_MS) / 1000
        if left_s <= 0:
            self.late += 1
            log.warning(
                "%s %s from edge %s arrived %.3f s after its deadline: not carried out",
                request.method, request.path_qs, request.edge, -left_s,
            )  # fmt: skip
            await self._reply(
                msg, _error(503, "the request reached the core too late: not carried out")
            )
            return
        try:
            async with self._http.request(
                request.method,
                self.base_url + request.path_qs,
                headers=list(request.headers),
                data=request.body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=min(left_s, MAX_ANSWER_S)),
            ) as response:
                body = await response.read()
                headers = tuple(
                    (name, value)
                    for name, value in response.headers.items()
                    if name.lower() not in HOP_BY_HOP
                )
                if self._session_version is not None:
                    headers += ((SESSION_VERSION_HEADER, str(self._session_version())),)
                answer = ForwardedResponse(response.status, headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "forwarded %s %s failed on the core: %r", request.method, request.path_qs, exc
            )
            answer = _error(503, f"the core could not answer: {exc!r}")
        self.answered += 1
        await self._reply(msg, answer)

    async def _reply(self, msg: Msg, answer: ForwardedResponse) -> None:
        # The edge may be gone or the bus down: its client gets its 503 from the edge's timeout.
        with contextlib.suppress(nats.errors.Error):
            await self.client.publish(msg.reply, encode_response(answer))

    async def close(self) -> None:
        """Stop answering; wait for the answers in flight; release the HTTP session."""
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.close()


async def open_loopback(runner: web.AppRunner) -> str:
    """Listen on a free loopback port for `runner`'s application (beside its other sites);
    returns its base URL, `http://127.0.0.1:PORT`."""
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    if not sockets:
        raise OSError("the loopback socket for forwarded requests did not open")
    return f"http://127.0.0.1:{int(sockets[0].getsockname()[1])}"
