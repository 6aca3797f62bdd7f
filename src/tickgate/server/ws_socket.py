"""aiohttp's server WebSocket with the bounds a gateway socket needs before and after login.

aiohttp fixes its message limit (`max_msg_size`) when the socket is prepared and does not check
that client frames are masked. `GuardedWebSocket` puts a `ClientFrameGuard` in front of
aiohttp's frame parser, on the raw bytes, so that:

- a socket starts with a small message limit and gets the normal one once `trust()` is called
  (the dialect does so when the client has authenticated);
- an unmasked client frame closes the socket with 1002 (RFC 6455 §5.1);
- a message that has begun must be complete within `message_timeout` seconds, else 1008;
- every close for a protocol error carries a reason text, also for the errors aiohttp's own
  parser finds (reserved bits, bad opcodes, invalid UTF-8), which it closes without one.

A violation is reported the way aiohttp's parser reports its own errors (a `WebSocketError` on
the socket's message queue), so `receive()` answers with a close frame and then returns an
`ERROR` message whose data is that error.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import WebSocketError, web
from aiohttp.helpers import set_exception
from aiohttp.http_websocket import WebSocketWriter
from aiohttp.web_request import BaseRequest

from tickgate.protocol.frame_guard import ClientFrameGuard, Violation
from tickgate.protocol.frames import close_reason

POLICY_VIOLATION = 1008


class GuardedWebSocket(web.WebSocketResponse):
    """A server WebSocket; see the module docstring. `max_msg_size` is the trusted limit."""

    def __init__(
        self, *, untrusted_message_bytes: int, message_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.guard = ClientFrameGuard(max_message_bytes=untrusted_message_bytes)
        self._message_timeout = message_timeout
        self._stall: asyncio.TimerHandle | None = None
        self._failed = False

    def trust(self) -> None:
        """From now on accept messages up to `max_msg_size` (the client has authenticated)."""
        self.guard.max_message_bytes = self._max_msg_size

    def _post_start(
        self, request: BaseRequest, protocol: str | None, writer: WebSocketWriter
    ) -> None:
        handler = request.protocol
        # Bytes that arrived together with the upgrade request go through the guard as well.
        early, handler._message_tail = handler._message_tail, b""
        super()._post_start(request, protocol, writer)
        handler._payload_parser = _GuardedParser(handler._payload_parser, self)
        # The HTTP parser is done once the upgrade is accepted (aiohttp checks for None):
        # released, it no longer costs each socket its buffers.
        handler._parser = None
        if early:
            handler.data_received(early)

    def _received(self, data: bytes) -> Violation | None:
        """Called with each chunk of client bytes before aiohttp's parser sees it."""
        if self._failed:
            return Violation(POLICY_VIOLATION, "connection is closing")
        violation = self.guard.feed(data)
        if violation is not None:
            self.fail(violation)
            return violation
        if self.guard.busy and self._stall is None:
            assert self._loop is not None
            self._stall = self._loop.call_later(self._message_timeout, self._stalled)
        elif not self.guard.busy and self._stall is not None:
            self._stall.cancel()
            self._stall = None
        return None

    def _stalled(self) -> None:
        self._stall = None
        self.fail(
            Violation(
                POLICY_VIOLATION,
                f"message not completed within {self._message_timeout:g} s",
            )
        )

    def fail(self, violation: Violation) -> None:
        """End the connection for `violation`: `receive()` closes with its code and reason."""
        if self._failed or self._reader is None:
            return
        self._failed = True
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        set_exception(self._reader, WebSocketError(violation.code, violation.reason))

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        """Close as aiohttp does, but give a protocol error's close frame its reason text."""
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if not message and code != 1000 and self._reader is not None:
            error = self._reader.exception()
            if isinstance(error, WebSocketError) and error.code == code:
                message = close_reason(str(error))
        return await super().close(code=code, message=message, drain=drain)


class _GuardedParser:
    """Stands where aiohttp's frame parser stood: the guard first, then the real parser."""

    __slots__ = ("_parser", "_socket")

    def __init__(self, parser: Any, socket: GuardedWebSocket) -> None:
        self._parser = parser
        self._socket = socket

    def feed_data(self, data: bytes | bytearray | memoryview) -> tuple[bool, bytes]:
        chunk = data if type(data) is bytes else bytes(data)
        if self._socket._received(chunk) is not None:
            return True, b""  # aiohttp stops reading from the socket
        result: tuple[bool, bytes] = self._parser.feed_data(chunk)
        return result

    def feed_eof(self) -> None:
        self._parser.feed_eof()
