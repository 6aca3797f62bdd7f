"""The client frame reader against a reference encoder (websocket-client) and broken input."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websocket._abnf import ABNF

from tickgate.protocol.ws_reader import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    ClientFrameReader,
    Message,
    Violation,
    unmask,
)

LIMIT = 1 << 20
MASKED_BIT = "client frames must be masked (RFC 6455 section 5.1)"


def encoded(payload: bytes | str, opcode: int, *, fin: bool = True) -> bytes:
    """A masked client frame built by websocket-client (the reference encoder)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return bytes(ABNF(1 if fin else 0, 0, 0, 0, opcode, 1, data).format())


def raw(payload: bytes, first: int, *, masked: bool = True, declared: int | None = None) -> bytes:
    """A frame with an exact first byte (FIN, RSV, opcode); `declared` overrides the length."""
    length = len(payload) if declared is None else declared
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = bytes((first, mask_bit | length))
    elif length <= 0xFFFF:
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", length)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def feed_in_chunks(reader: ClientFrameReader, data: bytes, cuts: list[int]) -> list[Message]:
    messages: list[Message] = []
    start = 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        messages += reader.feed(data[start:cut])
        start = cut
    return messages


# A message as the client means it: (opcode, payload, how many fragments when a data message).
texts = st.text(max_size=300).map(lambda t: (OP_TEXT, t.encode(), 1))
binaries = st.binary(max_size=300).map(lambda b: (OP_BINARY, b, 1))
controls = st.tuples(st.sampled_from([OP_PING, OP_PONG]), st.binary(max_size=125), st.just(1))
intents = st.lists(
    st.tuples(st.one_of(texts, binaries, controls), st.integers(1, 4), st.booleans()), max_size=8
)


