"""Pre-encoded server→client WebSocket frames (RFC 6455 §5.2), so many can share one write.

The outbox builds its frames itself instead of asking the WebSocket library for each message:
a header is two to ten bytes, and concatenating `header + payload` for every frame of an
event-loop turn lets a whole turn leave in a single `transport.write`. Server frames are never
masked (RFC 6455 §5.1), never fragmented here, and never compressed.
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81
_FIN_CLOSE = 0x88
_LEN16 = 126
_LEN64 = 127
_MAX_CONTROL_PAYLOAD = 125
#: Close codes an endpoint may send (RFC 6455 §7.4.1; 1004-1006 and 1015 are reserved).
_SENDABLE_CLOSE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)}) | frozenset(
    range(3000, 5000)
)
# Frames below 126 bytes are the common case (one price update); their headers are cached.
_SHORT_TEXT_HEADERS: tuple[bytes, ...] = tuple(bytes((_FIN_TEXT, n)) for n in range(_LEN16))
_PACK16 = struct.Struct("!BBH").pack
_PACK64 = struct.Struct("!BBQ").pack


def text_header(length: int) -> bytes:
    """The header of a final, unmasked text frame carrying `length` payload bytes.

    Uses the shortest length encoding (7, 16 or 64 bits) as RFC 6455 requires.
    Raises ValueError for a negative length or one that does not fit in 63 bits.
    """
    if 0 <= length < _LEN16:
        return _SHORT_TEXT_HEADERS[length]
    if _LEN16 <= length <= 0xFFFF:
        return _PACK16(_FIN_TEXT, _LEN16, length)
    if 0xFFFF < length < 1 << 63:
        return _PACK64(_FIN_TEXT, _LEN64, length)
    raise ValueError(f"a frame payload length must be between 0 and 2**63-1, got {length}")


def text_frame(payload: bytes) -> bytes:
    """A complete final unmasked text frame (FIN=1, opcode 1) carrying `payload`.

    `payload` must be UTF-8 (a JSON document is); it is not validated here. Frames built by this
    function may be concatenated and written at once: each one is self-delimiting.
    """
    return text_header(len(payload)) + payload


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    """A complete unmasked close frame with a status `code` and a UTF-8 `reason`.

    A control frame carries at most 125 payload bytes, so a longer reason is cut to 123 bytes at
    a character boundary rather than refused: the code is what matters, the reason is a courtesy.
    Raises ValueError if `code` is not one an endpoint may send (1000-1003, 1007-1014,
    3000-4999).
    """
    if code not in _SENDABLE_CLOSE:
        raise ValueError(
            f"close code {code} may not be sent (use 1000-1003, 1007-1014 or 3000-4999)"
        )
    body = struct.pack("!H", code) + close_reason(reason)
    return bytes((_FIN_CLOSE, len(body))) + body


def control_frame(opcode: int, payload: bytes) -> bytes:
    """A complete unmasked control frame (a pong answering a ping: opcode 0xA) with `payload`.

    Raises ValueError for a payload over 125 bytes, which no control frame may carry.
    """
    if len(payload) > _MAX_CONTROL_PAYLOAD:
        raise ValueError(f"a control frame carries at most 125 bytes, got {len(payload)}")
    return bytes((0x80 | opcode, len(payload))) + payload


def close_reason(reason: str) -> bytes:
    """`reason` as the UTF-8 bytes a close frame can carry: at most 123, cut at a character."""
    raw = reason.encode("utf-8", errors="replace")[: _MAX_CONTROL_PAYLOAD - 2]
    # Cutting bytes may split a character; drop the partial tail so the reason stays UTF-8.
    return raw.decode("utf-8", errors="ignore").encode("utf-8")


#: A close frame with no status code (RFC 6455 §5.5.1 allows an empty body). The server answers a
#: client's close with it: clients such as ibind log any status code in the reply as an error.
EMPTY_CLOSE = b"\x88\x00"
