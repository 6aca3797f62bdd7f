"""A watch over the frames a WebSocket client sends (RFC 6455 §5.2), before they are buffered.

The WebSocket library reassembles client messages; this guard only follows the frame headers of
the raw byte stream, in step with it, and says when the stream breaks a rule the library does
not enforce on a server, or enforces with a limit fixed at the upgrade:

- every client frame must be masked (RFC 6455 §5.1): an unmasked one is a protocol error (1002);
- a data message (all its fragments together) may carry at most `max_message_bytes`, a limit
  that can change while the connection lives (small until the client is trusted). The length
  is known from the header, so the violation is seen before any of the payload is held (1009).

Sans-I/O: bytes in, a verdict out. Payload bytes are counted, never copied or kept; at most one
frame header (14 bytes) is held between calls.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOL_ERROR = 1002
MESSAGE_TOO_BIG = 1009
_CONTROL_OPCODES = frozenset({0x8, 0x9, 0xA})
_HEADER_MIN = 2


@dataclass(frozen=True, slots=True)
class Violation:
    """Why the connection must close: a close `code` and a `reason` for the close frame."""

    code: int
    reason: str


class ClientFrameGuard:
    """Follows one client's frame boundaries; see the module docstring.

    After a violation the guard stays violated: every later `feed` returns the same verdict.
    """

    def __init__(self, *, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self._header = bytearray()
        self._payload_left = 0
        self._in_payload = False
        self._frame_is_data = False
        self._frame_final = False
        self._message_bytes = 0
        self._in_message = False
        self._violation: Violation | None = None

    @property
    def busy(self) -> bool:
        """True while a frame or a fragmented data message has begun and not ended."""
        return bool(self._header) or self._in_payload or self._in_message

    def feed(self, data: bytes) -> Violation | None:
        """Account for `data`, the next bytes from the client. Returns a violation or None."""
        position, end = 0, len(data)
        while self._violation is None and position < end:
            if self._in_payload:
                taken = min(self._payload_left, end - position)
                self._payload_left -= taken
                position += taken
                if self._payload_left == 0:
                    self._frame_done()
                continue
            needed = self._header_length()
            take = min(needed - len(self._header), end - position)
            self._header += data[position : position + take]
            position += take
            if len(self._header) == self._header_length():
                self._start_frame()
        return self._violation

    def _header_length(self) -> int:
        if len(self._header) < _HEADER_MIN:
            return _HEADER_MIN
        second = self._header[1]
        code = second & 0x7F
        extended = 2 if code == 126 else 8 if code == 127 else 0
        return _HEADER_MIN + extended + (4 if second & 0x80 else 0)

    def _start_frame(self) -> None:
        first, second = self._header[0], self._header[1]
        code = second & 0x7F
        if code == 126:
            length = int.from_bytes(self._header[2:4], "big")
        elif code == 127:
            length = int.from_bytes(self._header[2:10], "big")
        else:
            length = code
        self._header.clear()
        if not second & 0x80:
            self._violation = Violation(
                PROTOCOL_ERROR, "client frames must be masked (RFC 6455 section 5.1)"
            )
            return
        opcode = first & 0x0F
        self._frame_is_data = opcode not in _CONTROL_OPCODES
        self._frame_final = bool(first & 0x80)
        if self._frame_is_data:
            self._in_message = True
            self._message_bytes += length
            if self._message_bytes > self.max_message_bytes:
                self._violation = Violation(
                    MESSAGE_TOO_BIG,
                    f"message of {self._message_bytes} bytes exceeds the limit of "
                    f"{self.max_message_bytes} bytes",
                )
                return
        self._payload_left = length
        self._in_payload = True
        if length == 0:
            self._frame_done()

    def _frame_done(self) -> None:
        self._in_payload = False
        if self._frame_is_data and self._frame_final:
            self._in_message = False
            self._message_bytes = 0