def stream_of(
    intent: list[tuple[tuple[int, bytes, int], int, bool]],
) -> tuple[bytes, list[Message]]:
    """The bytes a client sends for `intent` (data messages fragmented, a ping or a pong
    between fragments when asked) and the messages a reader must return for them."""
    out, expected = b"", []
    for (opcode, payload, _), parts, interleave in intent:
        if opcode in (OP_PING, OP_PONG):
            out += encoded(payload, opcode)
            expected.append(Message(opcode, payload))
            continue
        size = -(-len(payload) // parts) or 1
        pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
        for index, piece in enumerate(pieces):
            out += encoded(
                piece, opcode if index == 0 else OP_CONTINUATION, fin=index == len(pieces) - 1
            )
            if interleave and index < len(pieces) - 1:
                out += encoded(b"between", OP_PING)
                expected.append(Message(OP_PING, b"between"))
        if opcode == OP_TEXT:
            expected.append(Message(OP_TEXT, text=payload.decode()))
        else:
            expected.append(Message(OP_BINARY, payload))
    return out, expected


@given(intent=intents, cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_any_valid_stream_in_any_chunks_gives_its_messages(
    intent: list[tuple[tuple[int, bytes, int], int, bool]], cuts: list[int]
) -> None:
    data, expected = stream_of(intent)
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    assert feed_in_chunks(reader, data, cuts) == expected
    assert reader.violation is None and not reader.busy


@given(intent=intents.filter(bool), data=st.data())
def test_a_truncated_stream_gives_the_complete_messages_and_waits(
    intent: list[tuple[tuple[int, bytes, int], int, bool]], data: st.DataObject
) -> None:
    stream, expected = stream_of(intent)
    cut = data.draw(st.integers(0, len(stream) - 1))
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    got = reader.feed(stream[:cut])
    assert reader.violation is None
    assert got == expected[: len(got)] and len(got) < len(expected)
    assert reader.busy or cut == 0 or got  # cut inside a frame, or after whole messages
    assert got + reader.feed(stream[cut:]) == expected
    assert reader.violation is None and not reader.busy


@given(junk=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=4))
def test_arbitrary_bytes_never_raise_and_any_refusal_has_a_sendable_code(
    junk: bytes, cuts: list[int]
) -> None:
    reader = ClientFrameReader(max_message_bytes=200)
    feed_in_chunks(reader, junk, cuts)
    if reader.violation is not None:
        assert reader.violation.code in (1002, 1007, 1009)
        assert 0 < len(reader.violation.reason.encode()) <= 123
        assert reader.feed(encoded("after", OP_TEXT)) == []


@pytest.mark.parametrize(
    ("data", "violation"),
    [
        (raw(b"tic", 0x81, masked=False), Violation(1002, MASKED_BIT)),
        (raw(b"tic", 0x80 | 0x40 | OP_TEXT), None),  # RSV1: checked below by its reason
        (
            raw(b"x" * 126, 0x80 | OP_PING),
            Violation(1002, "control frame of 126 bytes exceeds 125 bytes"),
        ),
        (
            raw(b"", 0x80 | OP_PONG, declared=1 << 40),
            Violation(1002, f"control frame of {1 << 40} bytes exceeds 125 bytes"),
        ),
        (raw(b"hi", OP_PING), Violation(1002, "control frames must not be fragmented")),
        (
            raw(b"hi", 0x80 | OP_CONTINUATION),
            Violation(1002, "continuation frame without a message begun"),
        ),
        (
            raw(b"hi", OP_TEXT) + raw(b"again", 0x80 | OP_TEXT),
            Violation(1002, "new data frame while a fragmented message is unfinished"),
        ),
        (raw(b"\xff\xfe", 0x80 | OP_TEXT), Violation(1007, "text message is not valid UTF-8")),
        (
            raw(b"\xe2\x82", OP_TEXT) + raw(b"\xac", 0x80),
            None,
        ),  # "€" split across fragments is fine
        (raw(b"\x03", 0x80 | OP_CLOSE), Violation(1002, "close frame payload of 1 byte")),
        (raw(struct.pack("!H", 1005), 0x80 | OP_CLOSE), Violation(1002, "invalid close code 1005")),
        (raw(struct.pack("!H", 999), 0x80 | OP_CLOSE), Violation(1002, "invalid close code 999")),
        (
            raw(struct.pack("!H", 1000) + b"\xc3", 0x80 | OP_CLOSE),
            Violation(1007, "close reason is not valid UTF-8"),
        ),
    ],
)
def test_each_broken_rule_gives_its_code_and_reason(
    data: bytes, violation: Violation | None
) -> None:
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    messages = reader.feed(data)
    if violation is None and data[0] & 0x40:
        assert reader.violation is not None and reader.violation.code == 1002
        assert "reserved bits" in reader.violation.reason
        return
    assert reader.violation == violation
    if violation is None:
        assert messages == [Message(OP_TEXT, text="€")]


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_an_undefined_opcode_is_a_protocol_error(opcode: int) -> None:
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    reader.feed(raw(b"x", 0x80 | opcode))
    assert reader.violation == Violation(1002, f"unknown opcode {opcode:#x}")


def test_an_oversize_message_is_refused_at_its_header_before_any_payload() -> None:
    reader = ClientFrameReader(max_message_bytes=16384)
    header = raw(b"", 0x81, declared=(4 << 20) - 1)  # 14 bytes: header and key, no payload
    assert reader.feed(header) == []
    assert reader.violation == Violation(
        1009, f"message of {(4 << 20) - 1} bytes exceeds the limit of 16384 bytes"
    )


def test_fragments_count_together_towards_the_limit_and_controls_do_not() -> None:
    reader = ClientFrameReader(max_message_bytes=1024)
    reader.feed(raw(b"t" * 600, OP_TEXT) + raw(b"p" * 125, 0x80 | OP_PING))
    assert reader.violation is None and reader.busy
    reader.feed(raw(b"i" * 600, OP_CONTINUATION))
    assert reader.violation == Violation(
        1009, "message of 1200 bytes exceeds the limit of 1024 bytes"
    )


def test_the_limit_may_be_raised_while_the_connection_lives() -> None:
    reader = ClientFrameReader(max_message_bytes=10)
    assert reader.feed(encoded("short", OP_TEXT)) == [Message(OP_TEXT, text="short")]
    reader.max_message_bytes = 100
    assert reader.feed(encoded("x" * 50, OP_TEXT)) == [Message(OP_TEXT, text="x" * 50)]


def test_messages_before_a_violation_are_returned_and_none_after() -> None:
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    data = encoded("first", OP_TEXT) + raw(b"bad", 0x81, masked=False) + encoded("later", OP_TEXT)
    assert reader.feed(data) == [Message(OP_TEXT, text="first")]
    assert reader.violation is not None and reader.violation.code == 1002
    assert reader.feed(encoded("more", OP_TEXT)) == []


def test_a_close_gives_its_code_and_reason_or_none() -> None:
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    body = struct.pack("!H", 4001) + "bye ✓".encode()
    assert reader.feed(encoded(body, OP_CLOSE) + encoded(b"", OP_CLOSE)) == [
        Message(OP_CLOSE, text="bye ✓", code=4001),
        Message(OP_CLOSE),
    ]


def test_a_large_frame_uses_the_64_bit_length_and_arrives_whole() -> None:
    payload = os.urandom(70_000)
    reader = ClientFrameReader(max_message_bytes=LIMIT)
    data = encoded(payload, OP_BINARY)
    got = [
        m for start in range(0, len(data), 4096) for m in reader.feed(data[start : start + 4096])
    ]
    assert got == [Message(OP_BINARY, payload)] and not reader.busy


@given(payload=st.binary(max_size=600), key=st.binary(min_size=4, max_size=4))
def test_unmask_is_the_repeated_key_xor(payload: bytes, key: bytes) -> None:
    assert unmask(payload, key) == bytes(b ^ key[i % 4] for i, b in enumerate(payload))
