"""The client half of RFC 6455 framing on a server: bytes from the client in, messages out.

The gateway runs its own framing on a socket once aiohttp has answered the upgrade, so that a
connection costs a parser's few fields rather than a WebSocket library's objects. This module
is that parser, sans-I/O: `ClientFrameReader.feed(bytes)` returns the complete messages the
bytes finished, in order, and stops at the first rule the client broke, giving the close code
and a reason for the close frame (`violation`). Server frames are built by `protocol.frames`.

Rules enforced (RFC 6455 §5), each a `Violation`:
- every client frame is masked (1002);
- no reserved bit is set: the gateway negotiates no extension (1002);
- the opcode is one RFC 6455 defines (1002);
- a control frame carries at most 125 bytes and is never fragmented (1002);
- continuation frames continue a started message, and a new data message does not begin
  inside one (1002);
- a data message (all its fragments) carries at most `max_message_bytes`, a limit that may
  change while the connection lives; it is checked against the header, before any payload is
  held (1009);
- a text message and a close reason are UTF-8 (1007); a close payload is empty or a code a
  peer may send plus a reason (1002).

Memory: an idle reader holds no buffer; bytes of an unfinished frame are kept until it is
complete, fragments of an unfinished message until its final frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

OP_CONTINUATION, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
PROTOCOL_ERROR = 1002
INVALID_DATA = 1007
MESSAGE_TOO_BIG = 1009
MAX_CONTROL_PAYLOAD = 125
_DATA_OPCODES = (OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
#: Close codes a peer may put in a close frame (RFC 6455 §7.4; 1004-1006 and 1015 are never sent).
_RECEIVABLE_CLOSE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)}) | frozenset(
    range(3000, 5000)
)


@dataclass(frozen=True, slots=True)
class Violation:
    """Why the connection must close: a close `code` and a `reason` for the close frame."""

    code: int
    reason: str


class Message(NamedTuple):
    """One complete client message.

    `opcode` is OP_TEXT (`text` holds it), OP_BINARY, OP_PING or OP_PONG (`data` holds the
    payload), or OP_CLOSE (`code` is its status code or None for an empty close, `text` its
    reason).
    """

    opcode: int
    data: bytes = b""
    text: str = ""
    code: int | None = None


def unmask(payload: bytes | bytearray, key: bytes | bytearray) -> bytes:
    """`payload` XOR the repeated 4-byte `key` (RFC 6455 §5.3), as one big-integer operation."""
    size = len(payload)
    if size == 0:
        return b""
    repeated = (bytes(key) * ((size + 3) // 4))[:size]
    mixed = int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
    return mixed.to_bytes(size, "little")


class ClientFrameReader:
    """Parses one client's byte stream; see the module docstring.

    After a violation the reader stays violated: `feed` returns nothing more.
    """

    __slots__ = (
        "_fragments",
        "_message_bytes",
        "_message_opcode",
        "_pending",
        "max_message_bytes",
        "violation",
    )

    def __init__(self, *, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self.violation: Violation | None = None
        # Bytes of a frame not yet complete (None when the stream is at a frame boundary).
        self._pending: bytearray | None = None
        # A fragmented data message in progress: its opcode, payloads so far and their size.
        self._message_opcode = 0
        self._fragments: list[bytes] | None = None
        self._message_bytes = 0

    @property
    def busy(self) -> bool:
        """True while a frame or a fragmented message has begun and not ended."""
        return self._pending is not None or self._fragments is not None

    def feed(self, data: bytes | bytearray) -> list[Message]:
        """The messages `data` (the next bytes from the client) completes, in order.

        Stops at a violation, which `violation` then holds; messages before it are returned.
        """
        if self.violation is not None:
            return []
        pending = self._pending
        if pending is not None:
            pending += data
            buffer: bytes | bytearray = pending
        else:
            buffer = data
        messages: list[Message] = []
        position, end = 0, len(buffer)
        while end - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length = second & 0x7F
            start = position + 2
            if length == 126:
                if end - start < 2:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if end - start < 8:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            violation = self._check_header(first, second, length)
            if violation is not None:
                self.violation = violation
                return messages
            start += 4  # the masking key (present: _check_header refused unmasked frames)
            if end - start < length:
                break
            payload = unmask(buffer[start : start + length], buffer[start - 4 : start])
            position = start + length
            message = self._frame(first, payload)
            if self.violation is not None:
                return messages
            if message is not None:
                messages.append(message)
        if position == end:
            self._pending = None
        elif pending is not None:
            del pending[:position]
        else:
            self._pending = bytearray(buffer[position:])
        return messages

    def _check_header(self, first: int, second: int, length: int) -> Violation | None:
        """The violation a frame's header already shows, before its payload has arrived."""
        if not second & 0x80:
            return Violation(PROTOCOL_ERROR, "client frames must be masked (RFC 6455 section 5.1)")
        if first & 0x70:
            return Violation(PROTOCOL_ERROR, "reserved bits set without a negotiated extension")
        opcode = first & 0x0F
        final = first & 0x80
        if opcode in _CONTROL_OPCODES:
            if not final:
                return Violation(PROTOCOL_ERROR, "control frames must not be fragmented")
            if length > MAX_CONTROL_PAYLOAD:
                return Violation(
                    PROTOCOL_ERROR,
                    f"control frame of {length} bytes exceeds {MAX_CONTROL_PAYLOAD} bytes",
                )
            return None
        if opcode == OP_CONTINUATION:
            if self._fragments is None:
                return Violation(PROTOCOL_ERROR, "continuation frame without a message begun")
        elif opcode in _DATA_OPCODES:
            if self._fragments is not None:
                return Violation(
                    PROTOCOL_ERROR, "new data frame while a fragmented message is unfinished"
                )
        else:
            return Violation(PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        total = self._message_bytes + length
        if total > self.max_message_bytes:
            return Violation(
                MESSAGE_TOO_BIG,
                f"message of {total} bytes exceeds the limit of {self.max_message_bytes} bytes",
            )
        return None

    def _frame(self, first: int, payload: bytes) -> Message | None:
        """The message a complete, valid-headed frame finishes, or None (a fragment)."""
        opcode = first & 0x0F
        if opcode in _CONTROL_OPCODES:
            if opcode == OP_CLOSE:
                return self._close(payload)
            return Message(opcode, payload)
        final = first & 0x80
        if opcode != OP_CONTINUATION:
            if final:
                return self._data(opcode, payload)
            self._message_opcode = opcode
            self._fragments = [payload]
            self._message_bytes = len(payload)
            return None
        fragments = self._fragments
        assert fragments is not None  # _check_header refused a continuation without a message
        fragments.append(payload)
        self._message_bytes += len(payload)
        if not final:
            return None
        self._fragments = None
        self._message_bytes = 0
        return self._data(self._message_opcode, b"".join(fragments))

    def _data(self, opcode: int, payload: bytes) -> Message | None:
        if opcode == OP_BINARY:
            return Message(OP_BINARY, payload)
        try:
            return Message(OP_TEXT, text=payload.decode("utf-8"))
        except UnicodeDecodeError:
            self.violation = Violation(INVALID_DATA, "text message is not valid UTF-8")
            return None

    def _close(self, payload: bytes) -> Message | None:
        if not payload:
            return Message(OP_CLOSE)
        if len(payload) == 1:
            self.violation = Violation(PROTOCOL_ERROR, "close frame payload of 1 byte")
            return None
        code = int.from_bytes(payload[:2], "big")
        if code not in _RECEIVABLE_CLOSE:
            self.violation = Violation(PROTOCOL_ERROR, f"invalid close code {code}")
            return None
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            self.violation = Violation(INVALID_DATA, "close reason is not valid UTF-8")
            return None
        return Message(OP_CLOSE, text=reason, code=code)
