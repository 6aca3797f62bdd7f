"""The instrument catalogue: conid lookup, symbol and name search, futures and option chains.

`default_catalogue` is the built-in one: the stocks, ETFs, FX pairs and futures underlyings of
``market/data/*.csv`` (real IBKR conids; sources noted in the files) plus futures and option
chains generated for a trading date (derived conids, see `catalogue.chains`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from importlib import resources

from tickgate.errors import CatalogueError, NotFoundError
from tickgate.market.catalogue.chains import FUTURE_ROOTS, OPTION_CHAINS, future_chain, option_chain
from tickgate.market.catalogue.expiries import month_code, parse_expiry
from tickgate.market.catalogue.files import load_instruments
from tickgate.model.instruments import Instrument, Right, SecType, invalid_conid

__all__ = ["Catalogue", "contract_month", "default_catalogue", "merge"]

DATA_FILES = ("indices.csv", "stocks.csv", "forex.csv")
_DERIVATIVES = (SecType.OPT, SecType.FUT)
_SEARCHABLE = (SecType.STK, SecType.IND, SecType.CASH)
_WORD = re.compile(r"[A-Z0-9]+")
_Rank = tuple[int, int, str, int]  # sort key of a search hit: lower is better


class Catalogue:
    """An immutable set of instruments with O(1) conid lookup and prebuilt chain indexes.

    Construction raises CatalogueError when a conid is used twice, or when an instrument names
    an `underlying_conid` that is not in the catalogue or is itself an option or future.
    Every query returns a new list; nothing changes after construction.
    """

    __slots__ = ("_by_conid", "_futures", "_options", "_underlyings")

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        by_conid: dict[int, Instrument] = {}
        for instrument in instruments:
            if instrument.conid in by_conid:
                raise CatalogueError(f"duplicate conid {instrument.conid} ({instrument.symbol})")
            by_conid[instrument.conid] = instrument
        _check_underlyings(by_conid)
        self._by_conid = by_conid
        self._underlyings = tuple(i for i in by_conid.values() if i.sec_type not in _DERIVATIVES)
        self._futures = _index_futures(by_conid.values())
        self._options = _index_options(by_conid.values())

    def get(self, conid: int) -> Instrument:
        """The instrument with `conid`. Raises NotFoundError("Invalid conid <conid>")."""
        instrument = self._by_conid.get(conid)
        if instrument is None:
            raise NotFoundError(invalid_conid(conid))
        return instrument

    def find(self, conid: int) -> Instrument | None:
        """The instrument with `conid`, or None."""
        return self._by_conid.get(conid)

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
        symbols first, then symbols starting with `text`, shorter first. With `by_name`: every
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
    place; new conids are appended. `base` is not changed. Raises CatalogueError when `extra`
    holds a conid twice or the result is inconsistent (see `Catalogue`).
    """
    seen: set[int] = set()
    for instrument in extra:
        if instrument.conid in seen:
            raise CatalogueError(f"duplicate conid {instrument.conid} in the added instruments")
        seen.add(instrument.conid)
    if replace:
        return type(base)(extra)
    merged = {instrument.conid: instrument for instrument in base}
    merged.update((instrument.conid, instrument) for instrument in extra)
    return type(base)(merged.values())


def contract_month(future: Instrument) -> str:
    """The month code of a future's contract month. For the built-in roots whose last trading
    day falls in the month before the contract month (CL), that is the following month; for
    anything else it is `month_code(expiry)`. Raises ValueError without a valid expiry."""
    day = parse_expiry(future.expiry or "")
    root = FUTURE_ROOTS.get(future.symbol)
    offset = root.month_offset if root is not None and future.sec_type is SecType.FUT else 0
    year, month = divmod(day.year * 12 + day.month - 1 + offset, 12)
    return month_code(f"{year:04d}{month + 1:02d}01")


def default_catalogue(*, today: date) -> Catalogue:
    """The built-in catalogue for trading date `today`: the shipped underlyings plus futures
    chains of ES, NQ, CL, GC and monthly option chains of AAPL, SPY, QQQ, all expiring on or
    after `today`. The same `today` always gives the same instruments and conids."""
    underlyings = _shipped_underlyings()
    by_symbol = {(i.symbol, i.sec_type): i for i in underlyings}
    derived: list[Instrument] = []
    for root in FUTURE_ROOTS.values():
        derived += future_chain(root, by_symbol[root.symbol, SecType.IND], today=today)
    for chain in OPTION_CHAINS.values():
        derived += option_chain(chain, by_symbol[chain.symbol, SecType.STK], today=today)
    return Catalogue([*underlyings, *derived])


def _shipped_underlyings() -> list[Instrument]:
    found: list[Instrument] = []
    data = resources.files("tickgate.market") / "data"
    for name in DATA_FILES:
        with resources.as_file(data / name) as path:
            found += load_instruments(path)
    return found


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
    ranked: list[tuple[_Rank, Instrument]] = []
    for position, instrument in enumerate(candidates):
        symbol = instrument.symbol.upper()
        if wanted in (symbol, symbol.replace(".", "")):
            ranked.append(((0, 0, "", position), instrument))
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
