"""The market scanner: ranks the catalogue's instruments on the market engine's live values.

A scan picks an instrument type (US stocks, or their ETFs only), a location (all US listings or
one listing exchange), a scan type (what to rank by) and filters (price, volume and change
bounds), and returns the best-ranked instruments, at most `MAX_ROWS` of them, as IBKR's scanner
does. Everything is read from the engine when the scan runs: a halt, a close or a price move
changes the next answer. The list of what is offered (`Scanner.params`) is built from the same
tables `Scanner.run` evaluates, so the two cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tickgate.errors import RequestError
from tickgate.market.engine import MarketEngine
from tickgate.model.instruments import Instrument, SecType
from tickgate.protocol import fields as F

#: IBKR answers at most 50 contracts per scanner run.
MAX_ROWS = 50
#: The listing exchanges IBKR's "Listed/NASDAQ" location (STK.US.MAJOR) covers.
MAJOR_EXCHANGES = frozenset({"NYSE", "NASDAQ", "ARCA", "AMEX", "BATS", "IEX"})


@dataclass(frozen=True, slots=True)
class Reading:
    """What the scanner knows of one instrument at the moment of a scan."""

    instrument: Instrument
    last: float | None
    change_pct: float | None
    volume: int | None
    halted: bool
    #: Today's volume over the instrument's average daily volume (None when either is unknown).
    relative_volume: float | None


@dataclass(frozen=True, slots=True)
class ScanType:
    """One ranking: `value` gives the number to rank by (None leaves the instrument out),
    `shown` its display text for the result's `scan_data` column."""

    code: str
    display_name: str
    column: str
    value: Callable[[Reading], float | None]
    descending: bool
    shown: Callable[[float], str]


@dataclass(frozen=True, slots=True)
class ScanFilter:
    """A bound on one reading; an instrument without the reading fails the filter."""

    code: str
    display_name: str
    reading: Callable[[Reading], float | None]
    above: bool

    def passes(self, reading: Reading, bound: float) -> bool:
        value = self.reading(reading)
        if value is None:
            return False
        return value > bound if self.above else value < bound


@dataclass(frozen=True, slots=True)
class InstrumentType:
    """A scanner instrument type: which instruments it covers, and its locations."""

    code: str
    display_name: str
    covers: Callable[[Instrument], bool]
    major_location: str


