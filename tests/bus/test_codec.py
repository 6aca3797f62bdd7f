"""The tick wire format: exact round trips, clear refusals, compact frames."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.bus.base import TickEncodingError
from tickgate.bus.codec import HEADER_BYTES, MAX_BODY_BYTES, decode_ticks, encode_tick
from tickgate.model.ticks import Tick

values = st.text(alphabet=st.characters(blacklist_characters="\x1f", blacklist_categories=["Cs"]))
fields = st.dictionaries(st.integers(min_value=-(2**20), max_value=2**20), values, max_size=30)
frames = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2**64 - 1),
        fields,
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
    ),
    min_size=1,
    max_size=5,
)


@given(conid=st.integers(min_value=1, max_value=2**31), items=frames)
def test_every_message_of_ticks_round_trips_exactly(
    conid: int, items: list[tuple[int, dict[int, str], int]]
) -> None:
    ticks = [(seq, Tick(conid, f, ts)) for seq, f, ts in items]
    message = b"".join(encode_tick(tick, seq) for seq, tick in ticks)
    assert decode_ticks(conid, message) == ticks


@given(payload=st.binary(max_size=64))
def test_any_payload_decodes_or_raises_tick_encoding_error(payload: bytes) -> None:
    with contextlib.suppress(TickEncodingError):
        decode_ticks(1, payload)


def test_a_typical_quote_costs_a_header_plus_its_text() -> None:
    tick = Tick(265598, {31: "212.34", 84: "212.33", 86: "212.35"}, 1_764_583_000_000_000_000)
    frame = encode_tick(tick, 7)
    assert len(frame) == HEADER_BYTES + len("31\x1f212.34\x1f84\x1f212.33\x1f86\x1f212.35")
    assert HEADER_BYTES == 18


def test_a_value_holding_the_separator_is_refused_by_name() -> None:
    with pytest.raises(TickEncodingError, match=r"field\(s\) \[84\] contains U\+001F"):
        encode_tick(Tick(8314, {31: "1.00", 84: "1\x1f2"}, 0))


@pytest.mark.parametrize(
    ("tick", "seq", "reason"),
    [
        (Tick(8314, {31: "1"}, 2**63), 0, "out of 64-bit range"),
        (Tick(8314, {31: "1"}, 0), -1, "out of 64-bit range"),
        (Tick(8314, {31: "\ud800"}, 0), 0, "not valid text"),
        (Tick(8314, {31: "x" * MAX_BODY_BYTES}, 0), 0, "more than one tick may carry"),
    ],
)
def test_ticks_the_wire_cannot_carry_are_refused(tick: Tick, seq: int, reason: str) -> None:
    with pytest.raises(TickEncodingError, match=reason):
        encode_tick(tick, seq)


GOOD = encode_tick(Tick(8314, {31: "1.00"}, 1), 1)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"short",
        GOOD[:-1],  # truncated body
        GOOD + GOOD[:5],  # a good frame, then a truncated header
        bytes(16) + b"\x02\x0031",  # odd number of parts
        bytes(16) + b"\x03\x00x\x1f1",  # field id not an integer
        bytes(16) + b"\x02\x00\xff\xfe",  # not UTF-8
    ],
)
def test_malformed_messages_are_refused_whole(payload: bytes) -> None:
    with pytest.raises(TickEncodingError, match="not a tick message"):
        decode_ticks(8314, payload)
