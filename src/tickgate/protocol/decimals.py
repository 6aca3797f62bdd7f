"""The one rule for how a `Decimal` leaves tickgate.

The ledger keeps money, prices and quantities as exact `Decimal`s; JSON has no such type, so
each value is written at the edge, and only there, through this module. The rule: **a decimal
leaves as the JSON type IBKR's own gateway uses at that place**, because clients (ibind among
them) parse what IBKR sends, and a number where they expect a string (or the reverse) breaks
them. Concretely:

- `number`: a JSON number where IBKR answers numbers: REST money, positions, P&L, summary and
  ledger amounts, and the account topics of today's dialect on `/v1/api/ws` (`ssd`, `sld`,
  `spl`), whose frames write any remaining `Decimal` with `number_json`;
- `count`: a JSON number that is an integer when the value is whole (`5`, not `5.0`): sizes
  and quantities inside order rows and descriptions, as IBKR's samples show them;
- `text`: a JSON string where IBKR answers strings: an order's status prices and sizes, a
  trade's price and commission, an order row's `avgPrice`, and every decimal of the seed
  dialect on `/v1/portal/ws`, whose account data frames write them with `text_json` (exact,
  as the ledger keeps them).

`float` is used only for the number case: the amounts involved are far inside the 15
significant digits a double keeps, and the ledger never reads a value back from the wire.
"""

from __future__ import annotations

from decimal import Decimal


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
