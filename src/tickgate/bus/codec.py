"""The wire form of ticks on a networked bus: compact, exact, cheap to decode in Python.

A message carries one or more ticks of one conid (the conid travels in the subject). Each
tick is a frame::

    ts_ns   int64, little endian
    seq     uint64, little endian (per-conid sequence number; 0 when the publisher has none)
    size    uint16, little endian: bytes of body
    body    UTF-8: field id, US, value, US, field id, US, value ... (US = U+001F)

Field values are the wire-formatted strings the market engine carries (see `model.ticks`), so
the body is those strings verbatim and a round trip is exact by construction: no number is
parsed or re-formatted. The unit separator is a control character that no formatted market
value contains; a value that does contain it is refused at encoding rather than corrupted.
One `str.split` decodes a whole body, which is why this beats a per-field binary layout (and
JSON, which would need its string keys turned back into ints) in Python.
"""

from __future__ import annotations

import struct

from tickgate.bus.base import TickEncodingError
from tickgate.model.ticks import Tick

_HEADER = struct.Struct("<qQH")
HEADER_BYTES = _HEADER.size
MAX_BODY_BYTES = (1 << 16) - 1
_SEP = "\x1f"


def encode_tick(tick: Tick, seq: int = 0) -> bytes:
    """The frame for `tick` with sequence number `seq`; frames of one conid concatenate into
    one message.

    Raises `TickEncodingError` when a value contains U+001F or cannot be UTF-8 encoded, when
    the fields take more than 64 KiB, or when `ts_ns`/`seq` do not fit their 64-bit slots."""
    fields = tick.fields
    text = _SEP.join([f"{field}{_SEP}{value}" for field, value in fields.items()])
    if fields and text.count(_SEP) != 2 * len(fields) - 1:
        bad = sorted(field for field, value in fields.items() if _SEP in value)
        raise TickEncodingError(
            f"conid {tick.conid}: value of field(s) {bad} contains U+001F, which the bus "
            "uses as its separator"
        )
    try:
        body = text.encode()
        if len(body) > MAX_BODY_BYTES:
            raise TickEncodingError(
                f"conid {tick.conid}: {len(body)} bytes of fields, more than one tick may carry"
            )
        return _HEADER.pack(tick.ts_ns, seq, len(body)) + body
    except struct.error as exc:
        raise TickEncodingError(
            f"conid {tick.conid}: ts_ns {tick.ts_ns} or seq {seq} out of 64-bit range"
        ) from exc
    except UnicodeEncodeError as exc:
        raise TickEncodingError(f"conid {tick.conid}: a value is not valid text: {exc}") from exc


def decode_ticks(conid: int, payload: bytes) -> list[tuple[int, Tick]]:
    """`(seq, tick)` for every frame of a message made of `encode_tick` frames, in order.

    Raises `TickEncodingError` for anything else (empty, truncated, not UTF-8, odd number of
    parts, a field id that is not an integer); then no tick of the message is returned."""
    out: list[tuple[int, Tick]] = []
    offset, end = 0, len(payload)
    try:
        if not payload:
            raise ValueError("empty")
        while offset < end:
            ts_ns, seq, size = _HEADER.unpack_from(payload, offset)
            offset += HEADER_BYTES
            if offset + size > end:
                raise ValueError("truncated frame")
            text = payload[offset : offset + size].decode()
            offset += size
            parts = text.split(_SEP) if text else []
            if len(parts) % 2:
                raise ValueError("odd number of field parts")
            pairs = iter(parts)
            fields = {int(field): value for field, value in zip(pairs, pairs, strict=True)}
            out.append((seq, Tick(conid, fields, ts_ns)))
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise TickEncodingError(
            f"conid {conid}: not a tick message ({len(payload)} bytes): {exc}"
        ) from exc
    return out
