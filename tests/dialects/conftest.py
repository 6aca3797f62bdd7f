"""Dialect sessions without sockets: a real gateway's engines on a fake clock, and outboxes
that write into memory, so every frame a session sends can be read back in order."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.conftest import make_config

from tickgate.clock import FakeClock
from tickgate.dialects.context import DialectContext, Now
from tickgate.model.ticks import Tick
from tickgate.server.app import build_gateway
from tickgate.server.gateway import Gateway
from tickgate.server.ws import dialect_context
from tickgate.streaming.outbox import Outbox


class MemoryTransport:
    """What an outbox writes to, kept in memory."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False


def unframe(data: bytes) -> list[bytes]:
    """The payloads of server WebSocket text frames (unmasked, as a server sends them)."""
    out, pos = [], 0
    while pos < len(data):
        length, pos = data[pos + 1] & 0x7F, pos + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, pos)
            pos += 8
        out.append(bytes(data[pos : pos + length]))
        pos += length
    return out


class Wire:
    """One connection's outbox on a memory transport; `payloads()` reads what was sent since."""

    def __init__(self, limit_bytes: int = 1_048_576) -> None:
        self.transport = MemoryTransport()
        self.overflows: list[str] = []
        self.outbox = Outbox(
            self.transport,
            schedule=lambda flush: None,  # the test flushes when it reads
            limit_bytes=limit_bytes,
            on_congested=lambda: None,
            on_overflow=self.overflows.append,
        )

    def payloads(self) -> list[bytes]:
        self.outbox.flush()
        data, self.transport.data = bytes(self.transport.data), bytearray()
        return unframe(data)

    def frames(self) -> list[Any]:
        return [orjson.loads(p) for p in self.payloads()]


class Engines:
    """A gateway's engines on a fake clock, with no server and no source running."""

    def __init__(self, gateway: Gateway, clock: FakeClock) -> None:
        self.gateway = gateway
        self.clock = clock
        self.context: DialectContext = dialect_context(gateway)

    def now(self) -> Now:
        return Now(self.clock.monotonic_ns(), self.clock.now_ns(), self.clock.host_ns())

    def tick(self, conid: int, **fields: str) -> None:
        """Feed the market engine one tick (`f31="189.5"` sets field 31)."""
        values = {int(name[1:]): value for name, value in fields.items()}
        self.gateway.market.apply(Tick(conid, values, self.clock.now_ns()))


MakeEngines = Callable[..., Engines]


@pytest.fixture
def engines_factory(tmp_path: Path) -> Iterator[MakeEngines]:
    made: list[Gateway] = []

    def make(**changes: Any) -> Engines:
        clock = FakeClock()
        config = make_config(tmp_path / str(len(made)), store="memory", **changes)
        gateway = build_gateway(config, clock)
        made.append(gateway)
        return Engines(gateway, clock)

    yield make
    for gateway in made:
        gateway.trading.store.close()


@pytest.fixture
def engines(engines_factory: MakeEngines) -> Engines:
    return engines_factory()
