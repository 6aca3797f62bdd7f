"""CSV tick files for replay.

A header row, then one tick per row, in time order:

* ``time`` (required): epoch nanoseconds, or ISO 8601 (UTC unless a zone is given);
* ``conid`` or ``symbol`` (one of them): the instrument, a symbol mapped by the `SymbolMap`;
* any of ``bid``, ``ask``, ``last`` (prices, put on the instrument's tick grid), ``bid_size``,
  ``ask_size``, ``last_size`` (whole numbers) and ``volume`` (the day's cumulative volume);
* any column named by a numeric field id (``7762``), copied to the wire as written.

An empty cell leaves that field out of the tick. Rows for unmapped symbols or unknown conids
are skipped (reported once); every other problem raises RecordingError with file and line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.sources.recording import RecordingError
from tickgate.sources.replay.inputs import SymbolMap
from tickgate.sources.replay.times import parse_timestamp

_PRICES = {"bid": F.BID, "ask": F.ASK, "last": F.LAST}
_SIZES = {"bid_size": F.BID_SIZE, "ask_size": F.ASK_SIZE, "last_size": F.LAST_SIZE}
_NAMED = {"time", "conid", "symbol", "volume", *_PRICES, *_SIZES}


class CsvInput:
    """A CSV tick file (see the module docstring for its columns)."""

    def __init__(self, path: Path, symbols: SymbolMap) -> None:
        self.name = str(path)
        self._path = path
        self._symbols = symbols

    def ticks(self) -> Iterator[Tick]:
        for line, cells in _rows(self._path):
            tick = self._tick(cells, line)
            if tick is not None:
                yield tick

    def _tick(self, cells: dict[str, str], line: int) -> Tick | None:
        where = f"{self._path}:{line}"
        instrument = self._instrument(cells, where)
        if instrument is None:
            return None
        try:
            ts_ns = parse_timestamp(cells["time"])
            values = _values(cells, instrument)
        except ValueError as exc:
            raise RecordingError(f"{where}: {exc}") from None
        return Tick(instrument.conid, values, ts_ns)

    def _instrument(self, cells: dict[str, str], where: str) -> Instrument | None:
        if cells.get("conid"):
            if not cells["conid"].isdigit():
                raise RecordingError(f"{where}: conid must be an integer, got {cells['conid']!r}")
            return self._symbols.by_conid(int(cells["conid"]))
        if cells.get("symbol"):
            return self._symbols.resolve(cells["symbol"])
        raise RecordingError(f"{where}: the row names no conid or symbol")


def first_row_ns(path: Path) -> int | None:
    """The time of the first row of a tick CSV, None when it has no rows. Raises
    RecordingError like `CsvInput.ticks`."""
    for line, cells in _rows(path):
        try:
            return parse_timestamp(cells["time"])
        except ValueError as exc:
            raise RecordingError(f"{path}:{line}: {exc}") from None
    return None


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, stripped cells) of every row, after checking the header."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        rows = csv.DictReader(handle)
        _check_header(path, rows.fieldnames)
        try:
            for row in rows:
                cells = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
                yield rows.line_num, cells
        except csv.Error as exc:
            raise RecordingError(f"{path}:{rows.line_num}: invalid CSV: {exc}") from None


def _check_header(path: Path, names: object) -> None:
    columns = [str(name).strip() for name in names] if isinstance(names, Sequence) else []
    if "time" not in columns or not {"conid", "symbol"} & set(columns):
        raise RecordingError(f"{path}:1: a tick CSV needs a time column and conid or symbol")
    for name in columns:
        if name not in _NAMED and not (name.isdigit() and int(name) in F.KNOWN_FIELDS):
            raise RecordingError(f"{path}:1: unknown column {name!r}")


def _values(cells: dict[str, str], instrument: Instrument) -> dict[int, str]:
    values: dict[int, str] = {}
    for column, fid in _PRICES.items():
        if cells.get(column):
            values[fid] = F.format_price(_number(column, cells[column]), instrument.price_decimals)
    for column, fid in _SIZES.items():
        if cells.get(column):
            values[fid] = F.format_size(_whole(column, cells[column]))
    if cells.get("volume"):
        volume = _whole("volume", cells["volume"])
        values[F.VOLUME] = F.format_volume(volume)
        values[F.VOLUME_EXACT] = str(volume)
    for column, value in cells.items():
        if column.isdigit() and value:
            values[int(column)] = value
    return values


def _number(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"{name} must be a number, got {text!r}")
    return value


def _whole(name: str, text: str) -> int:
    try:
        return F.parse_size(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole non-negative number, got {text!r}") from None
