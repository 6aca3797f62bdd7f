"""The per-connection outbox: one write per turn, order, conflation, overflow, closing."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from tickgate.protocol.frames import text_frame
from tickgate.streaming.outbox import Outbox, TurnBatcher


class FakeTransport:
    """Records writes; the test sets how full its buffer is and whether it is closing."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffered = 0
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.closing


def decode(data: bytes) -> list[bytes]:
    """Payloads of the unmasked final text frames in `data` (RFC 6455 §5.2)."""
    out, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0x81
        length, pos = data[pos + 1], pos + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, pos)
            pos += 8
        out.append(data[pos : pos + length])
        pos += length
    assert pos == len(data)
    return out


class Harness:
    def __init__(
        self, outbox_class: type[Outbox], *, limit_bytes: int = 1_048_576, high_water: int = 1000
    ) -> None:
        self.transport = FakeTransport()
        self.scheduled: list[Callable[[], None]] = []
        self.congested = 0
        self.overflows: list[str] = []
        self.reencoded: list[dict[int, str]] = []
        self.outbox = outbox_class(
            self.transport,
            schedule=self.scheduled.append,
            limit_bytes=limit_bytes,
            high_water=high_water,
            on_congested=self._congested,
            on_overflow=self.overflows.append,
        )

    def _congested(self) -> None:
        self.congested += 1

    def end_turn(self) -> None:
        """What the event loop does at the end of a turn: run the scheduled callbacks."""
        callbacks, self.scheduled[:] = list(self.scheduled), []
        for callback in callbacks:
            callback()

    def reencode(self, key: str) -> Callable[[Mapping[int, str]], bytes]:
        def encode(values: Mapping[int, str]) -> bytes:
            self.reencoded.append(dict(values))
            return market_payload(key, values)

        return encode

    def market(self, key: str, values: dict[int, str]) -> None:
        frame = text_frame(market_payload(key, values))
        self.outbox.push_market(key, frame, values, self.reencode(key))

    def frames(self) -> list[Any]:
        return [orjson.loads(p) for data in self.transport.writes for p in decode(data)]


def market_payload(key: str, values: Mapping[int, str]) -> bytes:
    return orjson.dumps({**{str(k): v for k, v in values.items()}, "topic": key})


def test_frames_of_one_turn_leave_in_one_write_in_push_order(outbox_class: type[Outbox]) -> None:
    h = Harness(outbox_class)
    h.outbox.push(b'{"n":1}')
    h.market("md+1", {31: "1.00"})
    h.outbox.push(b'{"n":2}')
    assert len(h.scheduled) == 1  # only the first push of the turn schedules a flush
    assert h.transport.writes == []
    h.end_turn()
    assert len(h.transport.writes) == 1
    assert h.frames() == [{"n": 1}, {"31": "1.00", "topic": "md+1"}, {"n": 2}]
    stats = h.outbox.stats
    assert (stats.frames_written, stats.writes, stats.pending_bytes) == (3, 1, 0)
    assert stats.bytes_written == len(h.transport.writes[0])


def test_each_turn_schedules_again_and_an_empty_flush_writes_nothing(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class)
    h.outbox.flush()
    assert h.transport.writes == []
    h.outbox.push(b"{}")
    h.end_turn()
    h.outbox.push(b"[]")
    assert len(h.scheduled) == 1
    h.end_turn()
    assert h.frames() == [{}, []] and h.outbox.stats.writes == 2


def test_large_payloads_use_long_frame_headers(outbox_class: type[Outbox]) -> None:
    h = Harness(outbox_class)
    big = orjson.dumps({"orders": ["x" * 70_000]})
    h.outbox.push(big)
    h.outbox.push(b'{"a":"' + b"y" * 300 + b'"}')
    h.end_turn()
    assert decode(h.transport.writes[0]) == [big, b'{"a":"' + b"y" * 300 + b'"}']


def test_congestion_holds_everything_and_conflates_market_data_per_key(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class)
    h.transport.buffered = 1001
    h.market("md+1", {31: "1.00", 84: "0.99"})
    h.end_turn()
    assert h.transport.writes == [] and h.congested == 1
    shared = {86: "1.01", 31: "1.02"}
    h.market("md+1", shared)
    h.market("md+2", {31: "5.00"})
    h.market("md+1", {31: "1.03"})
    assert h.scheduled == []  # while congested only the drain waiter flushes
    assert shared == {86: "1.01", 31: "1.02"}  # the caller's mapping is never modified
    h.transport.buffered = 0
    h.outbox.flush()
    # Latest value wins; the fields keep the order in which they first appeared.
    assert h.frames() == [
        {"31": "5.00", "topic": "md+2"},
        {"31": "1.03", "84": "0.99", "86": "1.01", "topic": "md+1"},
    ]
    assert list(h.frames()[1]) == ["31", "84", "86", "topic"]
    assert h.outbox.stats.conflated == 2 and h.outbox.stats.pending_bytes == 0


