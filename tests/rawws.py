"""A WebSocket client on a raw TCP socket, for tests where the bytes on the wire are the point.

It sends frames exactly as asked (unmasked, with a lying length, cut short) and keeps every byte
the server sent after the upgrade, so a test can assert that no HTTP response ever followed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from tickgate.server.app import RunningServer

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def frame(
    payload: bytes,
    *,
    opcode: int = OP_TEXT,
    fin: bool = True,
    masked: bool = True,
    declared: int | None = None,
) -> bytes:
    """A client frame; `declared` overrides the length in the header (the payload is as given)."""
    length = len(payload) if declared is None else declared
    head = bytearray([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head.append(mask_bit | length)
    elif length <= 0xFFFF:
        head.append(mask_bit | 126)
        head += struct.pack("!H", length)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", length)
    if not masked:
        return bytes(head) + payload
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(head) + key + body


@dataclass
class Closed:
    """The server's close frame: its code and reason, or code None for a bare close."""

    code: int | None
    reason: str


class RawWebSocket:
    """One upgraded connection; see the module docstring."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = bytearray()

    @classmethod
    async def open(
        cls, server: RunningServer, path: str, *, headers: dict[str, str] | None = None
    ) -> RawWebSocket:
        """Connect and upgrade; raises AssertionError unless the answer is 101."""
        reader, writer = await asyncio.open_connection(server.host, server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, text: str) -> None:
        self.writer.write(frame(text.encode()))

    async def _read(self, count: int) -> bytes:
        data = await self.reader.readexactly(count)
        self.received += data
        return data

    async def next_frame(self, timeout: float = 5.0) -> tuple[int, bytes]:
        """The next server frame as (opcode, payload). Raises IncompleteReadError at EOF."""
        async with asyncio.timeout(timeout):
            first, second = await self._read(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self._read(8))
            assert not second & 0x80, "server frames are never masked"
            return first & 0x0F, await self._read(length)

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next text frame as JSON (control frames other than close are skipped)."""
        while True:
            opcode, payload = await self.next_frame(timeout)
            assert opcode != OP_CLOSE, f"closed: {payload!r}"
            if opcode == OP_TEXT:
                value = orjson.loads(payload)
                assert isinstance(value, dict)
                return value

    async def recv_until_error(self, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                value = await self.recv(timeout)
                if "error" in value:
                    return value

    async def closed(self, timeout: float = 5.0) -> Closed:
        """Read until the server's close frame (skipping data frames), answer it, return it."""
        async with asyncio.timeout(timeout):
            while True:
                opcode, payload = await self.next_frame(timeout)
                if opcode == OP_CLOSE:
                    # Answer as a client does (RFC 6455 §5.5.1), so the server may close TCP.
                    with contextlib.suppress(ConnectionError):
                        self.writer.write(frame(payload[:2], opcode=OP_CLOSE))
                    if len(payload) < 2:
                        return Closed(None, "")
                    return Closed(struct.unpack("!H", payload[:2])[0], payload[2:].decode())

    async def at_eof(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the TCP connection (rest of the bytes kept)."""
        async with asyncio.timeout(timeout):
            rest = await self.reader.read()
        self.received += rest
        return self.reader.at_eof()

    def saw_http(self) -> bool:
        """True if anything after the upgrade looks like an HTTP response."""
        return b"HTTP/1." in self.received

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
