"""Stocks tickgate makes up: conids and starting prices derived from the symbol alone.

Two things use them: the built-in universe (`market/data/universe.csv`) for members whose real
IBKR conid is not known to us, and, with ``auto_instruments``, a symbol the catalogue does not
know, created on its first search (`auto_stock`).

Conid. A US ticker of up to five characters (letters and digits; a share class written
``BRK B`` or ``BRK.B``) is read as a number in bijective base 38 (each character one digit
1..37, no digit 0, so every symbol has its own number) and added to `GENERATED_BASE`:

    ``conid = 1_200_000_000 + sum(digit(c_i) * 38**i)``   (at most 1_279_235_167)

It depends on nothing but the symbol: the same on every machine, after every restart, whether
the stock is built in or created on demand. Real IBKR conids are below 1_000_000_000 today and
the derived futures and options conids start at 1_500_000_000 (`catalogue.chains`), so a
generated conid meets neither.

Price and volatility are spread deterministically from a SHA-256 of the symbol: a reference
price log-uniform in [10, 400) and an annual volatility in [0.20, 0.50]. They are plausible
starting points for the simulator, not any company's price.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from tickgate.model.instruments import Instrument, SecType

__all__ = [
    "GENERATED_BASE",
    "GENERATED_LIMIT",
    "auto_stock",
    "generated_conid",
    "ibkr_symbol",
    "plausible_price",
    "plausible_volatility",
    "symbol_of",
]

GENERATED_BASE = 1_200_000_000
_DIGITS = " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # digit value = index + 1
_BASE = len(_DIGITS) + 1
_MAX_LENGTH = 5
#: Every generated conid is below this.
GENERATED_LIMIT = GENERATED_BASE + sum(len(_DIGITS) * _BASE**i for i in range(_MAX_LENGTH)) + 1
_TICKER = re.compile(r"[A-Z][A-Z0-9]{0,4}|[A-Z]{1,3} [A-Z]")
_CENT = Decimal("0.01")
#: What an instrument created on first search says it is, in its name.
AUTO_NAME_SUFFIX = "(SIMULATED)"


def ibkr_symbol(text: str) -> str | None:
    """`text` as IBKR writes a US ticker (upper case, a share class after a space: ``BRK B``),
    or None when it is not one tickgate can give a conid (see the module docstring)."""
    symbol = text.strip().upper().replace(".", " ").replace("/", " ")
    return symbol if _TICKER.fullmatch(symbol) else None


def generated_conid(symbol: str) -> int:
    """The generated conid of `symbol` (written as `ibkr_symbol` returns it).

    Raises ValueError for a symbol `ibkr_symbol` would refuse."""
    if ibkr_symbol(symbol) != symbol:
        raise ValueError(f"{symbol!r} is not a ticker tickgate can give a conid")
    code = 0
    for position, character in enumerate(symbol):
        code += (_DIGITS.index(character) + 1) * _BASE**position
    return GENERATED_BASE + code


def symbol_of(conid: int) -> str | None:
    """The symbol whose generated conid is `conid`, or None when no ticker has it (the
    inverse of `generated_conid`)."""
    code = conid - GENERATED_BASE
    characters: list[str] = []
    while code > 0:
        code, digit = divmod(code, _BASE)
        if digit == 0:
            return None
        characters.append(_DIGITS[digit - 1])
    symbol = "".join(characters)
    return symbol if symbol and ibkr_symbol(symbol) == symbol else None


def _fraction(symbol: str, purpose: str) -> float:
    digest = hashlib.sha256(f"tickgate:{purpose}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def plausible_price(symbol: str) -> Decimal:
    """A starting price for `symbol`, log-uniform in [10, 400), on the cent grid."""
    price = 10.0 * 40.0 ** _fraction(symbol, "price")
    return Decimal(str(price)).quantize(_CENT)


def plausible_volatility(symbol: str) -> float:
    """An annual volatility for `symbol` in [0.20, 0.50], two decimals."""
    return round(0.20 + 0.30 * _fraction(symbol, "volatility"), 2)


def auto_stock(text: str) -> Instrument | None:
    """The stock tickgate creates for a searched `text` it does not know, or None when `text`
    is not a ticker (see `ibkr_symbol`). A US stock routed SMART, listed on NYSE for symbols
    of up to three letters and NASDAQ otherwise (the usual convention), named
    ``<SYMBOL> (SIMULATED)`` so nobody takes it for the real company."""
    symbol = ibkr_symbol(text)
    if symbol is None:
        return None
    return Instrument(
        conid=generated_conid(symbol),
        symbol=symbol,
        name=f"{symbol} {AUTO_NAME_SUFFIX}",
        sec_type=SecType.STK,
        exchange="SMART",
        currency="USD",
        min_tick=_CENT,
        reference_price=plausible_price(symbol),
        volatility=plausible_volatility(symbol),
        listing_exchange="NYSE" if len(symbol.split(" ")[0]) <= 3 else "NASDAQ",
    )
