"""The instrument catalogue: conid lookup, symbol and name search, futures and option chains.

`default_catalogue` is the built-in one: the stocks, ETFs, FX pairs and futures underlyings of
``market/data/*.csv`` (real IBKR conids; sources noted in the files) plus futures and option
chains generated for a trading date (derived conids, see `catalogue.chains`).

Growth at run time. A catalogue built with ``growable=True`` (the gateway's) accepts new
instruments through `Catalogue.add`, the one way to add one while running. Guarantees:

* append only: an instrument, once in, never changes and never leaves, and its conid is never
  reused, so anything a consumer learnt stays true;
* all or nothing: `add` checks the whole batch (conids unused and distinct, fields sane,
  underlyings present) before it changes anything, and raises CatalogueError otherwise;
* everyone learns it at once: `add` runs synchronously on the event loop (no await inside), so
  no coroutine sees a half-added batch; `version` goes up by one and every listener
  (`add_listener`) is called, in registration order, before `add` returns. Consumers that
  read the catalogue on every call (lookups, search, rules) need nothing more; those that
  keep per-instrument state (the market engine, market hours, the simulator) are listeners;
* core and layered: the instruments a catalogue is built with are its *core* (what a seeded
  simulation draws for, see `core`); `layered` ones (the built-in universe, anything added at
  run time) are served the same everywhere but kept apart, so adding them changes no seeded
  value of the core.

A catalogue built without ``growable`` is frozen: `add` raises CatalogueError.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache

from tickgate.errors import CatalogueError, NotFoundError
from tickgate.market.catalogue.chains import FUTURE_ROOTS, OPTION_CHAINS, future_chain, option_chain
from tickgate.market.catalogue.expiries import month_code, parse_expiry
from tickgate.market.catalogue.files import load_shipped
from tickgate.model.instruments import Instrument, Right, SecType, invalid_conid

__all__ = [
    "Catalogue",
    "CatalogueListener",
    "check_instrument",
    "contract_month",
    "default_catalogue",
    "merge",
]

log = logging.getLogger("tickgate.catalogue")

#: Called with the instruments of one `Catalogue.add`, after they are in the catalogue.
CatalogueListener = Callable[[tuple[Instrument, ...]], None]
#: Conids are positive 32-bit integers on IBKR's wire (clients often store them as int32).
MAX_CONID = 2**31 - 1

DATA_FILES = ("indices.csv", "stocks.csv", "forex.csv")
_DERIVATIVES = (SecType.OPT, SecType.FUT)
_SEARCHABLE = (SecType.STK, SecType.IND, SecType.CASH)
_WORD = re.compile(r"[A-Z0-9]+")
_Rank = tuple[int, int, str, int]  # sort key of a search hit: lower is better


class Catalogue:
    """A set of instruments with O(1) conid lookup and prebuilt chain indexes.

    Construction raises CatalogueError when a conid is used twice, or when an instrument names
    an `underlying_conid` that is not in the catalogue or is itself an option or future.
    `layered` instruments join the catalogue beside the core ones (see the module docstring).
    Every query returns a new list. Frozen unless `growable`; then `add` is the only change
    there is (see the module docstring for its guarantees).
    """

    __slots__ = (
        "_by_conid",
        "_futures",
        "_growable",
        "_layered",
        "_listeners",
        "_options",
        "_resolver",
        "_resolving",
        "_underlyings",
        "version",
    )

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        layered: Iterable[Instrument] = (),
        growable: bool = False,
    ) -> None:
        by_conid: dict[int, Instrument] = {}
        core = list(instruments)
        extra = list(layered)
        for instrument in [*core, *extra]:
            if instrument.conid in by_conid:
                raise CatalogueError(f"duplicate conid {instrument.conid} ({instrument.symbol})")
            by_conid[instrument.conid] = instrument
        _check_underlyings(by_conid)
        self._by_conid = by_conid
        self._layered = {instrument.conid for instrument in extra}
        self._growable = growable
        self._listeners: list[CatalogueListener] = []
        self._resolver: Callable[[int], Instrument | None] | None = None
        self._resolving = False
        #: Goes up by one with every successful `add` (0 for a catalogue never added to).
        self.version = 0
        self._index()

    def _index(self) -> None:
        by_conid = self._by_conid
        self._underlyings = tuple(i for i in by_conid.values() if i.sec_type not in _DERIVATIVES)
        self._futures = _index_futures(by_conid.values())
        self._options = _index_options(by_conid.values())

    @property
    def growable(self) -> bool:
        """True when `add` accepts instruments (else the catalogue is frozen)."""
        return self._growable

    def add_listener(self, listener: CatalogueListener) -> None:
        """Call `listener` with the instruments of every later successful `add`, after they
        are in the catalogue and before `add` returns (listeners run in the order added)."""
        self._listeners.append(listener)

    def add(self, instruments: Iterable[Instrument]) -> tuple[Instrument, ...]:
        """Add `instruments` (layered, see the module docstring) and tell every listener.

        All or nothing: raises CatalogueError, changing nothing, when the catalogue is frozen,
        a conid is already in it or used twice in the batch, an instrument's fields are not
        sane (`check_instrument`), or an option or future names an underlying that is neither
        in the catalogue nor in the batch (or is a derivative). A listener that raises is
        logged and the others still run: the instruments stay added. Returns the batch.
        """
        batch = tuple(instruments)
        if not self._growable:
            raise CatalogueError("this catalogue is frozen: instruments cannot be added")
        seen: set[int] = set()
        for instrument in batch:
            check_instrument(instrument)
            if instrument.conid in self._by_conid or instrument.conid in seen:
                raise CatalogueError(
                    f"conid {instrument.conid} ({instrument.symbol}) is already in use"
                )
            seen.add(instrument.conid)
        if not batch:
            return batch
        merged = {**self._by_conid, **{i.conid: i for i in batch}}
        _check_underlyings(merged)
        self._by_conid = merged
        self._layered |= seen
        if any(i.sec_type in _DERIVATIVES for i in batch):
            self._index()
        else:
            self._underlyings += batch
        self.version += 1
        for listener in tuple(self._listeners):
            try:
                listener(batch)
            except Exception:
                log.exception("a catalogue listener failed on %d added instrument(s)", len(batch))
        return batch

    def core(self) -> list[Instrument]:
        """The instruments the catalogue was built with, layered ones left out, in order."""
        return [i for i in self._by_conid.values() if i.conid not in self._layered]

    def layered(self) -> list[Instrument]:
        """The layered instruments (built-in universe, run-time additions), in order."""
        return [i for i in self._by_conid.values() if i.conid in self._layered]

    def is_layered(self, conid: int) -> bool:
        """True when `conid` is a layered instrument of the catalogue."""
        return conid in self._layered

    def get(self, conid: int) -> Instrument:
        """The instrument with `conid`. Raises NotFoundError("Invalid conid <conid>")."""
        instrument = self.find(conid)
        if instrument is None:
            raise NotFoundError(invalid_conid(conid))
        return instrument

    def find(self, conid: int) -> Instrument | None:
        """The instrument with `conid`, or None. A conid the catalogue lacks is first offered
        to the resolver, when one is set (see `set_resolver`)."""
        instrument = self._by_conid.get(conid)
        if instrument is None and self._resolver is not None and not self._resolving:
            self._resolving = True  # a resolver that looks conids up must not recurse
            try:
                self._resolver(conid)
            finally:
                self._resolving = False
            instrument = self._by_conid.get(conid)
        return instrument

    def set_resolver(self, resolver: Callable[[int], Instrument | None]) -> None:
        """Let `resolver(conid)` add (through `add`) an instrument for a conid that `find` or
        `get` misses, such as a generated conid known from an earlier run; `__contains__`
        never resolves. Raises CatalogueError for a frozen catalogue."""
        if not self._growable:
            raise CatalogueError("this catalogue is frozen: it cannot resolve new conids")
        self._resolver = resolver

    def __iter__(self) -> Iterator[Instrument]:
        return iter(tuple(self._by_conid.values()))

    def __len__(self) -> int:
        return len(self._by_conid)

    def __contains__(self, conid: object) -> bool:
        return conid in self._by_conid

    def search(
        self, text: str, *, by_name: bool = False, sec_type: SecType | None = None
    ) -> list[Instrument]:
        """Underlyings (STK, IND, CASH) matching `text`, best match first; never OPT or FUT.

        By symbol (case-insensitive; ``EURUSD`` and ``EUR/USD`` find ``EUR.USD``): exact
        symbols first, then, when `text` is all digits, the underlying with that conid (a
        conid passed as the symbol; digits stay a symbol too, as Hong Kong and Tokyo tickers
        are numbers), then symbols starting with `text`, shorter first. With `by_name`: every
        word of `text` must start a word of the name; names whose first word matches come first.
        `sec_type` keeps only that type. An empty `text` matches nothing.
        """
        candidates = [
            i
            for i in self._underlyings
            if i.sec_type in _SEARCHABLE and sec_type in (None, i.sec_type)
        ]
        ranked = _rank_by_name(candidates, text) if by_name else _rank_by_symbol(candidates, text)
        return [instrument for _, instrument in sorted(ranked, key=lambda pair: pair[0])]

    def stocks_by_symbol(self, symbol: str) -> list[Instrument]:
        """Stocks (and ETFs) whose symbol is exactly `symbol` (case-sensitive, like IBKR)."""
        return [i for i in self._underlyings if i.sec_type is SecType.STK and i.symbol == symbol]

    def futures(self, symbol: str) -> list[Instrument]:
        """Futures with exactly this `symbol` (case-sensitive), sorted by expiry; [] if none."""
        return list(self._futures.get(symbol, ()))

    def option_months(self, underlying_conid: int) -> list[str]:
        """Month codes (e.g. ``["JAN27", "FEB27"]``) with options on the underlying, by date."""
        return list(self._options.get(underlying_conid, {}))

    def strikes(self, underlying_conid: int, month: str) -> tuple[list[Decimal], list[Decimal]]:
        """Sorted distinct (call strikes, put strikes) of an underlying's options in `month`
        (case-insensitive month code); two empty lists when there are none."""
        options = self._options.get(underlying_conid, {}).get(month.strip().upper(), ())
        calls = sorted(
            {o.strike for o in options if o.right is Right.CALL and o.strike is not None}
        )
        puts = sorted({o.strike for o in options if o.right is Right.PUT and o.strike is not None})
        return calls, puts

    def options(
        self,
        underlying_conid: int,
        *,
        month: str | None = None,
        strike: Decimal | None = None,
        right: Right | None = None,
    ) -> list[Instrument]:
        """Options on the underlying, filtered by month code, strike and right when given,
        sorted by (expiry, strike, right). Month codes are case-insensitive."""
        by_month = self._options.get(underlying_conid, {})
        months = [month.strip().upper()] if month is not None else list(by_month)
        return [
            option
            for code in months
            for option in by_month.get(code, ())
            if (strike is None or option.strike == strike) and right in (None, option.right)
        ]

    def underlyings(self) -> list[Instrument]:
        """Every instrument that is not an option or a future, in catalogue order."""
        return list(self._underlyings)


def merge(base: Catalogue, extra: list[Instrument], *, replace: bool) -> Catalogue:
    """A new catalogue of `extra` alone (`replace`) or of `base` extended by `extra`.

    When extending, an entry of `extra` replaces the `base` instrument with the same conid in
    place (and is core from then on); new conids are appended to the core; the other layered
    instruments of `base` stay layered. The result is growable when `base` is. `base` is not
    changed. Raises CatalogueError when `extra` holds a conid twice or the result is
    inconsistent (see `Catalogue`).
    """
    seen: set[int] = set()
    for instrument in extra:
        if instrument.conid in seen:
            raise CatalogueError(f"duplicate conid {instrument.conid} in the added instruments")
        seen.add(instrument.conid)
    if replace:
        return Catalogue(extra, growable=base.growable)
    merged = {instrument.conid: instrument for instrument in base.core()}
    layered = {i.conid: i for i in base.layered() if i.conid not in seen}
    merged.update((instrument.conid, instrument) for instrument in extra)
    return Catalogue(merged.values(), layered=layered.values(), growable=base.growable)


def check_instrument(instrument: Instrument) -> None:
    """Raise CatalogueError naming the first field of `instrument` that no catalogue file
    would accept: a conid outside 1..2**31-1, an empty or unprintable symbol, a price or tick
    that is not positive, a volatility outside (0, 5], or an option without its expiry, strike,
    right and underlying (a future without its expiry)."""
    where = f"instrument {instrument.symbol!r} (conid {instrument.conid})"
    if not 0 < instrument.conid <= MAX_CONID:
        raise CatalogueError(f"{where}: conid must be in 1..{MAX_CONID}")
    if not instrument.symbol.strip() or not instrument.symbol.isprintable():
        raise CatalogueError(f"{where}: symbol must be printable text")
    if not instrument.reference_price > 0 or not instrument.min_tick > 0:
        raise CatalogueError(f"{where}: reference_price and min_tick must be positive")
    if not 0 < instrument.volatility <= 5:
        raise CatalogueError(f"{where}: volatility must be an annualised fraction in (0, 5]")
    needed: Sequence[object] = ()
    if instrument.sec_type is SecType.OPT:
        needed = (instrument.expiry, instrument.strike, instrument.right)
        needed = (*needed, instrument.underlying_conid)
    elif instrument.sec_type is SecType.FUT:
        needed = (instrument.expiry,)
    if any(value is None for value in needed):
        raise CatalogueError(f"{where}: a {instrument.sec_type} needs its contract fields")


def contract_month(future: Instrument) -> str:
    """The month code of a future's contract month. For the built-in roots whose last trading
    day falls in the month before the contract month (CL), that is the following month; for
    anything else it is `month_code(expiry)`. Raises ValueError without a valid expiry."""
    day = parse_expiry(future.expiry or "")
    root = FUTURE_ROOTS.get(future.symbol)
    offset = root.month_offset if root is not None and future.sec_type is SecType.FUT else 0
    year, month = divmod(day.year * 12 + day.month - 1 + offset, 12)
    return month_code(f"{year:04d}{month + 1:02d}01")


def default_catalogue(*, today: date, growable: bool = False, universe: bool = False) -> Catalogue:
    """The built-in catalogue for trading date `today`: the shipped underlyings plus futures
    chains of ES, NQ, CL, GC and monthly option chains of AAPL, SPY, QQQ, all expiring on or
    after `today` (the core); with `universe`, the layer of `catalogue.universe` beside it.
    The same `today` always gives the same instruments and conids. Frozen unless
    `growable`."""
    core, layer = _built_in(today, universe=universe)
    return Catalogue(core, layered=layer, growable=growable)


@lru_cache(maxsize=4)
def _built_in(
    today: date, *, universe: bool
) -> tuple[tuple[Instrument, ...], tuple[Instrument, ...]]:
    # Cached: instruments are immutable, and a process (a test suite, the pytest plugin) builds
    # many gateways for the same day; reading and pricing thousands of rows each time is waste.
    underlyings = load_shipped(DATA_FILES)
    by_symbol = {(i.symbol, i.sec_type): i for i in underlyings}
    derived: list[Instrument] = []
    for root in FUTURE_ROOTS.values():
        derived += future_chain(root, by_symbol[root.symbol, SecType.IND], today=today)
    for chain in OPTION_CHAINS.values():
        derived += option_chain(chain, by_symbol[chain.symbol, SecType.STK], today=today)
    core = (*underlyings, *derived)
    # Imported here: the universe module builds on this one's file reader and chains.
    from tickgate.market.catalogue.universe import universe_layer

    return core, tuple(universe_layer(core, today=today)) if universe else ()


def _check_underlyings(by_conid: dict[int, Instrument]) -> None:
    for instrument in by_conid.values():
        if instrument.underlying_conid is None:
            continue
        underlying = by_conid.get(instrument.underlying_conid)
        if underlying is None or underlying.sec_type in _DERIVATIVES:
            raise CatalogueError(
                f"conid {instrument.conid} ({instrument.symbol}) names underlying conid "
                f"{instrument.underlying_conid}, which is not a stock, index or FX pair "
                "of the catalogue"
            )


def _index_futures(instruments: Iterable[Instrument]) -> dict[str, tuple[Instrument, ...]]:
    chains: dict[str, list[Instrument]] = {}
    for instrument in instruments:
        if instrument.sec_type is SecType.FUT:
            chains.setdefault(instrument.symbol, []).append(instrument)
    return {symbol: tuple(sorted(chain, key=_expiry_key)) for symbol, chain in chains.items()}


def _index_options(
    instruments: Iterable[Instrument],
) -> dict[int, dict[str, tuple[Instrument, ...]]]:
    options = sorted((i for i in instruments if i.sec_type is SecType.OPT), key=_option_key)
    index: dict[int, dict[str, list[Instrument]]] = {}
    for option in options:
        if option.underlying_conid is not None and option.expiry is not None:
            months = index.setdefault(option.underlying_conid, {})
            months.setdefault(month_code(option.expiry), []).append(option)
    # Options are sorted by expiry, so each dict already lists its months in date order.
    return {conid: {m: tuple(o) for m, o in months.items()} for conid, months in index.items()}


def _expiry_key(instrument: Instrument) -> tuple[str, int]:
    return instrument.expiry or "", instrument.conid


def _option_key(option: Instrument) -> tuple[str, Decimal, str, int]:
    right = option.right.value if option.right is not None else ""
    return option.expiry or "", option.strike or Decimal(0), right, option.conid


def _rank_by_symbol(candidates: list[Instrument], text: str) -> list[tuple[_Rank, Instrument]]:
    wanted = text.strip().upper().replace("/", ".")
    if not wanted:
        return []
    conid = int(wanted) if wanted.isascii() and wanted.isdigit() else None
    ranked: list[tuple[_Rank, Instrument]] = []
    for position, instrument in enumerate(candidates):
        symbol = instrument.symbol.upper()
        if wanted in (symbol, symbol.replace(".", "")):
            ranked.append(((0, 0, "", position), instrument))
        elif instrument.conid == conid:
            ranked.append(((0, 1, "", position), instrument))
        elif symbol.startswith(wanted):
            ranked.append(((1, len(symbol), symbol, position), instrument))
    return ranked


def _rank_by_name(candidates: list[Instrument], text: str) -> list[tuple[_Rank, Instrument]]:
    wanted = _WORD.findall(text.upper())
    if not wanted:
        return []
    ranked: list[tuple[_Rank, Instrument]] = []
    for position, instrument in enumerate(candidates):
        words = _WORD.findall(instrument.name.upper())
        if all(any(word.startswith(w) for word in words) for w in wanted):
            first = bool(words) and words[0].startswith(wanted[0])
            ranked.append(((0 if first else 1, 0, instrument.name.upper(), position), instrument))
    return ranked