def test_a_covering_update_replaces_the_pending_frame_without_reencoding(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class)
    h.transport.buffered = 5000
    h.market("md+1", {31: "1.00"})
    h.outbox.flush()
    h.market("md+1", {31: "1.01", 84: "1.00"})
    h.transport.buffered = 0
    h.outbox.flush()
    assert h.reencoded == []
    assert h.frames() == [{"31": "1.01", "84": "1.00", "topic": "md+1"}]


def test_conflated_market_data_never_overtakes_an_earlier_reliable_frame(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class)
    h.transport.buffered = 5000
    h.market("md+1", {31: "1.00"})
    h.market("md+2", {31: "2.00"})
    h.outbox.push(b'{"order":1}')
    h.market("md+1", {31: "1.01"})  # after the order event: must be written after it
    h.outbox.push(b'{"order":2}')
    h.end_turn()
    h.transport.buffered = 0
    h.outbox.flush()
    assert h.frames() == [
        {"31": "2.00", "topic": "md+2"},
        {"order": 1},
        {"31": "1.01", "topic": "md+1"},
        {"order": 2},
    ]


def test_reliable_frames_are_never_conflated(outbox_class: type[Outbox]) -> None:
    h = Harness(outbox_class)
    h.transport.buffered = 5000
    for _ in range(3):
        h.outbox.push(b'{"same":1}')
    h.outbox.flush()
    h.transport.buffered = 0
    h.outbox.flush()
    assert h.frames() == [{"same": 1}] * 3


def test_still_congested_after_a_drain_asks_for_another_drain(outbox_class: type[Outbox]) -> None:
    h = Harness(outbox_class)
    h.transport.buffered = 5000
    h.outbox.push(b"{}")
    h.end_turn()
    h.outbox.flush()
    assert h.congested == 2 and h.transport.writes == []
    h.transport.buffered = 10
    h.outbox.flush()
    assert h.congested == 2 and h.frames() == [{}]


def test_memory_stays_bounded_while_congested(outbox_class: type[Outbox]) -> None:
    h = Harness(outbox_class)
    h.transport.buffered = 5000
    h.outbox.push(b"{}")
    h.end_turn()
    for i in range(10_000):
        h.market(f"md+{i % 10}", {31: f"{i}.00", 84 + i % 3: "1"})
    assert h.outbox.stats.pending_bytes <= 2 + 10 * 45  # one small frame per key, not 10 000
    assert h.outbox.stats.conflated == 10_000 - 10
    h.transport.buffered = 0
    h.outbox.flush()
    frames = h.frames()
    assert len(frames) == 11
    assert frames[-1] == {"31": "9999.00", "84": "1", "85": "1", "86": "1", "topic": "md+9"}


def test_one_huge_turn_of_market_data_is_conflated_without_congestion(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class, limit_bytes=1000)
    for i in range(1000):
        h.market("md+1", {31: f"{i}"})
    assert h.outbox.stats.pending_bytes <= 1000
    h.end_turn()
    assert h.congested == 0 and h.overflows == []
    frames = h.frames()
    assert frames[-1] == {"31": "999", "topic": "md+1"} and len(frames) < 100


def test_reliable_overflow_is_reported_once_and_the_outbox_closes(
    outbox_class: type[Outbox],
) -> None:
    h = Harness(outbox_class, limit_bytes=100)
    h.transport.buffered = 5000
    h.outbox.push(b"x" * 60)
    h.end_turn()
    h.outbox.push(b"y" * 60)
    h.outbox.push(b"z" * 60)
    h.market("md+1", {31: "1"})
    assert h.overflows == [
        "slow consumer: 120 bytes of account events and replies could not be delivered "
        "within 100 bytes"
    ]
    assert h.outbox.closed and h.outbox.stats.pending_bytes == 0
    h.transport.buffered = 0
    h.outbox.flush()
    assert h.transport.writes == []


def test_a_closing_transport_drops_everything(outbox_class: type[Outbox]) -> None:
    h = Harness(outbox_class)
    h.outbox.push(b"{}")
    h.transport.closing = True
    h.end_turn()
    assert h.transport.writes == [] and h.outbox.closed
    h.outbox.push(b"{}")
    assert h.scheduled == [] and h.outbox.stats.pending_bytes == 0


def test_turn_batcher_runs_every_requested_flush_from_one_callback() -> None:
    scheduled: list[Callable[[], None]] = []
    batcher = TurnBatcher(scheduled.append)
    ran: list[str] = []
    batcher(lambda: ran.append("a"))
    batcher(lambda: ran.append("b"))
    assert len(scheduled) == 1 and ran == []
    scheduled.pop()()
    assert ran == ["a", "b"]
    batcher(lambda: ran.append("c"))  # a new turn asks the loop again
    assert len(scheduled) == 1
    scheduled.pop()()
    assert ran == ["a", "b", "c"]
