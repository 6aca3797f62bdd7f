"""The one rule for how a decimal leaves tickgate.

The ledger keeps money, prices and quantities as exact `Decimal`s, and the market engine keeps
its values as IBKR's wire text ("189.50", "1,300"); JSON has no decimal type, so each value is
written at the edge, and only there, through this module. The rule: **a decimal leaves as the
JSON type IBKR's own gateway uses at that place**, because clients (ibind among them) parse
what IBKR sends, and a number where they expect a string (or the reverse) breaks them.
Concretely:

- `number`: a JSON number where IBKR answers numbers: REST money, positions, P&L, summary and
  ledger amounts, and the account topics of today's dialect on `/v1/api/ws` (`ssd`, `sld`,
  `spl`), whose frames write any remaining `Decimal` with `number_json`;
- `count`: a JSON number that is an integer when the value is whole (`5`, not `5.0`): sizes
  and quantities inside order rows and descriptions, as IBKR's samples show them;
- `wire_number`: the market-data prices and sizes of the seed dialect on `/v1/portal/ws`,
  which the seed's spec shows as numbers (`{"31":154.81,...}`);
- `text`: a JSON string where IBKR answers strings: an order's status prices and sizes, a
  trade's price and commission, an order row's `avgPrice`, the account data frames of the seed
  dialect (`text_json`, exact as the ledger keeps them), and every market-data value of
  today's dialect.

Why the seed dialect's prices changed from text to numbers: stop 18 sent them as exact text,
so that the page's watchlist would show "189.50" and not "189.5". But the seed's spec, the
only description that dialect has, shows a number, and a client written against it reads one.
A number loses nothing: `wire_number` converts only text with at most 15 significant digits,
which a double holds exactly enough that orjson's shortest round-trip rendering gives back the
same decimal value (189.50 leaves as 189.5, never as 189.49999999999997). Trailing zeros are
presentation, and a client shows them from the instrument's decimals (the page reads them from
`/trsrv/secdef`'s `displayRule`).

`float` is used only for the number case: the amounts involved are far inside the 15
significant digits a double keeps, and the ledger never reads a value back from the wire.
"""

from __future__ import annotations

import re
from decimal import Decimal

#: A plain decimal as the market engine writes it: an optional minus sign, digits (grouped in
#: threes by commas, as sizes are), and an optional fraction. No prefix, unit or plus sign.
_PLAIN = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
#: The most significant digits whose decimal value survives a trip through a double.
MAX_EXACT_DIGITS = 15


def number(value: Decimal) -> float:
    """`value` as a JSON number."""
    return float(value)


def count(value: Decimal) -> int | float:
    """`value` as a JSON number, an integer when it is whole."""
    return int(value) if value == value.to_integral_value() else float(value)


def text(value: Decimal) -> str:
    """`value` as a JSON string, exactly as the ledger holds it."""
    return str(value)


def number_json(value: object) -> float:
    """An orjson `default` writing a Decimal as a number. Raises TypeError for other types."""
    if isinstance(value, Decimal):
        return number(value)
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def text_json(value: object) -> str:
    """An orjson `default` writing a Decimal as a string. Raises TypeError for other types."""
    if isinstance(value, Decimal):
        return text(value)
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def wire_number(value: str) -> int | float | None:
    """The JSON number that market-data text stands for, or None when it is not a plain one.

    ``"189.50" -> 189.5``, ``"1,300" -> 1300``, ``"-0.25" -> -0.25``; text with a prefix, a
    unit or a sign of its own (``"C189.50"``, ``"1.23M"``, ``"+1.25"``) and text with more than
    `MAX_EXACT_DIGITS` digits give None, so the caller sends it as text. Guarantee: orjson
    writes the result as the shortest text that reads back as the same double, and that text
    equals `value` as a decimal (only trailing zeros and separators differ).
    """
    if _PLAIN.fullmatch(value) is None:
        return None
    plain = value.replace(",", "") if "," in value else value
    digits = len(plain) - (plain[0] == "-") - ("." in plain)
    if digits > MAX_EXACT_DIGITS:
        return None
    return float(plain) if "." in plain else int(plain)
