"""The core's pushed notices for edges: the `ntf` frame of an alert that fires reaches every
authenticated `/v1/api/ws` socket of the cluster, as it reaches every socket of one gateway.

Alerts live in the core's trading engine (its store, its market), so only the core sees one
fire; it publishes the frame it pushes to its own sockets on `notices` (under the bus prefix)
and each edge pushes the same bytes to its own. A notice is not an account event: a single
gateway sends it once and forgets it (the notification itself stays listed by the forwarded
`/fyi` routes), so it travels at most once here too: an edge disconnected while an alert
fires misses its `ntf`, never the notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from tickgate.bus.nats import NatsBus
from tickgate.dialects.account_frames import NOTICES_TOPIC
from tickgate.streaming.accounts import AccountStreams
from tickgate.trading.fyi import FyiCenter, Notification

log = logging.getLogger("tickgate.cluster.notices")

#: The frame a gateway pushes for a posted notification, None for one it only lists.
NoticeFrame = Callable[[Notification], bytes | None]


def notices_subject(prefix: str) -> str:
    return f"{prefix}.notices"


class NoticePublisher:
    """The core's side: every frame `frame_of` makes of a posted notification goes out on
    `notices`. Publishing runs in tasks this publisher owns; `close` waits for them."""

    def __init__(self, bus: NatsBus, fyi: FyiCenter, frame_of: NoticeFrame) -> None:
        self._bus = bus
        self._frame_of = frame_of
        self._tasks: set[asyncio.Task[None]] = set()
        self.published = 0
        fyi.add_listener(self._on_notification)

    def _on_notification(self, notification: Notification) -> None:
        frame = self._frame_of(notification)
        if frame is None:
            return
        task = asyncio.get_running_loop().create_task(self._publish(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, frame: bytes) -> None:
        try:
            await self._bus.client.publish(notices_subject(self._bus.prefix), frame)
            self.published += 1
        except nats.errors.Error as exc:
            log.info("an alert notice did not reach the edges: %r", exc)

    async def close(self) -> None:
        await asyncio.gather(*self._tasks, return_exceptions=True)


class NoticeFollower:
    """An edge's side: pushes the core's notices to this edge's sockets (`accounts`)."""

    def __init__(self, bus: NatsBus, accounts: AccountStreams) -> None:
        self._bus = bus
        self._accounts = accounts
        self._subscription: Subscription | None = None
        self.pushed = 0

    async def start(self) -> None:
        """Return once the NATS server routes notices here."""
        self._subscription = await self._bus.client.subscribe(
            notices_subject(self._bus.prefix), cb=self._on_notice
        )
        await self._bus.round_trip()

    async def _on_notice(self, msg: Msg) -> None:
        self.pushed += 1
        self._accounts.publish(NOTICES_TOPIC, msg.data)

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
            self._subscription = None
