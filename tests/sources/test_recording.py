"""Recording files: header and ticks round-trip, a cut tail is skipped, rotation, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard
from tests.instruments import AAPL, EURUSD

from tickgate.clock import FakeClock
from tickgate.errors import ConfigError
from tickgate.market.catalogue.fields import instrument_from_row
from tickgate.model.ticks import Tick
from tickgate.sources.recorder import Recorder
from tickgate.sources.recording import (
    RecordingError,
    RecordingHeader,
    RecordingReader,
    instrument_row,
)


def header_for(now_ns: int) -> RecordingHeader:
    return RecordingHeader("simulator", now_ns, (AAPL, EURUSD))


def tick(n: int) -> Tick:
    return Tick(AAPL.conid if n % 2 else EURUSD.conid, {84: f"{100 + n}.00", 88: str(n)}, n)


def record(path: Path, clock: FakeClock, count: int, **options: int | bool) -> Recorder:
    recorder = Recorder(path, clock=clock, header=header_for, background=False, **options)  # type: ignore[arg-type]
    for n in range(count):
        clock.advance(ms=1)
        recorder.record(tick(n))
    return recorder


def test_instrument_rows_round_trip() -> None:
    for instrument in (AAPL, EURUSD):
        assert instrument_from_row(instrument_row(instrument)) == instrument


def test_ticks_come_back_exactly_with_their_receive_times(tmp_path: Path) -> None:
    clock = FakeClock()
    start = clock.now_ns()
    recorder = record(tmp_path / "ticks.tgr", clock, 1000, flush_bytes=4096)
    recorder.close()
    reader = RecordingReader(tmp_path / "ticks.tgr")
    assert reader.header == RecordingHeader("simulator", start, (AAPL, EURUSD))
    got = list(reader.ticks())
    assert got == [
        Tick(tick(n).conid, tick(n).fields, start + (n + 1) * 1_000_000) for n in range(1000)
    ]
    assert recorder.stats.frames > 3  # the size threshold made several frames
    assert not reader.truncated


def test_flush_due_writes_a_frame_once_the_oldest_tick_is_half_a_second_old(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = record(tmp_path / "ticks.tgr", clock, 3)
    frames = recorder.stats.frames  # the header
    clock.advance(ms=400)
    recorder.flush_due()
    assert recorder.stats.frames == frames
    clock.advance(ms=100)
    recorder.flush_due()
    assert recorder.stats.frames == frames + 1
    assert len(list(RecordingReader(tmp_path / "ticks.tgr").ticks())) == 3


def test_a_file_cut_inside_its_last_frame_gives_every_earlier_frame(tmp_path: Path) -> None:
    path = tmp_path / "ticks.tgr"
    recorder = record(path, FakeClock(), 500, flush_bytes=2048)
    recorder.close()
    whole = list(RecordingReader(path).ticks())
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # what a SIGKILL in the middle of a write leaves
    reader = RecordingReader(path)
    cut = list(reader.ticks())
    assert reader.truncated
    assert 0 < len(cut) < len(whole)
    assert cut == whole[: len(cut)]


def test_size_rotation_opens_named_files_each_with_a_header(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = record(tmp_path / "ticks.tgr", clock, 3000, rotate_bytes=4000, flush_bytes=2048)
    recorder.close()
    assert len(recorder.files) >= 3
    assert all(
        p.name.startswith("ticks.20260101T0000") and p.suffix == ".tgr" for p in recorder.files
    )
    assert sorted(recorder.files) == recorder.files  # names sort in recording order
    ticks = [t for path in recorder.files for t in RecordingReader(path).ticks()]
    assert [t.fields for t in ticks] == [tick(n).fields for n in range(3000)]


def test_hourly_rotation_starts_a_file_when_the_hour_changes(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = Recorder(
        tmp_path / "t.tgr", clock=clock, header=header_for, rotate_hourly=True, background=False
    )
    recorder.record(tick(1))
    clock.advance(seconds=1800)
    recorder.flush()
    assert len(recorder.files) == 1
    clock.advance(seconds=1800)
    recorder.record(tick(2))
    recorder.flush()
    recorder.record(tick(3))
    recorder.close()
    assert [p.name for p in recorder.files] == [
        "t.20260101T000000Z.0001.tgr",
        "t.20260101T010000Z.0001.tgr",
    ]
    assert [len(list(RecordingReader(p).ticks())) for p in recorder.files] == [2, 1]
    assert RecordingReader(recorder.files[1]).header.start_ns == clock.now_ns()


def test_an_existing_recording_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ticks.tgr"
    path.write_bytes(b"precious")
    with pytest.raises(ConfigError, match="already exists"):
        Recorder(path, clock=FakeClock(), header=header_for)
    assert path.read_bytes() == b"precious"


def test_files_that_are_not_recordings_are_refused_clearly(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tgr"
    plain.write_bytes(zstandard.ZstdCompressor().compress(b'{"hello": 1}\n'))
    with pytest.raises(RecordingError, match="not a tickgate recording"):
        RecordingReader(plain)
    garbage = tmp_path / "garbage.tgr"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(RecordingError, match="corrupt zstd frame at byte 0"):
        RecordingReader(garbage)
    empty = tmp_path / "empty.tgr"
    empty.write_bytes(b"")
    with pytest.raises(RecordingError, match="empty or truncated"):
        RecordingReader(empty)


def test_the_writer_thread_writes_every_frame_in_order_by_close(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "ticks.tgr"
    recorder = Recorder(path, clock=clock, header=header_for, flush_bytes=512)
    for n in range(5000):
        recorder.record(tick(n))
    recorder.close()
    recorder.close()  # idempotent
    assert recorder.stats.frames > 100
    assert [t.fields for t in RecordingReader(path).ticks()] == [
        tick(n).fields for n in range(5000)
    ]


def test_a_write_failure_stops_the_recording_once_and_clearly(tmp_path: Path) -> None:
    clock = FakeClock()
    folder = tmp_path / "rotating"
    recorder = record(folder / "t.tgr", clock, 10, rotate_bytes=1)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.write_bytes(b"")  # the next rotation cannot make its directory, even as root
    recorder.record(tick(11))
    recorder.flush()
    assert recorder.failure is not None and "rotating" in recorder.failure
    recorder.record(tick(12))
    assert recorder.stats.ticks == 11  # nothing more is taken
    recorder.close()
