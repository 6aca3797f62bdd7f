"""Instrument catalogue files (TOML, JSON, CSV) read into checked instruments.

Formats, chosen by file extension:

* ``.toml``: ``[[instrument]]`` tables;
* ``.json``: a list of objects, or ``{"instruments": [...]}``;
* ``.csv``: a header row of field names, one instrument per row; blank lines and lines whose
  first cell starts with ``#`` are skipped.

Keys are the `Instrument` field names (see `catalogue.fields.FIELDS`). Every problem raises
`CatalogueError` as ``<file>:<line>: <reason>``; the line is where the offending entry starts
(or the parser's own line for a syntax error).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.fields import FIELDS, RowError, instrument_from_row
from tickgate.model.instruments import Instrument

__all__ = ["load_instruments", "load_shipped", "parse_instruments"]

_FORMATS = ("toml", "json", "csv")
_TOML_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*instrument[ \t]*\]\]", re.MULTILINE)
_TOML_ERROR_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_JSON_SPACE = re.compile(r"[ \t\n\r]*")

Entry = tuple[int, object]  # (line where the entry starts, the entry)


class _LineError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def load_instruments(path: Path) -> list[Instrument]:
    """Read and check every instrument of a catalogue file, in file order.

    Raises CatalogueError (message ``<path>:<line>: <reason>``) for an unreadable file, an
    unknown extension, a syntax error, a bad entry or a conid used twice.
    """
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise CatalogueError(
            f"{path}: unsupported catalogue format {path.suffix!r}; use .toml, .json or .csv"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CatalogueError(f"{path}:{line}: not UTF-8 text ({exc.reason})") from None
    return parse_instruments(text, fmt=fmt, source=str(path))


def load_shipped(names: Iterable[str]) -> list[Instrument]:
    """The instruments of tickgate's own data files `names` (in ``tickgate/market/data``), in
    order. Raises CatalogueError as `load_instruments` does (a broken package)."""
    found: list[Instrument] = []
    data = resources.files("tickgate.market") / "data"
    for name in names:
        with resources.as_file(data / name) as path:
            found += load_instruments(path)
    return found


def parse_instruments(text: str, *, fmt: str, source: str) -> list[Instrument]:
    """Check the instruments of catalogue text in format `fmt` ("toml", "json" or "csv").

    `source` names the text in error messages. Raises CatalogueError like `load_instruments`.
    """
    readers = {"toml": _toml_entries, "json": _json_entries, "csv": _csv_entries}
    if fmt not in readers:
        raise CatalogueError(f"{source}: unsupported catalogue format {fmt!r}")
    try:
        return _instruments(readers[fmt](text))
    except _LineError as exc:
        raise CatalogueError(f"{source}:{exc.line}: {exc.reason}") from None


def _instruments(entries: Iterable[Entry]) -> list[Instrument]:
    found: list[Instrument] = []
    first_line: dict[int, int] = {}
    for line, entry in entries:
        if not isinstance(entry, dict):
            raise _LineError(line, f"an instrument must be a table of fields, got {entry!r}")
        try:
            instrument = instrument_from_row(entry)
        except RowError as exc:
            raise _LineError(line, str(exc)) from None
        if instrument.conid in first_line:
            where = first_line[instrument.conid]
            raise _LineError(
                line, f"duplicate conid {instrument.conid} (first used on line {where})"
            )
        first_line[instrument.conid] = line
        found.append(instrument)
    return found


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _toml_entries(text: str) -> list[Entry]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_ERROR_LINE.search(message)
        line = int(found.group(1)) if found else text.count("\n") + 1
        reason = _TOML_ERROR_LINE.sub("", message).removesuffix(" (at end of document)")
        raise _LineError(line, f"invalid TOML: {reason}") from None
    unknown = sorted(set(document) - {"instrument"})
    if unknown:
        raise _LineError(1, f"unknown top-level key {unknown[0]!r}; use [[instrument]] tables")
    entries = document.get("instrument", [])
    if not isinstance(entries, list):
        raise _LineError(1, "'instrument' must be an array of tables: write [[instrument]]")
    lines = [_line_at(text, match.start()) for match in _TOML_HEADER.finditer(text)]
    if len(lines) != len(entries):  # an inline array: point at its start
        lines = [_line_at(text, max(text.find("instrument"), 0))] * len(entries)
    return list(zip(lines, entries, strict=True))


def _json_entries(text: str) -> list[Entry]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _LineError(exc.lineno, f"invalid JSON: {exc.msg}") from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise _LineError(1, f"invalid JSON: {exc}") from None
    entries = document.get("instruments") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise _LineError(1, 'expected a list of instruments or {"instruments": [...]}')
    starts = _json_element_starts(text, isinstance(document, dict))
    return [(_line_at(text, start), entry) for start, entry in zip(starts, entries, strict=True)]


def _json_element_starts(text: str, wrapped: bool) -> list[int]:
    # Runs on text already known to be valid JSON, so every step below succeeds.
    decoder = json.JSONDecoder()
    position = _json_skip(text, 0)
    if wrapped:
        position = _json_member(decoder, text, position, "instruments")
    starts: list[int] = []
    position = _json_skip(text, position + 1)
    while text[position] != "]":
        starts.append(position)
        _, position = decoder.raw_decode(text, position)
        position = _json_skip(text, position)
        if text[position] == ",":
            position = _json_skip(text, position + 1)
    return starts


def _json_member(decoder: json.JSONDecoder, text: str, position: int, wanted: str) -> int:
    """Position of the value of the last member `wanted` of the object starting at `position`."""
    found = -1
    position = _json_skip(text, position + 1)
    while text[position] != "}":
        key, position = decoder.raw_decode(text, position)
        position = _json_skip(text, _json_skip(text, position) + 1)  # past the colon
        if key == wanted:
            found = position
        _, position = decoder.raw_decode(text, position)
        position = _json_skip(text, position)
        if text[position] == ",":
            position = _json_skip(text, position + 1)
    return found


def _json_skip(text: str, position: int) -> int:
    match = _JSON_SPACE.match(text, position)
    return match.end() if match else position


def _csv_entries(text: str) -> list[Entry]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    entries: list[Entry] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return entries
        except csv.Error as exc:
            raise _LineError(max(reader.line_num, start), f"invalid CSV: {exc}") from None
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = _csv_header(row, start)
        elif len(row) != len(header):
            raise _LineError(start, f"row has {len(row)} cells but the header has {len(header)}")
        else:
            entries.append((start, dict(zip(header, row, strict=True))))


def _csv_header(row: list[str], line: int) -> list[str]:
    header = [cell.strip() for cell in row]
    for name in header:
        if name not in FIELDS:
            raise _LineError(line, f"unknown column {name!r}; known columns: {', '.join(FIELDS)}")
        if header.count(name) > 1:
            raise _LineError(line, f"column {name!r} appears twice")
    return header
