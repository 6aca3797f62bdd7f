"""Instruments: what can be quoted and traded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache

#: Listing exchanges IBKR counts as US ones (its `isUS`).
US_EXCHANGES = frozenset(
    {"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "CBOE", "CME", "NYMEX", "COMEX", "CBOT"}
)


class SecType(StrEnum):
    """IBKR security types used by tickgate."""

    STK = "STK"
    FUT = "FUT"
    OPT = "OPT"
    CASH = "CASH"
    IND = "IND"


class Right(StrEnum):
    """Option right."""

    CALL = "C"
    PUT = "P"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One contract, identified by its IBKR conid.

    `reference_price` is where the simulator starts the instrument (a realistic recent price);
    `volatility` is its annualised volatility (used by the simulator, and as implied volatility
    for options). Options and futures name their `underlying_conid`; `expiry` is YYYYMMDD.
    `ticks_per_second` pins how often the simulator updates it (else it gets a share of the
    total rate by its asset class's activity).
    """

    conid: int
    symbol: str
    name: str
    sec_type: SecType
    exchange: str
    currency: str
    min_tick: Decimal
    reference_price: Decimal
    volatility: float
    multiplier: int = 1
    listing_exchange: str = ""
    underlying_conid: int | None = None
    expiry: str | None = None
    strike: Decimal | None = None
    right: Right | None = None
    trading_class: str = ""
    is_etf: bool = False
    #: A fixed simulated update rate for this instrument; None shares the total by activity.
    ticks_per_second: float | None = None
    #: The company's industry sector (e.g. ``Information Technology``), None when unknown.
    sector: str | None = None

    @property
    def is_us(self) -> bool:
        """IBKR's `isUS`: a US dollar contract listed on a US exchange (or on none named)."""
        listing = self.listing_exchange
        return self.currency == "USD" and (not listing or listing in US_EXCHANGES)

    @property
    def price_decimals(self) -> int:
        """Number of decimals needed to show a price on this instrument's tick grid."""
        return _decimals_of(self.min_tick)

    def on_tick_grid(self, price: Decimal) -> bool:
        """True when `price` is a whole multiple of `min_tick`."""
        return (price % self.min_tick) == 0

    def round_to_tick(self, price: float | Decimal) -> Decimal:
        """Nearest price on the tick grid (half away from zero)."""
        # Explicit: the context default is half-to-even, which broke the promise above.
        steps = (Decimal(str(price)) / self.min_tick).to_integral_value(ROUND_HALF_UP)
        return (steps * self.min_tick).quantize(self.min_tick)


@lru_cache(maxsize=256)
def _decimals_of(min_tick: Decimal) -> int:
    # Cached: a catalogue has a handful of ticks and thousands of instruments.
    exponent = min_tick.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 2


def invalid_conid(*conids: int) -> str:
    """IBKR's words for conids it does not know: ``Invalid conid 1`` (several: ``1, 2``).

    Every place that refuses an unknown conid (REST, both WebSocket dialects, the engines)
    builds its message here, so clients that match on the text see one wording.
    """
    return f"Invalid conid {', '.join(map(str, conids))}"
