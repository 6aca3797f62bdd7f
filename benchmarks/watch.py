"""What the gateway holds for each WebSocket connection, sampled from inside the server process.

The slow-consumer scenario has to show where a stalled client's backlog sits and that it stops
growing: in the gateway's outbox (`Connection.outbox.stats`), in the transport's write buffer,
or in the kernel's send queue (`TIOCOUTQ` on the socket). `ConnectionWatch` samples every
connection in `gateway.connections` a few times a second, keeps per connection the peaks and the
moment conflation started, and writes them as JSON (keyed by the client's port, which the load
generator reports for the connections it stalled) when the server stops. A connection closed
before the measured window ended was closed by the gateway (the stalled client never closes).
"""

from __future__ import annotations

import asyncio
import fcntl
import struct
import termios
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from tickgate.server.gateway import Gateway


@dataclass
class Seen:
    """One connection's readings; byte counts are peaks over the samples, times are seconds
    since the feed started."""

    conflated: int = 0
    frames_written: int = 0
    outbox_closed: bool = False
    max_outbox_pending: int = 0
    max_transport_buffer: int = 0
    max_held: int = 0  # outbox pending + transport buffer, at the same moment
    max_kernel_queue: int = 0
    first_conflated_s: float | None = None
    #: first sample that found it closed or gone (the client's own close at the end too)
    closed_s: float | None = None


def kernel_queue(transport: asyncio.BaseTransport) -> int:
    """Bytes in the socket's kernel send queue, not yet acknowledged by the peer (0 if unknown)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    value: int = struct.unpack("i", raw)[0]
    return value


class ConnectionWatch:
    """Samples `gateway.connections` every `interval` seconds once `start()` is called."""

    def __init__(self, gateway: Gateway, *, interval: float = 0.25) -> None:
        self.gateway = gateway
        self.interval = interval
        self.seen: dict[int, Seen] = {}
        self._live: dict[int, Any] = {}
        self._t0 = time.monotonic()

    def start(self) -> None:
        """Mark the feed's start (time zero of `first_conflated_s`)."""
        self._t0 = time.monotonic()

    async def run(self) -> None:
        """Sample forever (until cancelled)."""
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def sample(self) -> None:
        """Read every open connection once; connections gone since the last sample are closed."""
        now = time.monotonic() - self._t0
        current = {_peer_port(c): c for c in list(self.gateway.connections)}
        for port in self._live.keys() - current.keys():
            self._closed(self.seen[port], now)
        self._live = current
        for port, connection in current.items():
            self._read(self.seen.setdefault(port, Seen()), connection, now)

    def _read(self, seen: Seen, connection: Any, now: float) -> None:
        stats = connection.outbox.stats
        buffered = connection.transport.get_write_buffer_size()
        seen.conflated = stats.conflated
        seen.frames_written = stats.frames_written
        seen.outbox_closed = connection.outbox.closed
        seen.max_outbox_pending = max(seen.max_outbox_pending, stats.pending_bytes)
        seen.max_transport_buffer = max(seen.max_transport_buffer, buffered)
        seen.max_held = max(seen.max_held, stats.pending_bytes + buffered)
        seen.max_kernel_queue = max(seen.max_kernel_queue, kernel_queue(connection.transport))
        if stats.conflated and seen.first_conflated_s is None:
            seen.first_conflated_s = round(now, 3)
        if seen.outbox_closed or connection.transport.is_closing():
            self._closed(seen, now)

    @staticmethod
    def _closed(seen: Seen, now: float) -> None:
        if seen.closed_s is None:
            seen.closed_s = round(now, 3)

    def write(self, path: Path) -> None:
        """Write `{port: readings}` to `path`. No last sample is taken: by then the load
        generator has gone and closed every socket itself."""
        document = {str(port): asdict(seen) for port, seen in self.seen.items()}
        path.write_bytes(orjson.dumps(document))


def _peer_port(connection: Any) -> int:
    peer = connection.transport.get_extra_info("peername")
    return int(peer[1]) if peer else id(connection)
