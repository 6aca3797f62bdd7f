"""The wire form of a tick on a networked bus: compact, exact, cheap to decode in Python.

Layout of one message payload (the conid travels in the subject, not here)::

    ts_ns   int64, little endian
    seq     uint64, little endian (per-conid sequence number; 0 when the publisher has none)
    body    UTF-8: field id, US, value, US, field id, US, value ... (US = U+001F)

Field values are the wire-formatted strings the market engine carries (see `model.ticks`), so
the body is those strings verbatim and a round trip is exact by construction: no number is
parsed or re-formatted. The unit separator is a control character that no formatted market
value contains; a value that does contain it is refused at encoding rather than corrupted.
One `str.split` decodes the whole body, which is why this beats a per-field binary layout
(and JSON, which would need its string keys turned back into ints) in Python.
"""

from __future__ import annotations

import struct

from tickgate.bus.base import TickEncodingError
from tickgate.model.ticks import Tick

_HEADER = struct.Struct("<qQ")
HEADER_BYTES = _HEADER.size
_SEP = "\x1f"


def encode_tick(tick: Tick, seq: int = 0) -> bytes:
    """The payload for `tick` with sequence number `seq`.

    Raises `TickEncodingError` when a value contains U+001F or cannot be UTF-8 encoded, or when
    `ts_ns`/`seq` do not fit their 64-bit slots."""
    fields = tick.fields
    body = _SEP.join([f"{field}{_SEP}{value}" for field, value in fields.items()])
    if fields and body.count(_SEP) != 2 * len(fields) - 1:
        bad = sorted(field for field, value in fields.items() if _SEP in value)
        raise TickEncodingError(
            f"conid {tick.conid}: value of field(s) {bad} contains U+001F, which the bus "
            "uses as its separator"
        )
    try:
        return _HEADER.pack(tick.ts_ns, seq) + body.encode()
    except struct.error as exc:
        raise TickEncodingError(
            f"conid {tick.conid}: ts_ns {tick.ts_ns} or seq {seq} out of 64-bit range"
        ) from exc
    except UnicodeEncodeError as exc:
        raise TickEncodingError(f"conid {tick.conid}: a value is not valid text: {exc}") from exc


def decode_tick(conid: int, payload: bytes) -> tuple[int, Tick]:
    """`(seq, tick)` from a payload made by `encode_tick`.

    Raises `TickEncodingError` for anything else (short, not UTF-8, odd number of parts, a
    field id that is not an integer)."""
    try:
        ts_ns, seq = _HEADER.unpack_from(payload)
        body = payload[HEADER_BYTES:].decode()
        parts = body.split(_SEP) if body else []
        if len(parts) % 2:
            raise ValueError("odd number of field parts")
        pairs = iter(parts)
        fields = {int(field): value for field, value in zip(pairs, pairs, strict=True)}
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise TickEncodingError(
            f"conid {conid}: not a tick payload ({len(payload)} bytes): {exc}"
        ) from exc
    return seq, Tick(conid, fields, ts_ns)
