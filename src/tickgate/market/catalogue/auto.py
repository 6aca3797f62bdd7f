"""Stocks created on their first search (``auto_instruments``), so a bot's whole watchlist runs.

`ensure_listed` is what the search routes call before they search: when the searched text is a
ticker that names nothing in the catalogue, it adds the stock `generated.auto_stock` makes for
it, through `Catalogue.add` like every run-time addition (so the market engine, market hours
and simulator learn it at once). The conid comes from the symbol alone, so the stock has the
same conid after a restart, on another machine, and in the built-in universe; and
`resolve_generated` turns such a conid back into its stock when something names it by conid
alone (the orders and positions restored at a restart, a bot that kept the conid).
"""

from __future__ import annotations

import logging

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.catalogue.generated import auto_stock, ibkr_symbol, symbol_of
from tickgate.model.instruments import Instrument, SecType

__all__ = ["ensure_listed", "resolve_generated"]

log = logging.getLogger("tickgate.catalogue")

_NAMED = (SecType.STK, SecType.IND, SecType.CASH)


def ensure_listed(catalogue: Catalogue, text: str) -> Instrument | None:
    """The stock created for `text`, or None when none was: `text` is not a ticker
    (`generated.ibkr_symbol`), a stock, index or FX pair of the catalogue already has that
    symbol (an FX pair's base currency counts: ``EUR`` names ``EUR.USD``), or the catalogue
    is frozen. When the generated conid is already taken by another instrument (a catalogue
    file can do that), nothing is created and a warning says so. Never raises."""
    symbol = ibkr_symbol(text)
    if symbol is None or not catalogue.growable or _named(catalogue, symbol):
        return None
    instrument = auto_stock(symbol)
    if instrument is None:
        return None
    taken = catalogue.find(instrument.conid) if instrument.conid in catalogue else None
    if taken is not None:
        log.warning(
            "cannot create %s: its generated conid %d is %s's",
            symbol,
            instrument.conid,
            taken.symbol,
        )
        return None
    try:
        catalogue.add([instrument])
    except CatalogueError as exc:  # only a concurrent path could get here; say so, once
        log.warning("cannot create %s: %s", symbol, exc)
        return None
    log.info("created %s (conid %d) on its first search", symbol, instrument.conid)
    return instrument


def resolve_generated(catalogue: Catalogue, conid: int) -> Instrument | None:
    """A catalogue resolver (`Catalogue.set_resolver`): the stock of a generated conid
    (`generated.symbol_of`), created as a search for its symbol would create it, so orders,
    positions and watchlists that name one from an earlier run find it again. None for any
    other conid. Never raises."""
    symbol = symbol_of(conid)
    return ensure_listed(catalogue, symbol) if symbol is not None else None


def _named(catalogue: Catalogue, symbol: str) -> bool:
    for instrument in catalogue.search(symbol.split(" ")[0]):
        if instrument.sec_type in _NAMED and symbol in (
            instrument.symbol.upper(),
            instrument.symbol.upper().split(".")[0],
        ):
            return True
    return False
