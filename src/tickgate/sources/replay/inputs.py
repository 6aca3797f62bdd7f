"""What a replay reads: tickgate recordings, Databento DBN files and CSV tick files.

Each file becomes a `TickInput`, which can be read from the start any number of times (a loop
or a seek back opens it again) and yields `Tick`s in time order, stamped with their recorded
time. The kind is chosen by name: ``.dbn`` / ``.dbn.zst`` are DBN, ``.csv`` is CSV, anything
else must be a tickgate recording.

DBN and CSV files name instruments by symbol; a `SymbolMap` turns symbols into catalogue
instruments (the catalogue's symbols, overridden by a ``symbol,conid`` mapping file) and
reports each symbol it cannot map once.
"""

from __future__ import annotations

import csv
import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.model.instruments import Instrument, SecType
from tickgate.model.ticks import Tick
from tickgate.sources.recording import RecordingError, RecordingReader

log = logging.getLogger("tickgate.replay")


class TickInput(Protocol):
    """One replayable file."""

    name: str

    def ticks(self) -> Iterator[Tick]:
        """Every tick of the file from its start, in time order. Raises RecordingError."""
        ...


def kind_of(path: Path) -> str:
    """'dbn', 'csv' or 'recording', from the file name."""
    name = path.name.lower()
    if name.endswith((".dbn", ".dbn.zst")):
        return "dbn"
    if name.endswith(".csv"):
        return "csv"
    return "recording"


def recorded_instruments(paths: Iterable[Path]) -> list[Instrument]:
    """The instruments named by the headers of the recordings among `paths` (first wins per
    conid), for the replay's catalogue. Raises RecordingError for an unreadable recording."""
    found: dict[int, Instrument] = {}
    for path in paths:
        if kind_of(path) == "recording":
            for instrument in RecordingReader(path).header.instruments:
                found.setdefault(instrument.conid, instrument)
    return list(found.values())


def first_tick_ns(inputs: Sequence[TickInput]) -> int | None:
    """The earliest first tick time over `inputs`, or None when every input is empty."""
    firsts = [tick.ts_ns for source in inputs for tick in itertools.islice(source.ticks(), 1)]
    return min(firsts) if firsts else None


def first_time(path: Path) -> int | None:
    """The time of the first record of `path`, whatever its instrument (before a catalogue
    exists to map symbols), or None for a file without records. Raises RecordingError."""
    kind = kind_of(path)
    if kind == "dbn":
        from tickgate.sources.replay.dbn_input import first_record_ns

        return first_record_ns(path)
    if kind == "csv":
        from tickgate.sources.replay.csv_input import first_row_ns

        return first_row_ns(path)
    return next((tick.ts_ns for tick in RecordingReader(path).ticks()), None)


class RecordingInput:
    """A tickgate recording (`sources.recording`). Truncated tails are skipped and counted."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        self._reader = RecordingReader(path)
        self.truncated = False

    def ticks(self) -> Iterator[Tick]:
        yield from self._reader.ticks()
        if self._reader.truncated and not self.truncated:
            log.warning("%s ends inside a frame (writer killed?): partial frame skipped", self.name)
        self.truncated = self._reader.truncated


class SymbolMap:
    """Symbols of DBN and CSV files to catalogue instruments.

    A symbol matches an instrument's symbol (stocks, ETFs, indices first), the FX pair's name
    (``EUR.USD``), or the conid a mapping file gives it. `unmapped` collects the symbols that
    matched nothing; each is logged once.
    """

    def __init__(self, catalogue: Catalogue, *, mapping: dict[str, int] | None = None) -> None:
        self._catalogue = catalogue
        self._by_symbol: dict[str, Instrument] = {}
        ranked = sorted(catalogue, key=lambda i: i.sec_type not in (SecType.STK, SecType.IND))
        for instrument in ranked:
            self._by_symbol.setdefault(instrument.symbol.upper(), instrument)
            if instrument.sec_type is SecType.CASH:
                self._by_symbol.setdefault(instrument.name.upper(), instrument)
        self._mapping = {symbol.upper(): conid for symbol, conid in (mapping or {}).items()}
        self.unmapped: list[str] = []

    def resolve(self, symbol: str) -> Instrument | None:
        """The instrument of `symbol`, or None (logged the first time)."""
        key = symbol.strip().upper()
        conid = self._mapping.get(key)
        instrument = self._catalogue.find(conid) if conid is not None else self._by_symbol.get(key)
        if instrument is None:
            self._report(symbol)
        return instrument

    def by_conid(self, conid: int) -> Instrument | None:
        """The catalogue instrument `conid`, or None (logged the first time)."""
        instrument = self._catalogue.find(conid)
        if instrument is None:
            self._report(f"conid {conid}")
        return instrument

    def _report(self, name: str) -> None:
        if name not in self.unmapped:
            self.unmapped.append(name)
            log.warning("replay: %s maps to no instrument; its records are skipped", name)


def load_symbol_mapping(path: Path) -> dict[str, int]:
    """A ``symbol,conid`` CSV (header row required). Raises RecordingError naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    rows = csv.DictReader(text.splitlines())
    if rows.fieldnames is None or not {"symbol", "conid"} <= set(rows.fieldnames):
        raise RecordingError(f"{path}: a symbol mapping needs the columns symbol and conid")
    mapping: dict[str, int] = {}
    for row in rows:
        symbol, conid = (row.get("symbol") or "").strip(), (row.get("conid") or "").strip()
        if not symbol or not conid.isdigit():
            raise RecordingError(
                f"{path}:{rows.line_num}: expected a symbol and an integer conid, got {row!r}"
            )
        mapping[symbol] = int(conid)
    return mapping


def open_inputs(paths: Sequence[Path], symbols: SymbolMap) -> list[TickInput]:
    """A `TickInput` per path, by kind. Raises RecordingError for a file that cannot be used
    (unreadable, wrong format, or DBN without the databento-dbn package)."""
    from tickgate.sources.replay.csv_input import CsvInput

    inputs: list[TickInput] = []
    for path in paths:
        kind = kind_of(path)
        if kind == "dbn":
            from tickgate.sources.replay.dbn_input import DbnInput

            inputs.append(DbnInput(path, symbols))
        elif kind == "csv":
            inputs.append(CsvInput(path, symbols))
        else:
            inputs.append(RecordingInput(path))
    return inputs
