"""Market-data field ids, their names, and the wire formatting rules of the IBKR API.

Values on the wire are strings for almost every field (protocol reference §6): prices on the
instrument's tick grid, sizes with thousands separators, `87` volume with K/M, `31` last price with
a `C` prefix when it is the prior close and `H` when the instrument is halted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

LAST = 31
SYMBOL = 55
TEXT = 58
HIGH = 70
LOW = 71
CHANGE = 82
CHANGE_PCT = 83
BID = 84
ASK_SIZE = 85
ASK = 86
VOLUME = 87
BID_SIZE = 88
RIGHT = 201
EXCHANGE = 6004
CONID = 6008
SEC_TYPE = 6070
MONTHS = 6072
REGULAR_EXPIRY = 6073
SERVER_ID = 6119
UNDERLYING_CONID = 6457
SERVICE_PARAMS = 6508
AVAILABILITY = 6509
COMPANY_NAME = 7051
ASK_EXCH = 7057
LAST_EXCH = 7058
LAST_SIZE = 7059
BID_EXCH = 7068
CONID_EXCHANGE = 7094
CAN_BE_TRADED = 7184
CONTRACT_DESCRIPTION = 7219
LISTING_EXCHANGE = 7221
OPEN = 7295
CLOSE = 7296
DELTA = 7308
GAMMA = 7309
THETA = 7310
VEGA = 7311
IMPLIED_VOL = 7633
MARK = 7635
OPTION_OPEN_INTEREST = 7638
FUTURES_OPEN_INTEREST = 7697
PRIOR_CLOSE = 7741
VOLUME_EXACT = 7762
HAS_TRADING_PERMISSIONS = 7768

#: Every field id tickgate knows, with its name (protocol reference §6). A subscription or
#: snapshot may ask for any of these; fields the market has no value for are simply absent.
# fmt: off
FIELD_NAMES: dict[int, str] = {
    31: "Last Price", 55: "Symbol", 58: "Text", 70: "High", 71: "Low", 72: "Position",
    73: "Market Value", 74: "Avg Price", 75: "Unrealized PnL", 76: "Formatted position",
    77: "Formatted Unrealized PnL", 78: "Daily PnL", 79: "Realized PnL", 80: "Unrealized PnL %",
    82: "Change", 83: "Change %", 84: "Bid Price", 85: "Ask Size", 86: "Ask Price", 87: "Volume",
    88: "Bid Size", 201: "Right", 6004: "Exchange", 6008: "Conid", 6070: "SecType",
    6072: "Months", 6073: "Regular Expiry", 6119: "Marker", 6457: "Underlying Conid",
    6508: "Service Params", 6509: "Market Data Availability", 7051: "Company name",
    7057: "Ask Exch", 7058: "Last Exch", 7059: "Last Size", 7068: "Bid Exch",
    7084: "Implied Vol./Hist. Vol %", 7085: "Put/Call Interest", 7086: "Put/Call Volume",
    7087: "Hist. Vol. %", 7088: "Hist. Vol. Close %", 7089: "Opt. Volume",
    7094: "Conid + Exchange", 7184: "canBeTraded", 7219: "Contract Description",
    7220: "Contract Description (alt)", 7221: "Listing Exchange", 7280: "Industry",
    7281: "Category", 7282: "Average Volume", 7283: "Option Implied Vol. %",
    7284: "Historical volatility %", 7285: "Put/Call Ratio", 7286: "Dividend Amount",
    7287: "Dividend Yield %", 7288: "Ex-date of dividend", 7289: "Market Cap", 7290: "P/E",
    7291: "EPS", 7292: "Cost Basis", 7293: "52 Week High", 7294: "52 Week Low", 7295: "Open",
    7296: "Close", 7308: "Delta", 7309: "Gamma", 7310: "Theta", 7311: "Vega",
    7607: "Opt. Volume Change %", 7633: "Implied Vol. %", 7635: "Mark",
    7636: "Shortable Shares", 7637: "Fee Rate", 7638: "Option Open Interest",
    7639: "% of Mark Value", 7644: "Shortable", 7671: "Dividends", 7672: "Dividends TTM",
    7674: "EMA(200)", 7675: "EMA(100)", 7676: "EMA(50)", 7677: "EMA(20)",
    7678: "Price/EMA(200)", 7679: "Price/EMA(100)", 7724: "Price/EMA(50)",
    7681: "Price/EMA(20)", 7682: "Change Since Open", 7683: "Upcoming Event",
    7684: "Upcoming Event Date", 7685: "Upcoming Analyst Meeting", 7686: "Upcoming Earnings",
    7687: "Upcoming Misc Event", 7688: "Recent Analyst Meeting", 7689: "Recent Earnings",
    7690: "Recent Misc Event", 7694: "Probability of Max Return", 7695: "Break Even",
    7696: "SPX Delta", 7697: "Futures Open Interest", 7698: "Last Yield", 7699: "Bid Yield",
    7700: "Probability of Max Return (alt)", 7702: "Probability of Max Loss",
    7703: "Profit Probability", 7704: "Organization Type", 7705: "Debt Class", 7706: "Ratings",
    7707: "Bond State Code", 7708: "Bond Type", 7714: "Last Trading Date", 7715: "Issue Date",
    7718: "Beta", 7720: "Ask Yield", 7741: "Prior Close", 7762: "Volume Long",
    7768: "hasTradingPermissions", 7920: "Daily PnL Raw", 7921: "Cost Basis Raw",
}
# fmt: on

KNOWN_FIELDS: frozenset[int] = frozenset(FIELD_NAMES)

#: The top of book: the fields a `Quote` is made of (bid, ask, their sizes, last). A tick that
#: changes none of them leaves the quote as it was.
QUOTE_FIELDS: frozenset[int] = frozenset({BID, ASK, BID_SIZE, ASK_SIZE, LAST})

#: Fields a subscription gets when it names none: a useful top-of-book set.
DEFAULT_FIELDS: tuple[int, ...] = (31, 55, 70, 71, 82, 83, 84, 85, 86, 87, 88, 7059, 6509)

# --- Wire formatting -----------------------------------------------------------------------------
# Pure functions from numbers to the strings IBKR puts on the wire, and back. Sources format with
# these so that everything downstream (engine, streams, REST) only ever copies strings.

_PREFIXES = ("C", "H")


def format_price(value: Decimal | float, decimals: int) -> str:
    """A price with exactly `decimals` decimals, e.g. ``format_price(168.42, 2) == "168.42"``.

    Rounds half-to-even at the last decimal. Never returns a negative zero ("-0.00" is "0.00").
    Raises ValueError when `decimals` is negative.
    """
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    text = f"{value:.{decimals}f}"
    # Rounding a tiny negative number gives "-0.00"; a price is never signed zero on the wire.
    if text[0] == "-" and not text.strip("-0."):
        return text[1:]
    return text


@dataclass(frozen=True, slots=True)
class TickGrid:
    """Wire text of prices held as whole numbers of ticks: exact integer arithmetic, no float.

    ``TickGrid.of(Decimal("0.25"), 2).price(18001) == "4500.25"``: the same text as
    `format_price` of the price (every price on the grid has at most `decimals` decimals, so
    nothing is rounded), and `change` the same as `format_change`. Build with `of`.
    """

    units: int  # one tick in units of the last decimal shown (0.25 at 2 decimals: 25)
    scale: int  # 10 ** decimals
    pattern: str  # "%d.%02d": whole part and decimals of divmod(units * ticks, scale)

    @classmethod
    def of(cls, min_tick: Decimal, decimals: int) -> TickGrid:
        """The grid of `min_tick` shown with `decimals` decimals. Raises ValueError when
        `decimals` is negative or too few to show `min_tick` exactly."""
        if decimals < 0:
            raise ValueError(f"decimals must be >= 0, got {decimals}")
        units = min_tick.scaleb(decimals)
        if units <= 0 or units != units.to_integral_value():
            raise ValueError(f"a tick of {min_tick} is not a whole number at {decimals} decimals")
        # "%.0s" swallows the remainder (always 0) of a grid shown without decimals.
        pattern = f"%d.%0{decimals}d" if decimals else "%d%.0s"
        return cls(int(units), 10**decimals, pattern)

    def price(self, ticks: int) -> str:
        """`ticks` (>= 0) ticks as a wire price, e.g. "189.50"."""
        return self.pattern % divmod(ticks * self.units, self.scale)

    def change(self, ticks: int) -> str:
        """A change of `ticks` ticks as field 82 shows it: "+1.25", "-0.80", "0.00"."""
        text = self.pattern % divmod(abs(ticks) * self.units, self.scale)
        if ticks > 0:
            return "+" + text
        return "-" + text if ticks < 0 else text


def format_size(n: int) -> str:
    """A size with thousands separators: ``format_size(1300) == "1,300"``.

    Raises ValueError for a negative size.
    """
    if n < 0:
        raise ValueError(f"a size cannot be negative, got {n}")
    return f"{n:,}"


def format_volume(n: int) -> str:
    """Field 87: plain below 1,000, else three significant digits with K or M.

    ``87 -> "87"``, ``12_345 -> "12.3K"``, ``563_400 -> "563K"``, ``1_234_567 -> "1.23M"``;
    a value that rounds up to 1000K is shown as "1.00M"; from 1000M on, whole millions with
    separators ("1,235M"). Use field 7762 for the exact number. Raises ValueError when negative.
    """
    if n < 0:
        raise ValueError(f"a volume cannot be negative, got {n}")
    if n < 1000:
        return str(n)
    if n < 999_500:
        return _three_significant(n / 1000) + "K"
    millions = n / 1_000_000
    if millions >= 999.5:
        return f"{round(millions):,}M"
    return _three_significant(millions) + "M"


def _three_significant(x: float) -> str:
    """`x` in [1, 1000) with three significant digits ("1.23", "12.3", "123")."""
    for limit, decimals in ((9.995, 2), (99.95, 1)):
        if x < limit:
            return f"{x:.{decimals}f}"
    return f"{x:.0f}"


def format_last(price_str: str, *, prior_close: bool, halted: bool) -> str:
    """Field 31: a formatted price with ``H`` when halted or ``C`` when it is a prior close.

    ``H`` wins when both apply: a halt is the more urgent thing for a trader to see.
    """
    if halted:
        return "H" + price_str
    if prior_close:
        return "C" + price_str
    return price_str


def is_halted_last(value: str) -> bool:
    """True when a field-31 value carries the halt mark (`format_last` with ``halted``)."""
    return value[:1] == "H"


def format_change(diff: Decimal | float, decimals: int) -> str:
    """Field 82: a signed change, ``"+1.25"``, ``"-0.80"``, and unsigned ``"0.00"`` when it
    rounds to zero. Raises ValueError when `decimals` is negative."""
    text = format_price(diff, decimals)
    if text[0] == "-" or not text.strip("0."):
        return text
    return "+" + text


def format_change_pct(pct: Decimal | float) -> str:
    """Field 83: a signed percentage with two decimals and no ``%`` sign, ``"+0.45"``.

    IBKR has sent this field as a bare number (0.56), and documents "+0.45%"; tickgate sends a
    string like field 82 but leaves out the ``%`` so that ``float(value)`` works for clients.
    """
    return format_change(pct, 2)


def parse_price(s: str) -> float:
    """Inverse of `format_price` / `format_last`: strips a leading C or H and any thousands
    separators. Raises ValueError when `s` is not a price."""
    text = s[1:] if s[:1] in _PREFIXES else s
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"not a price: {s!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"not a price: {s!r}")
    return value


def parse_decimal_price(s: str) -> Decimal:
    """`parse_price` as an exact Decimal: ``"C189.50" -> Decimal("189.50")``, no float on
    the way (the quote that matching and marks use is made with this). Raises ValueError when
    `s` is not a finite price."""
    text = s[1:] if s[:1] in _PREFIXES else s
    if "," in text:
        text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a price: {s!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a price: {s!r}")
    return value


def parse_size(s: str) -> int:
    """Inverse of `format_size`: ``"1,300" -> 1300``. Raises ValueError when `s` is not a
    whole, non-negative number."""
    text = s.replace(",", "")
    if not text.isdigit():
        raise ValueError(f"not a size: {s!r}")
    return int(text)


#: Fields the API sends as JSON integers rather than strings (reference §6).
INTEGER_FIELDS: tuple[int, ...] = (CONID, UNDERLYING_CONID)


def wire_values(values: Mapping[int, str]) -> Mapping[int, str | int]:
    """`values` as they go on the wire: the integer fields as numbers, everything else as is.

    Returns `values` itself (no copy) in the usual case where no integer field is present.
    """
    if CONID not in values and UNDERLYING_CONID not in values:
        return values
    out: dict[int, str | int] = dict(values)
    for fid in INTEGER_FIELDS:
        raw = values.get(fid)
        if raw is not None and raw.isdigit():
            out[fid] = int(raw)
    return out
