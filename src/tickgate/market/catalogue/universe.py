"""The built-in universe: the layer of instruments beyond the seeded core catalogue.

`universe_layer` gives the S&P 500 and Nasdaq-100 members the core does not hold
(``market/data/universe.csv``, generated conids, see `catalogue.generated`), the instruments
with IBKR's real conids that IBKR's documentation shows (``market/data/listings.csv``: SPX and
Apple's other listings), and the option series of `chains.LAYERED_OPTION_CHAINS` (weeklies of
SPY and QQQ, SPX monthlies and SPXW weeklies), all for one trading date.

It is a layer (`Catalogue` ``layered=``): served everywhere like the core, simulated on its own
random stream and rate, so the core's seeded market is the same with or without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from tickgate.errors import CatalogueError
from tickgate.market.catalogue.chains import LAYERED_OPTION_CHAINS, option_chain
from tickgate.market.catalogue.files import load_shipped
from tickgate.model.instruments import Instrument, SecType

__all__ = ["UNIVERSE_FILES", "universe_layer"]

UNIVERSE_FILES = ("listings.csv", "universe.csv")


def universe_layer(core: Iterable[Instrument], *, today: date) -> list[Instrument]:
    """The layer for trading date `today` over the `core` instruments: the shipped universe
    files, minus any conid the core already has, then the layered option series on their
    underlyings (in the core or the files). The same `today` always gives the same
    instruments. Raises CatalogueError when an option series has no underlying."""
    taken = {instrument.conid for instrument in core}
    roots: dict[tuple[str, SecType], Instrument] = {}
    for instrument in core:
        roots.setdefault((instrument.symbol, instrument.sec_type), instrument)
    layer = [i for i in load_shipped(UNIVERSE_FILES) if i.conid not in taken]
    for instrument in layer:
        roots.setdefault((instrument.symbol, instrument.sec_type), instrument)
    for chain in LAYERED_OPTION_CHAINS:
        underlying = roots.get((chain.symbol, SecType.STK)) or roots.get(
            (chain.symbol, SecType.IND)
        )
        if underlying is None:
            raise CatalogueError(f"the {chain.symbol} option series has no underlying")
        layer += option_chain(chain, underlying, today=today)
    return layer
