"""A simulated order book around the quote, as the `sbd` price ladder shows it (reference §5.3).

Pure: the ladder is a function of the conid's current wire values. The top level on each side is
the real quote (bid/ask price and size); deeper levels step one price increment away per row
with sizes derived deterministically from the conid, the level and the top size, so the same
quote always yields the same ladder. Rows run from the highest ask down to the lowest bid, the
row of the best bid has `focus` 1, as BookTrader centres on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tickgate.protocol import fields as F

DEFAULT_LEVELS = 5
_MULTIPLIERS = (1, 3, 2, 5, 4, 7, 6, 9, 8, 10)


def ladder(
    conid: int, values: Mapping[int, str], *, levels: int = DEFAULT_LEVELS
) -> list[dict[str, Any]]:
    """The price ladder for `values` (a market snapshot), `levels` rows per side.

    Returns an empty list until bid, ask and both sizes are known (or when they are not
    parseable numbers, e.g. a closed market). Prices are strings with the quote's decimals;
    sizes are strings without separators.
    """
    quote = _quote(values)
    if quote is None:
        return []
    bid, ask, bid_size, ask_size = quote
    step = _step(values[F.BID], values[F.ASK])
    asks = [(ask + step * level, _size(conid, level, ask_size)) for level in range(levels)]
    bids = [(bid - step * level, _size(conid, level + 100, bid_size)) for level in range(levels)]
    rows: list[dict[str, Any]] = []
    for price, size in reversed(asks):
        rows.append({"row": len(rows), "focus": 0, "price": _price(price, step), "ask": str(size)})
    for level, (price, size) in enumerate(bids):
        if price <= 0:
            break
        row = {
            "row": len(rows),
            "focus": int(level == 0),
            "price": _price(price, step),
            "bid": str(size),
        }
        rows.append(row)
    return rows


def _quote(values: Mapping[int, str]) -> tuple[Decimal, Decimal, int, int] | None:
    try:
        bid, ask = Decimal(values[F.BID]), Decimal(values[F.ASK])
        sizes = (F.parse_size(values[F.BID_SIZE]), F.parse_size(values[F.ASK_SIZE]))
    except (KeyError, ValueError, InvalidOperation):
        return None
    if not (bid.is_finite() and ask.is_finite()) or bid <= 0 or ask < bid:
        return None
    return bid, ask, sizes[0], sizes[1]


def _step(*prices: str) -> Decimal:
    """One unit of the last decimal the quote shows (0.01 for "189.56", 1 for "4500")."""
    decimals = max((len(p.partition(".")[2]) for p in prices), default=0)
    return Decimal(1).scaleb(-decimals)


def _price(price: Decimal, step: Decimal) -> str:
    return str(price.quantize(step))


def _size(conid: int, level: int, top: int) -> int:
    """The top size for level 0; deeper levels a fixed multiple of it (at least 100)."""
    if level in (0, 100):
        return top
    base = max(top, 100)
    return base * _MULTIPLIERS[(conid + level) % len(_MULTIPLIERS)]
