"""What a fault does to every open WebSocket of a gateway at once.

Each action goes through the pump (`server.ws.Connection`) or the connection's dialect
session, never around them: a dropped socket is released by the pump as any other, an expired
stream ends through the session's own expiry, a stalled heartbeat is the session's state.
"""

from __future__ import annotations

import logging

from tickgate.protocol.frames import close_reason
from tickgate.server.faults.delayed_transport import DelayedTransport
from tickgate.server.faults.registry import Delay
from tickgate.server.gateway import Gateway
from tickgate.server.ws import Connection

log = logging.getLogger("tickgate.faults")

#: The dialect whose `smd` streams expire (the portal dialect's never do).
API_DIALECT = "api"


def _connections(gateway: Gateway) -> list[Connection]:
    return [c for c in gateway.connections if isinstance(c, Connection)]


def drop_all(gateway: Gateway, *, code: int | None, reason: str) -> int:
    """Close every WebSocket with `code` and `reason`, or with `code` None abort each
    transport (no close frame: the client sees the connection reset). How many."""
    connections = _connections(gateway)
    for connection in connections:
        if code is None:
            connection.transport.abort()
        else:
            connection.close(code, close_reason(reason))
    return len(connections)


def announce_competing(gateway: Gateway) -> int:
    """Another session takes the login: the brokerage session says so (every socket that
    hears its status gets its dialect's competing `sts`, and `/iserver/auth/status` shows it
    until the next login). How many sockets were told."""
    gateway.session.compete()
    return sum(1 for c in _connections(gateway) if c.session is not None and c.session.hears_status)


def expire_all(gateway: Gateway) -> int:
    """End every `smd` stream now, as its expiry would. How many streams."""
    now = gateway.clock.monotonic_ns()
    marked = gateway.hub.expire_all(API_DIALECT, now)
    for connection in _connections(gateway):
        connection.poke()  # the session's timer is due now: its expiry ends the streams
    return marked


def stall_heartbeats(gateway: Gateway, until_ns: int | None) -> int:
    """Stall (or with None resume) the heartbeat of every socket. How many sockets."""
    connections = _connections(gateway)
    for connection in connections:
        if connection.session is not None:
            connection.session.stall_heartbeat(until_ns)
            connection.poke()
    return len(connections)


def delay_frames(connection: Connection, delay: Delay | None) -> None:
    """Delay every frame `connection` writes by `delay` (None: no more; what is held leaves
    at once, in order)."""
    current = connection.outbox.transport
    if isinstance(current, DelayedTransport):
        current.release_all()
        connection.outbox.transport = current.inner
    if delay is not None:
        connection.outbox.transport = DelayedTransport(connection.outbox.transport, delay)


def delay_all_frames(gateway: Gateway, delay: Delay | None) -> int:
    """`delay_frames` on every socket. How many sockets."""
    connections = _connections(gateway)
    for connection in connections:
        delay_frames(connection, delay)
    return len(connections)
