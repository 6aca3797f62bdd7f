"""The tick wire format: exact round trips, clear refusals, compact payloads."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickgate.bus.base import TickEncodingError
from tickgate.bus.codec import HEADER_BYTES, decode_tick, encode_tick
from tickgate.model.ticks import Tick

values = st.text(alphabet=st.characters(blacklist_characters="\x1f", blacklist_categories=["Cs"]))
ticks = st.builds(
    Tick,
    conid=st.integers(min_value=1, max_value=2**31),
    fields=st.dictionaries(st.integers(min_value=-(2**20), max_value=2**20), values, max_size=30),
    ts_ns=st.integers(min_value=-(2**63), max_value=2**63 - 1),
)


@given(tick=ticks, seq=st.integers(min_value=0, max_value=2**64 - 1))
def test_every_tick_round_trips_exactly(tick: Tick, seq: int) -> None:
    assert decode_tick(tick.conid, encode_tick(tick, seq)) == (seq, tick)


@given(payload=st.binary(max_size=64))
def test_any_payload_decodes_or_raises_tick_encoding_error(payload: bytes) -> None:
    with contextlib.suppress(TickEncodingError):
        decode_tick(1, payload)


def test_a_typical_quote_costs_header_plus_its_text() -> None:
    tick = Tick(265598, {31: "212.34", 84: "212.33", 86: "212.35"}, 1_764_583_000_000_000_000)
    payload = encode_tick(tick, 7)
    assert len(payload) == HEADER_BYTES + len("31\x1f212.34\x1f84\x1f212.33\x1f86\x1f212.35")
    assert HEADER_BYTES == 16


def test_a_value_holding_the_separator_is_refused_by_name() -> None:
    with pytest.raises(TickEncodingError, match=r"field\(s\) \[84\] contains U\+001F"):
        encode_tick(Tick(8314, {31: "1.00", 84: "1\x1f2"}, 0))


@pytest.mark.parametrize(
    ("tick", "seq", "reason"),
    [
        (Tick(8314, {31: "1"}, 2**63), 0, "out of 64-bit range"),
        (Tick(8314, {31: "1"}, 0), -1, "out of 64-bit range"),
        (Tick(8314, {31: "\ud800"}, 0), 0, "not valid text"),
    ],
)
def test_ticks_the_wire_cannot_carry_are_refused(tick: Tick, seq: int, reason: str) -> None:
    with pytest.raises(TickEncodingError, match=reason):
        encode_tick(tick, seq)


@pytest.mark.parametrize(
    "payload",
    [b"", b"short", bytes(16) + b"31", bytes(16) + b"x\x1f1", bytes(16) + b"\xff\xfe"],
)
def test_malformed_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(TickEncodingError, match="not a tick payload"):
        decode_tick(8314, payload)
