"""Small replay inputs written by the tests themselves: recordings, tick CSVs, DBN files."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import databento_dbn
import zstandard
from tests.instruments import AAPL

from tickgate.clock import FakeClock
from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.sources.recorder import Recorder
from tickgate.sources.recording import RecordingHeader

#: 2026-01-02T15:00:00Z, a trading afternoon in New York.
START_NS = 1_767_366_000_000_000_000
STEP_NS = 100_000_000


def quotes(count: int = 40, *, conid: int = AAPL.conid) -> list[Tick]:
    """A full quote, then `count - 1` ticks 100 ms apart moving bid and ask down a cent each."""
    first = Tick(conid, {31: "189.50", 84: "189.49", 85: "300", 86: "189.51", 88: "200"}, START_NS)
    moves = [
        Tick(
            conid,
            {84: f"{189.49 - n / 100:.2f}", 86: f"{189.51 - n / 100:.2f}"},
            START_NS + n * STEP_NS,
        )
        for n in range(1, count)
    ]
    return [first, *moves]


def write_recording(
    path: Path, ticks: Sequence[Tick], instruments: Sequence[Instrument] = (AAPL,)
) -> Path:
    """A tickgate recording of `ticks`, each received at its own `ts_ns`."""
    clock = FakeClock(ticks[0].ts_ns if ticks else START_NS)
    recorder = Recorder(
        path,
        clock=clock,
        header=lambda now: RecordingHeader("test", now, tuple(instruments)),
    )
    for tick in ticks:
        clock.set(tick.ts_ns)
        recorder.record(tick)
    recorder.close()
    return path


@dataclasses.dataclass
class _Interval:  # databento_dbn.MappingInterval
    start_date: datetime.date
    end_date: datetime.date
    symbol: str


@dataclasses.dataclass
class _Mapping:  # databento_dbn.SymbolMapping
    raw_symbol: str
    intervals: list[_Interval]


def px(price: str) -> int:
    """A price in DBN's fixed-point units (1e-9)."""
    return int(Decimal(price) * 1_000_000_000)


def mbp1(
    instrument_id: int, ts_ns: int, bid: str, ask: str, *, trade: str | None = None
) -> databento_dbn.MBP1Msg:
    """An MBP-1 (or, with `trade`, TBBO-style trade) record: bid 500, ask 400."""
    action = databento_dbn.Action.TRADE if trade else databento_dbn.Action.ADD
    return databento_dbn.MBP1Msg(
        publisher_id=2,
        instrument_id=instrument_id,
        ts_event=ts_ns - 1000,
        price=px(trade or bid),
        size=10 if trade else 100,
        action=action,
        side=databento_dbn.Side.BID,
        depth=0,
        ts_recv=ts_ns,
        levels=databento_dbn.BidAskPair(bid_px=px(bid), ask_px=px(ask), bid_sz=500, ask_sz=400),
    )


def trade(instrument_id: int, ts_ns: int, price: str, size: int) -> databento_dbn.TradeMsg:
    return databento_dbn.TradeMsg(
        publisher_id=2,
        instrument_id=instrument_id,
        ts_event=ts_ns - 1000,
        price=px(price),
        size=size,
        action=databento_dbn.Action.TRADE,
        side=databento_dbn.Side.NONE,
        depth=0,
        ts_recv=ts_ns,
    )


def write_dbn(
    path: Path,
    schema: databento_dbn.Schema,
    symbols: dict[str, int],
    records: Sequence[databento_dbn.MBP1Msg | databento_dbn.TradeMsg],
) -> Path:
    """A DBN file made with the library's own encoder: metadata mapping `symbols` (raw symbol
    to instrument id), then `records`; zstd-compressed when `path` ends in ``.zst``."""
    day = datetime.date(2026, 1, 2)
    metadata = databento_dbn.Metadata(
        dataset="XNAS.ITCH",
        start=START_NS,
        stype_in=databento_dbn.SType.RAW_SYMBOL,
        stype_out=databento_dbn.SType.INSTRUMENT_ID,
        schema=schema,
        symbols=list(symbols),
        mappings=[
            _Mapping(symbol, [_Interval(day, day + datetime.timedelta(days=1), str(iid))])
            for symbol, iid in symbols.items()
        ],
        end=START_NS + 3600 * 1_000_000_000,
    )
    data = bytes(metadata) + b"".join(bytes(record) for record in records)
    if path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path