@dataclass(frozen=True, slots=True)
class Location:
    """A location of an instrument type: `exchange` None means every US listing it covers."""

    code: str
    display_name: str
    exchange: str | None
    major_only: bool


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One result: the instrument, its rank (0 = best) and the ranked value."""

    rank: int
    instrument: Instrument
    value: float
    shown: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    scan_type: ScanType
    rows: list[ScanRow]


def _percent(value: float) -> str:
    return f"{value:+.2f}%"


def _number(value: float) -> str:
    return f"{value:,.0f}"


def _price(value: float) -> str:
    return f"{value:.2f}"


def _ratio(value: float) -> str:
    return f"{value:.2f}"


def _gain(r: Reading) -> float | None:
    return r.change_pct if r.change_pct is not None and r.change_pct > 0 else None


def _loss(r: Reading) -> float | None:
    return r.change_pct if r.change_pct is not None and r.change_pct < 0 else None


def _traded(r: Reading) -> float | None:
    return float(r.volume) if r.volume else None


def _volume(r: Reading) -> float | None:
    return None if r.volume is None else float(r.volume)


def _change(r: Reading) -> float | None:
    return r.change_pct


def _hot(r: Reading) -> float | None:
    return r.relative_volume if r.volume else None


def _last(r: Reading) -> float | None:
    return r.last


def _halted(r: Reading) -> float | None:
    return r.last if r.halted and r.last is not None else None


# fmt: off
SCAN_TYPES: tuple[ScanType, ...] = (
    ScanType("TOP_PERC_GAIN", "Top % Gainers", "Chg%", _gain, True, _percent),
    ScanType("TOP_PERC_LOSE", "Top % Losers", "Chg%", _loss, False, _percent),
    ScanType("MOST_ACTIVE", "Most Active", "Volume", _traded, True, _number),
    ScanType("HOT_BY_VOLUME", "Hot Contracts by Volume", "Vol/Avg", _hot, True, _ratio),
    ScanType("SCAN_price_DESC", "Price (High to Low)", "Last", _last, True, _price),
    ScanType("SCAN_price_ASC", "Price (Low to High)", "Last", _last, False, _price),
    ScanType("HALTED", "Halted", "Last", _halted, True, _price),
)

FILTERS: tuple[ScanFilter, ...] = (
    ScanFilter("priceAbove", "Price Above", _last, above=True),
    ScanFilter("priceBelow", "Price Below", _last, above=False),
    ScanFilter("volumeAbove", "Volume Above", _volume, above=True),
    ScanFilter("volumeBelow", "Volume Below", _volume, above=False),
    ScanFilter("changePercAbove", "Change (%) Above", _change, above=True),
    ScanFilter("changePercBelow", "Change (%) Below", _change, above=False),
)
# fmt: on


def _us_stock(instrument: Instrument) -> bool:
    return instrument.sec_type is SecType.STK and instrument.is_us


INSTRUMENT_TYPES: tuple[InstrumentType, ...] = (
    InstrumentType("STK", "US Stocks", _us_stock, "STK.US.MAJOR"),
    InstrumentType(
        "ETF.EQ.US", "US Equity ETFs", lambda i: _us_stock(i) and i.is_etf, "ETF.EQ.US.MAJOR"
    ),
)


def _listing(instrument: Instrument) -> str:
    return instrument.listing_exchange or instrument.exchange


class Scanner:
    """Scans over `market` for the instruments of `catalogue`, read again on every call (so
    instruments a growing catalogue gains are scanned from then on).

    `average_volume(conid)` is an instrument's average daily volume (0 when unknown), the base of
    HOT_BY_VOLUME. Reads only: a scan changes nothing.
    """

    def __init__(
        self,
        catalogue: Iterable[Instrument],
        market: MarketEngine,
        *,
        average_volume: Callable[[int], float],
    ) -> None:
        self._catalogue = catalogue
        self._market = market
        self._average_volume = average_volume
        self._scan_types = {scan.code: scan for scan in SCAN_TYPES}
        self._filters = {f.code: f for f in FILTERS}
        self._types = {t.code: t for t in INSTRUMENT_TYPES}

    @property
    def _instruments(self) -> list[Instrument]:
        return [i for i in self._catalogue if _us_stock(i)]

    @property
    def scan_types(self) -> tuple[ScanType, ...]:
        return SCAN_TYPES

    @property
    def filters(self) -> tuple[ScanFilter, ...]:
        return FILTERS

    @property
    def instrument_types(self) -> tuple[InstrumentType, ...]:
        return INSTRUMENT_TYPES

    def locations(self, kind: InstrumentType) -> list[Location]:
        """The locations of `kind`: its major-listings location first, then one per listing
        exchange of the catalogue's instruments of that type (sorted)."""
        exchanges = sorted({_listing(i) for i in self._instruments if kind.covers(i)})
        prefix = kind.code.split(".")[0]
        return [Location(kind.major_location, "Listed/NASDAQ", None, major_only=True)] + [
            Location(f"{prefix}.{exchange}", exchange, exchange, major_only=False)
            for exchange in exchanges
        ]

    def run(
        self,
        *,
        instrument: str,
        location: str,
        scan_code: str,
        filters: Mapping[str, float] | Sequence[tuple[str, float]] = (),
        limit: int = MAX_ROWS,
    ) -> ScanResult:
        """The ranked instruments of `instrument` at `location` for `scan_code`, filtered, at
        most `limit` (capped at MAX_ROWS). Ties keep catalogue order.

        Raises RequestError (400) naming an unknown instrument type, location, scan type or
        filter code.
        """
        kind = self._types.get(instrument)
        if kind is None:
            raise RequestError(
                f"unknown scanner instrument {instrument!r}; known: {_known(self._types)}"
            )
        places = {place.code: place for place in self.locations(kind)}
        place = places.get(location)
        if place is None:
            raise RequestError(
                f"unknown scanner location {location!r} for {instrument}; known: {_known(places)}"
            )
        scan = self._scan_types.get(scan_code)
        if scan is None:
            raise RequestError(
                f"unknown scanner type {scan_code!r}; known: {_known(self._scan_types)}"
            )
        bounds = list(filters.items()) if isinstance(filters, Mapping) else list(filters)
        checks: list[tuple[ScanFilter, float]] = []
        for code, bound in bounds:
            check = self._filters.get(code)
            if check is None:
                raise RequestError(
                    f"unknown scanner filter {code!r}; known: {_known(self._filters)}"
                )
            checks.append((check, bound))
        candidates: list[tuple[float, Reading]] = []
        for item in self._instruments:
            if not kind.covers(item) or not _located(item, place):
                continue
            reading = self.reading(item)
            value = scan.value(reading)
            if value is None or not all(check.passes(reading, bound) for check, bound in checks):
                continue
            candidates.append((value, reading))
        candidates.sort(key=lambda pair: -pair[0] if scan.descending else pair[0])
        rows = [
            ScanRow(rank, reading.instrument, value, scan.shown(value))
            for rank, (value, reading) in enumerate(candidates[: max(0, min(limit, MAX_ROWS))])
        ]
        return ScanResult(scan, rows)

    def reading(self, instrument: Instrument) -> Reading:
        """The scanner's view of `instrument` now, from the market engine's values."""
        values = self._market.snapshot(instrument.conid, (F.LAST, F.CHANGE_PCT, F.VOLUME_EXACT))
        raw_last = values.get(F.LAST)
        last = _parsed(raw_last, F.parse_price)
        volume = _parsed(values.get(F.VOLUME_EXACT), F.parse_size)
        change = _parsed(values.get(F.CHANGE_PCT), F.parse_price)
        average = self._average_volume(instrument.conid)
        relative = volume / average if volume is not None and average > 0 else None
        halted = raw_last is not None and F.is_halted_last(raw_last)
        return Reading(instrument, last, change, volume, halted, relative)


def _located(instrument: Instrument, place: Location) -> bool:
    listing = _listing(instrument)
    if place.exchange is not None:
        return listing == place.exchange
    return listing in MAJOR_EXCHANGES


_T = TypeVar("_T")


def _parsed(raw: str | None, parse: Callable[[str], _T]) -> _T | None:
    if raw is None:
        return None
    try:
        return parse(raw)
    except ValueError:
        return None


def _known(table: Mapping[str, object]) -> str:
    return ", ".join(table)
