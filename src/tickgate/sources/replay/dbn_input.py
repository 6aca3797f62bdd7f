"""Databento DBN files (``.dbn``, ``.dbn.zst``) for replay, through the `databento-dbn` package.

Records become ticks at their receive time (``ts_recv``):

* MBP-1 and TBBO records (`MBP1Msg`): bid, ask and their sizes from the top level; a record
  whose action is a trade (every TBBO record, MBP-1 trades) also sets the last price and size;
* trades records (`TradeMsg`): last price and size;
* every trade adds its size to the day volume (fields 87 and 7762), counted from the file's
  start.

Instrument ids map to symbols through the file's metadata (``raw_symbol`` to
``instrument_id`` mappings) and symbol-mapping records; symbols map to conids through the
`SymbolMap`. Other record types (status, statistics, definitions) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.sources.recording import RecordingError
from tickgate.sources.replay.inputs import SymbolMap

_CHUNK = 1 << 20
_PRICE_EXPONENT = -9  # DBN prices are integers in units of 1e-9
_UNDEF_PRICE = 2**63 - 1  # databento_dbn.UNDEF_PRICE: no price (an empty side of the book)


def _library() -> Any:
    try:
        import databento_dbn
    except ImportError:
        raise RecordingError(
            "reading DBN files needs the databento-dbn package: pip install 'tickgate[dbn]'"
        ) from None
    return databento_dbn


class DbnInput:
    """One DBN file, plain or zstd-compressed (by its ``.zst`` suffix)."""

    def __init__(self, path: Path, symbols: SymbolMap) -> None:
        self.name = str(path)
        self._path = path
        self._symbols = symbols
        self._dbn = _library()

    def ticks(self) -> Iterator[Tick]:
        state = _State(self._symbols)
        for record in _records(self._path, self._dbn):
            tick = state.tick(record, self._dbn)
            if tick is not None:
                yield tick


def first_record_ns(path: Path) -> int | None:
    """`ts_recv` of the first quote or trade record of `path`, None if it has none.
    Raises RecordingError like `DbnInput.ticks`."""
    dbn = _library()
    for record in _records(path, dbn):
        if isinstance(record, dbn.MBP1Msg | dbn.TradeMsg):
            return int(record.ts_recv)
    return None


def _records(path: Path, dbn: Any) -> Iterator[Any]:
    """Every record of a DBN file (the metadata first), decoded chunk by chunk."""
    zstd = path.name.lower().endswith(".zst")
    decoder = dbn.DBNDecoder(compression=dbn.Compression.ZSTD if zstd else dbn.Compression.NONE)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        while chunk := handle.read(_CHUNK):
            try:
                records = decoder.write_and_decode(chunk)
            except Exception as exc:  # the library's DBNError derives from Exception only
                raise RecordingError(f"{path}: not a readable DBN file: {exc}") from None
            yield from records


class _State:
    """Per-read state: instrument ids seen so far and the running volume per conid."""

    def __init__(self, symbols: SymbolMap) -> None:
        self._symbols = symbols
        self._ids: dict[int, str] = {}
        self._instruments: dict[int, Instrument | None] = {}
        self._volume: dict[int, int] = {}

    def tick(self, record: Any, dbn: Any) -> Tick | None:
        if isinstance(record, dbn.Metadata):
            self._learn_metadata(record, dbn)
            return None
        if isinstance(record, dbn.SymbolMappingMsg):
            self._ids[record.instrument_id] = record.stype_in_symbol
            self._instruments.pop(record.instrument_id, None)
            return None
        if isinstance(record, dbn.MBP1Msg):
            return self._quote(record, trade=record.action == dbn.Action.TRADE)
        if isinstance(record, dbn.TradeMsg):
            return self._trade(record)
        return None

    def _learn_metadata(self, metadata: Any, dbn: Any) -> None:
        if metadata.stype_out != dbn.SType.INSTRUMENT_ID:
            return
        for raw_symbol, intervals in metadata.mappings.items():
            for interval in intervals:
                if str(interval["symbol"]).isdigit():
                    self._ids[int(interval["symbol"])] = raw_symbol

    def _instrument(self, instrument_id: int) -> Instrument | None:
        if instrument_id not in self._instruments:
            symbol = self._ids.get(instrument_id)
            self._instruments[instrument_id] = (
                self._symbols.resolve(symbol)
                if symbol is not None
                else self._symbols.resolve(f"instrument_id {instrument_id}")
            )
        return self._instruments[instrument_id]

    def _quote(self, record: Any, *, trade: bool) -> Tick | None:
        instrument = self._instrument(record.instrument_id)
        if instrument is None:
            return None
        level = record.levels[0]
        values: dict[int, str] = {}
        decimals = instrument.price_decimals
        for fid, price in ((F.BID, level.bid_px), (F.ASK, level.ask_px)):
            if price != _UNDEF_PRICE:
                values[fid] = _price(price, decimals)
        if level.bid_px != _UNDEF_PRICE:
            values[F.BID_SIZE] = F.format_size(level.bid_sz)
        if level.ask_px != _UNDEF_PRICE:
            values[F.ASK_SIZE] = F.format_size(level.ask_sz)
        if trade:
            self._add_trade(instrument, record.price, record.size, values)
        return Tick(instrument.conid, values, record.ts_recv) if values else None

    def _trade(self, record: Any) -> Tick | None:
        instrument = self._instrument(record.instrument_id)
        if instrument is None:
            return None
        values: dict[int, str] = {}
        self._add_trade(instrument, record.price, record.size, values)
        return Tick(instrument.conid, values, record.ts_recv) if values else None

    def _add_trade(
        self, instrument: Instrument, price: int, size: int, values: dict[int, str]
    ) -> None:
        if price == _UNDEF_PRICE:
            return
        values[F.LAST] = _price(price, instrument.price_decimals)
        values[F.LAST_SIZE] = F.format_size(size)
        volume = self._volume.get(instrument.conid, 0) + size
        self._volume[instrument.conid] = volume
        values[F.VOLUME] = F.format_volume(volume)
        values[F.VOLUME_EXACT] = str(volume)


def _price(raw: int, decimals: int) -> str:
    return F.format_price(Decimal(raw).scaleb(_PRICE_EXPONENT), decimals)
