"""Instruments described by another gateway (IBKR's or a tickgate): its `/trsrv/secdef` rows.

A relay learns the instruments its own catalogue lacks from its upstream, and `tickgate
record --url` describes the instruments it records for the recording's header; both read
them from the same rows, here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from tickgate.market.catalogue.fields import instrument_from_row
from tickgate.model.instruments import Instrument
from tickgate.protocol import fields as F

_PRICE_FIELDS = (F.LAST, F.BID, F.ASK)


def instrument_from_secdef(row: Mapping[str, Any], quote: Mapping[str, Any]) -> Instrument:
    """The instrument of one `/trsrv/secdef` row; `quote` is a snapshot row of it (its last,
    bid or ask becomes the reference price; any positive price when none is quoted yet).

    Raises RowError (from `market.catalogue.fields`) naming what the row lacks or gets wrong.
    """
    increments = row.get("incrementRules") or [{}]
    exchanges = str(row.get("allExchanges") or "").replace(";", ",").split(",")
    entry: dict[str, object] = {
        "conid": row.get("conid"),
        "symbol": row.get("ticker") or str(row.get("conid")),
        "name": row.get("name") or row.get("ticker") or "",
        "sec_type": row.get("assetClass"),
        "currency": row.get("currency") or "USD",
        "listing_exchange": row.get("listingExchange") or "",
        "min_tick": str(increments[0].get("increment", "")),
        "reference_price": reference_price(quote),
    }
    if row.get("assetClass") in ("FUT", "IND") and exchanges[0].strip():
        # Stocks, options and FX pairs trade on SMART or IDEALPRO; the rest name their venue.
        entry["exchange"] = exchanges[0].strip()
    if row.get("assetClass") in ("FUT", "OPT"):
        entry.update(expiry=row.get("expiry") or row.get("lastTradingDay"))
        entry.update(multiplier=int(float(row.get("multiplier") or 1)))
    if row.get("assetClass") == "OPT":
        entry.update(strike=row.get("strike"), right=row.get("putOrCall"))
        entry.update(underlying_conid=row.get("undConid") or None)
    if row.get("type") == "ETF":
        entry["is_etf"] = True
    return instrument_from_row(entry)


def reference_price(quote: Mapping[str, Any]) -> str:
    """The first positive last, bid or ask of a snapshot row, else "1" (nothing quoted yet:
    any positive price makes a valid catalogue entry)."""
    for fid in _PRICE_FIELDS:
        raw = quote.get(str(fid))
        with contextlib.suppress(ValueError, TypeError):
            if raw is not None and F.parse_price(str(raw)) > 0:
                return str(F.parse_price(str(raw)))
    return "1"
