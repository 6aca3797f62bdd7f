"""Pre-encoded frames decode alone and concatenated (reference decoder, websocket-client)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websocket._abnf import ABNF, frame_buffer

from tickgate.protocol.frames import close_frame, text_frame, text_header


def decode_all(data: bytes) -> list[tuple[bool, int, bytes]]:
    """Reference decoder (RFC 6455 §5.2): (fin, opcode, payload) for every frame in `data`."""
    frames, pos = [], 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert first & 0x70 == 0, "reserved bits must be clear"
        assert second & 0x80 == 0, "server frames must not be masked"
        length, pos = second & 0x7F, pos + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, pos)
            assert length >= 126, "16-bit length used for a short payload"
            pos += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, pos)
            assert length > 0xFFFF and length < 1 << 63, "64-bit length used for a short payload"
            pos += 8
        assert pos + length <= len(data), "truncated frame"
        frames.append((bool(first & 0x80), first & 0x0F, data[pos : pos + length]))
        pos += length
    return frames


def decode_with_websocket_client(data: bytes, count: int) -> list[ABNF]:
    buffer = bytearray(data)

    def recv(n: int) -> bytes:
        chunk = bytes(buffer[:n])
        del buffer[:n]
        return chunk

    reader = frame_buffer(recv, skip_utf8_validation=False)
    frames = [reader.recv_frame() for _ in range(count)]
    assert not buffer
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_length_encodings_at_every_boundary(size: int) -> None:
    payload = b"x" * size
    frame = text_frame(payload)
    header_len = 2 if size < 126 else 4 if size <= 65535 else 10
    assert len(frame) == header_len + size
    assert decode_all(frame) == [(True, 1, payload)]
    (parsed,) = decode_with_websocket_client(frame, 1)
    assert (parsed.fin, parsed.opcode, parsed.mask_value, parsed.data) == (
        1,
        ABNF.OPCODE_TEXT,
        0,
        payload,
    )


@given(st.lists(st.text(max_size=300), max_size=20))
def test_concatenated_frames_decode_in_order(texts: list[str]) -> None:
    payloads = [t.encode() for t in texts]
    data = b"".join(text_frame(p) for p in payloads)
    assert decode_all(data) == [(True, 1, p) for p in payloads]
    assert [f.data for f in decode_with_websocket_client(data, len(payloads))] == payloads


def test_header_plus_payload_equals_frame() -> None:
    payload = b'{"31":"1.5","topic":"md+1"}'
    assert text_header(len(payload)) + payload == text_frame(payload)


@pytest.mark.parametrize("length", [-1, 1 << 63])
def test_impossible_lengths_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="length"):
        text_header(length)


def test_close_frame_carries_code_and_reason() -> None:
    frame = close_frame(1008, "slow consumer")
    assert decode_all(frame) == [(True, 8, struct.pack("!H", 1008) + b"slow consumer")]
    (parsed,) = decode_with_websocket_client(frame, 1)
    assert parsed.opcode == ABNF.OPCODE_CLOSE
    parsed.validate()  # websocket-client's own check of close code and UTF-8 reason


def test_close_frame_cuts_a_long_reason_at_a_character_boundary() -> None:
    frame = close_frame(1000, "é" * 200)
    ((_, opcode, body),) = decode_all(frame)
    assert opcode == 8 and len(body) <= 125
    assert body[2:].decode("utf-8") == "é" * 61  # 122 bytes: the 62nd character would split


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 2999, 5000])
def test_reserved_close_codes_are_refused(code: int) -> None:
    with pytest.raises(ValueError, match=str(code)):
        close_frame(code, "")
