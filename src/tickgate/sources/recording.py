"""The tickgate recording file: an append-only sequence of independent zstd frames.

Layout. Every frame is a complete zstd frame whose content is newline-terminated JSON lines:

* a **header** line, an object, opens a file (and may reappear later: concatenated recordings
  stay readable)::

      {"format": "tickgate-recording", "version": 1, "source": "simulator",
       "start_ns": 1767225600000000000, "instruments": [{"conid": 265598, ...}, ...]}

  `instruments` are catalogue rows (the field names of `market.catalogue.fields.FIELDS`), so a
  replay can add them to its catalogue;
* a **tick** line, an array ``[recv_ns, conid, {"31": "189.50", "84": "189.49"}]``: the time
  the tick entered the market engine, its conid and the wire values it carried.

Why frames: a writer that is killed can only leave a *prefix* of its last frame behind (each
frame goes out in one ``write``), and a frame is only ever used once it is complete, so every
earlier frame decodes. The reader reports such a truncated tail instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import zstandard

from tickgate.errors import TickgateError
from tickgate.market.catalogue.fields import FIELDS, RowError, instrument_from_row
from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick

FORMAT = "tickgate-recording"
VERSION = 1
#: zstd level for recordings: level 3 (zstd's default) compresses tick lines about 8x at a few
#: hundred MB/s, far more than any tick rate the gateway serves.
LEVEL = 3
_READ_CHUNK = 1 << 20


class RecordingError(TickgateError):
    """A recording (or another replay input) cannot be read; the message names file and place."""


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    """What a recording file says about itself before its first tick."""

    source: str
    start_ns: int
    instruments: tuple[Instrument, ...]


def instrument_row(instrument: Instrument) -> dict[str, Any]:
    """`instrument` as a catalogue row: `instrument_from_row(instrument_row(i)) == i`."""
    row: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(instrument, name)
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, Enum):
            value = value.value
        row[name] = value
    return row


def header_line(header: RecordingHeader) -> bytes:
    """The JSON line that opens a recording."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "source": header.source,
        "start_ns": header.start_ns,
        "instruments": [instrument_row(i) for i in header.instruments],
    }
    return orjson.dumps(document) + b"\n"


def tick_line(recv_ns: int, tick: Tick) -> bytes:
    """The JSON line of one tick received at `recv_ns`."""
    return orjson.dumps(
        [recv_ns, tick.conid, tick.fields],
        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE,
    )


def frame(lines: Iterable[bytes], compressor: zstandard.ZstdCompressor) -> bytes:
    """One complete zstd frame holding `lines` (each already newline-terminated)."""
    return compressor.compress(b"".join(lines))


def new_compressor() -> zstandard.ZstdCompressor:
    """The compressor recordings are written with (content size and checksum in each frame)."""
    return zstandard.ZstdCompressor(level=LEVEL, write_checksum=True, write_content_size=True)


class RecordingReader:
    """Reads one recording file frame by frame, in file order.

    `header` is the first header of the file. `ticks()` yields every tick of every complete
    frame as a `Tick` whose `ts_ns` is the recorded receive time. After `ticks()` is exhausted,
    `truncated` tells whether the file ended inside a frame (a writer killed mid-write): that
    partial frame is skipped. Raises RecordingError for a file that is not a recording, a
    corrupt frame, or a line that is not a header or a tick.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.truncated = False
        first = next(self._frames(), None)
        if first is None:
            raise RecordingError(f"{path}: empty or truncated before its header frame")
        lines = first.splitlines()
        self.header = self._header(lines[0] if lines else b"", frame_no=1)

    def ticks(self) -> Iterator[Tick]:
        """Every tick of the file, in file order."""
        for number, content in enumerate(self._frames(), start=1):
            for line in content.splitlines():
                if line.startswith(b"{"):
                    self._header(line, frame_no=number)
                else:
                    yield self._tick(line, frame_no=number)

    def _frames(self) -> Iterator[bytes]:
        """Decompressed content of every complete frame; sets `truncated` at a partial tail."""
        try:
            handle: BinaryIO = self.path.open("rb")
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
        with handle:
            yield from self._decode(handle)

    def _decode(self, handle: BinaryIO) -> Iterator[bytes]:
        decompressor = zstandard.ZstdDecompressor()
        pending = b""
        offset = 0  # file offset of the frame being decoded, for error messages
        self.truncated = False
        while True:
            chunk = handle.read(_READ_CHUNK)
            if not chunk:
                self.truncated = bool(pending)
                return
            pending += chunk
            while pending:
                decoder = decompressor.decompressobj()
                parts: list[bytes] = []
                try:
                    parts.append(decoder.decompress(pending))
                except zstandard.ZstdError as exc:
                    raise RecordingError(
                        f"{self.path}: corrupt zstd frame at byte {offset}: {exc}"
                    ) from None
                if not decoder.eof:
                    break  # the frame continues in the next chunk (or the file was cut)
                rest = decoder.unused_data
                offset += len(pending) - len(rest)
                pending = rest
                yield b"".join(parts)

    def _header(self, line: bytes, *, frame_no: int) -> RecordingHeader:
        where = f"{self.path}: frame {frame_no}"
        try:
            document = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise RecordingError(f"{where}: not a tickgate recording header") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise RecordingError(f"{self.path}: not a tickgate recording (no {FORMAT} header)")
        if document.get("version") != VERSION:
            raise RecordingError(
                f"{where}: recording version {document.get('version')!r}, "
                f"this tickgate reads version {VERSION}"
            )
        try:
            instruments = tuple(instrument_from_row(row) for row in document["instruments"])
            return RecordingHeader(str(document["source"]), int(document["start_ns"]), instruments)
        except (KeyError, TypeError, ValueError, RowError) as exc:
            raise RecordingError(f"{where}: bad header: {exc}") from None

    def _tick(self, line: bytes, *, frame_no: int) -> Tick:
        try:
            recv_ns, conid, values = orjson.loads(line)
            fields = {int(fid): value for fid, value in values.items()}
            if not (isinstance(recv_ns, int) and isinstance(conid, int)):
                raise TypeError("time and conid must be integers")
            if not all(isinstance(value, str) for value in fields.values()):
                raise TypeError("field values must be strings")
        except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError) as exc:
            raise RecordingError(f"{self.path}: frame {frame_no}: bad tick line: {exc}") from None
        return Tick(conid, fields, recv_ns)
