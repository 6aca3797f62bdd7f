"""Backlogs: a snapshot larger than the outbox limit reaches a reader that keeps reading, live
frames wait behind it (none lost, none duplicated, none reordered), and only a reader that
stops reading is declared too slow."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tests.streaming.test_outbox import FakeTransport, decode

from tickgate.streaming.accounts import AccountStreams
from tickgate.streaming.backlog import Backlog, chunked_frames
from tickgate.streaming.outbox import Outbox
from tickgate.trading.events import TradingEvent

LIMIT = 65_536


class Reader:
    """A real outbox over a fake transport; `turn()` runs what the loop would run."""

    def __init__(self) -> None:
        self.transport = FakeTransport()
        self.scheduled: list[Callable[[], None]] = []
        self.overflows: list[str] = []
        self.outbox = Outbox(
            self.transport,
            schedule=self.scheduled.append,
            limit_bytes=LIMIT,
            high_water=LIMIT // 4,
            on_congested=lambda: None,
            on_overflow=self.overflows.append,
        )

    def turn(self) -> None:
        scheduled = list(self.scheduled)
        self.scheduled.clear()
        for flush in scheduled:
            flush()

    def received(self) -> list[bytes]:
        return [payload for data in self.transport.writes for payload in decode(data)]


def render(rows: Sequence[int]) -> bytes:
    return b"[" + b",".join(b"%08d" % row for row in rows) + b"]"


def rows_of(frames: list[bytes]) -> list[int]:
    return [int(part) for frame in frames for part in frame.strip(b"[]").split(b",") if part]


def test_chunked_frames_keep_order_and_size() -> None:
    frames = list(chunked_frames(list(range(1000)), render, max_bytes=900, max_rows=150))
    assert rows_of(frames) == list(range(1000))
    assert all(len(f) <= 900 for f in frames)
    assert max(len(rows_of([f])) for f in frames) <= 150
    assert list(chunked_frames([], render, max_bytes=900)) == []
    assert list(chunked_frames([1, 2], render, max_bytes=5)) == [b"[00000001]", b"[00000002]"]


def test_a_snapshot_forty_times_the_limit_reaches_a_reader_and_live_frames_follow_it() -> None:
    reader = Reader()
    streams = AccountStreams()
    live = iter(range(10_000_000, 20_000_000))

    def renderer(_event: TradingEvent) -> bytes:
        return render([next(live)])

    day = list(range(300_000))  # ~2.7 MB of rows through a 64 KiB outbox
    backlog = streams.subscribe(
        "acct",
        reader.outbox,
        renderer,  # type: ignore[arg-type]
        snapshot=chunked_frames(day, render, max_bytes=LIMIT // 4),
    )
    assert isinstance(backlog, Backlog)
    turns = 0
    published = 0
    while not backlog.pump():
        if turns % 7 == 0:  # a live event arrives while the snapshot is on its way
            streams.on_event(None, 0)  # type: ignore[arg-type]
            published += 1
        reader.turn()
        turns += 1
    streams.on_event(None, 0)  # type: ignore[arg-type]
    published += 1
    reader.turn()
    assert reader.overflows == []
    assert rows_of(reader.received()) == day + list(range(10_000_000, 10_000_000 + published))
    assert turns > 40 and published > 5


def test_a_reader_that_stops_reading_is_closed_only_when_live_frames_overflow() -> None:
    reader = Reader()
    streams = AccountStreams()
    frame = b"x" * 1000
    backlog = streams.subscribe(
        "acct",
        reader.outbox,
        lambda _event: frame,
        snapshot=chunked_frames(list(range(100_000)), render, max_bytes=LIMIT // 4),
    )
    assert backlog is not None
    reader.turn()
    reader.transport.buffered = LIMIT  # the kernel took nothing more: the reader stopped
    for _ in range(100):
        assert not backlog.pump()
        reader.turn()
    assert reader.overflows == [] and not reader.outbox.closed  # the snapshot alone: patience
    for _ in range(LIMIT // len(frame)):
        streams.on_event(None, 0)  # type: ignore[arg-type]
    assert reader.overflows == []
    streams.on_event(None, 0)  # type: ignore[arg-type]
    assert len(reader.overflows) == 1 and reader.overflows[0].startswith("slow consumer:")
    assert reader.outbox.closed and backlog.pump() and backlog.done


def test_a_small_snapshot_goes_out_at_once_and_unsubscribing_drops_a_backlog() -> None:
    reader = Reader()
    streams = AccountStreams()
    assert streams.subscribe("a", reader.outbox, lambda e: None, snapshot=[b"[1]"]) is None
    reader.turn()
    assert reader.received() == [b"[1]"]
    backlog = streams.subscribe(
        "b",
        reader.outbox,
        lambda e: None,
        snapshot=chunked_frames(list(range(100_000)), render, max_bytes=LIMIT // 4),
    )
    assert backlog is not None and not backlog.done
    assert streams.unsubscribe("b", reader.outbox)
    assert backlog.done and backlog.pump()
