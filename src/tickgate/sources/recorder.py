"""`Recorder`: writes every tick that enters the market engine to a recording file.

The tick path only appends one JSON line to a list (about a microsecond, see
`benchmarks/bench_recorder.py`); a frame is made when the buffered lines reach `flush_bytes`
or when `flush_due` finds them older than `flush_ns`, and compressed and written by one writer
thread (zstd and ``write`` release the GIL), in order, so the event loop does not wait for
either. A frame leaves in a single ``os.write`` on an ``O_APPEND`` descriptor, so a SIGKILL
loses at most the lines not yet written (under a second with `run_flusher`) and a prefix of
one frame, which the reader skips. Nothing is fsynced: the page cache survives the death of
the process, which is the failure this guards against (not a power cut).

Rotation: with `rotate_bytes` or `rotate_hourly`, each file is named
``<stem>.<YYYYMMDDTHHMMSSZ>.<NNNN><suffix>`` after the clock time it was opened at (the serial
tells apart files opened within one second, so names sort in recording order), and a new one
is opened, with its own header, once the current one reached the size or the hour changed.
Without rotation the file is exactly the path given.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tickgate.clock import NS_PER_HOUR, NS_PER_S, Clock
from tickgate.errors import ConfigError
from tickgate.model.ticks import Tick
from tickgate.sources.recording import (
    RecordingHeader,
    frame,
    header_line,
    new_compressor,
    tick_line,
)

log = logging.getLogger("tickgate.recorder")

#: Buffered bytes (uncompressed) that make a frame at once: big enough to compress well.
FLUSH_BYTES = 256 * 1024
#: Age of the oldest buffered line that makes `flush_due` write a frame. Half the promised
#: second, so a late timer still keeps the promise.
FLUSH_NS = NS_PER_S // 2
#: Frames that may wait for the writer thread before `flush` waits itself.
MAX_IN_FLIGHT = 8


@dataclass(slots=True)
class RecorderStats:
    """Counters of one recorder, for `/tickgate/status` and tests."""

    ticks: int = 0
    frames: int = 0
    bytes_written: int = 0
    files: int = 0


class Recorder:
    """Appends ticks to recording files; see the module docstring for the guarantees.

    `header` gives the header of each new file (called at every open, so a rotated file names
    the instruments known then). Owned by the event loop thread. Raises ConfigError when the
    path cannot be created or already exists (a recording is never overwritten or appended to).
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock,
        header: Callable[[int], RecordingHeader],
        rotate_bytes: int = 0,
        rotate_hourly: bool = False,
        flush_bytes: int = FLUSH_BYTES,
        flush_ns: int = FLUSH_NS,
        background: bool = True,
    ) -> None:
        self._path = path
        self._clock = clock
        self._header = header
        self._rotating = rotate_bytes > 0 or rotate_hourly
        self._rotate_bytes = rotate_bytes
        self._rotate_hourly = rotate_hourly
        self._flush_bytes = flush_bytes
        self._flush_ns = flush_ns
        # Used by one thread at a time: here until the first frame is handed to the writer.
        self._compressor = new_compressor()
        self._lines: list[bytes] = []
        self._buffered = 0
        self._oldest_ns = 0
        self._fd = -1
        self._file_bytes = 0
        self._file_hour = 0
        self._writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="tickgate-recorder")
            if background
            else None
        )
        self._in_flight: deque[Future[None]] = deque()
        self.failure: str | None = None
        self._closed = False
        self.stats = RecorderStats()
        self.files: list[Path] = []
        self._open()

    @property
    def current_file(self) -> Path:
        """The file being written now."""
        return self.files[-1]

    def record(self, tick: Tick) -> None:
        """Buffer `tick` with the current clock time; hands a frame to the writer when enough
        is buffered. Does nothing once writing failed (see `failure`)."""
        if self.failure is not None:
            return
        line = tick_line(self._clock.now_ns(), tick)
        if not self._lines:
            self._oldest_ns = self._clock.monotonic_ns()
        self._lines.append(line)
        self._buffered += len(line)
        self.stats.ticks += 1
        if self._buffered >= self._flush_bytes:
            self.flush()

    def flush_due(self) -> None:
        """Write a frame if the oldest buffered tick waited `flush_ns` or longer."""
        if self._lines and self._clock.monotonic_ns() - self._oldest_ns >= self._flush_ns:
            self.flush()

    def flush(self) -> None:
        """Turn every buffered tick into one frame, written (and the file rotated if a limit
        was reached) by the writer thread, or here without `background`.

        At most `MAX_IN_FLIGHT` frames wait for the writer; past that this call waits for
        the oldest, so a stalled disk bounds memory instead of growing it.
        """
        if not self._lines or self._closed:
            return
        lines, self._lines, self._buffered = self._lines, [], 0
        if self._writer is None:
            self._write_frame(lines)
            return
        while self._in_flight and self._in_flight[0].done():
            self._in_flight.popleft()
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            self._in_flight.popleft().result()
        self._in_flight.append(self._writer.submit(self._write_frame, lines))

    def close(self) -> None:
        """Write what is buffered, wait for the writer and close the file. Idempotent."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _write_frame(self, lines: list[bytes]) -> None:
        """Compress and append one frame, then rotate if due (on the writer thread)."""
        if self.failure is not None:
            return
        try:
            self._write(frame(lines, self._compressor))
            if self._rotating and self._should_rotate():
                os.close(self._fd)
                self._fd = -1
                self._open()
        except (OSError, ConfigError) as exc:
            # Disk full, file removed, rotation refused: say so once and stop recording; the
            # gateway itself goes on serving.
            self.failure = str(exc)
            log.error("recording stopped: %s", exc)

    def _should_rotate(self) -> bool:
        if self._rotate_bytes and self._file_bytes >= self._rotate_bytes:
            return True
        return self._rotate_hourly and self._clock.now_ns() // NS_PER_HOUR != self._file_hour

    def _open(self) -> None:
        now = self._clock.now_ns()
        path = self._next_path(now)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            raise ConfigError(f"recording {path} already exists; choose a new path") from None
        except OSError as exc:
            raise ConfigError(f"recording {path}: {exc.strerror or exc}") from None
        self.files.append(path)
        self.stats.files += 1
        self._file_bytes = 0
        self._file_hour = now // NS_PER_HOUR
        self._write(frame([header_line(self._header(now))], self._compressor))
        log.info("recording ticks to %s", path)

    def _next_path(self, now_ns: int) -> Path:
        if not self._rotating:
            return self._path
        stamp = datetime.datetime.fromtimestamp(now_ns / NS_PER_S, datetime.UTC)
        stem = f"{self._path.stem}.{stamp:%Y%m%dT%H%M%SZ}"
        serial = 1
        while True:  # a serial keeps names unique and sorted when files open in one second
            candidate = self._path.with_name(f"{stem}.{serial:04d}{self._path.suffix}")
            if not candidate.exists():
                return candidate
            serial += 1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:  # a regular file takes it all at once; loop for the rare short write
            written = os.write(self._fd, view)
            view = view[written:]
        self._file_bytes += len(data)
        self.stats.frames += 1
        self.stats.bytes_written += len(data)


async def run_flusher(recorder: Recorder, *, interval_s: float = 0.1) -> None:
    """Call `recorder.flush_due` every `interval_s` until cancelled; closes it on the way out."""
    try:
        while True:
            await asyncio.sleep(interval_s)
            recorder.flush_due()
    finally:
        recorder.close()
