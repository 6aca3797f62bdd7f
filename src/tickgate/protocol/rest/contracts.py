"""REST shapes of contracts (protocol reference §8.3): search results, info rows, futures, stocks
and secdef entries. Pure functions of an instrument and what the caller read of its chains."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tickgate.model.instruments import Instrument, SecType
from tickgate.protocol.decimals import number

_OPT_EXCHANGES = "SMART;AMEX;BATS;BOX;CBOE;CBOE2;ISE;NASDAQOM;PHLX"

#: IBKR's spelling of the months, as in its month codes (`JAN27`) and contract descriptions.
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _num(value: Decimal | None) -> float:
    return number(value) if value is not None else 0.0


def search_row(
    instrument: Instrument,
    *,
    option_months: Sequence[str] = (),
    option_expiries: Sequence[str] = (),
    future_months: Sequence[str] = (),
    future_exchange: str = "",
) -> dict[str, Any]:
    """One `/iserver/secdef/search` result: the underlying and the derivative sections it has
    (option month codes and expiries, the month codes of futures on an index and their
    exchange)."""
    sections: list[dict[str, Any]] = [{"secType": instrument.sec_type.value}]
    expiries = sorted(set(option_expiries))
    if option_months:
        sections.append(
            {"secType": "OPT", "months": ";".join(option_months), "exchange": _OPT_EXCHANGES}
        )
    if future_months:
        sections.append(
            {"secType": "FUT", "months": ";".join(future_months), "exchange": future_exchange}
        )
    listing = instrument.listing_exchange or instrument.exchange
    return {
        "conid": str(instrument.conid),
        "companyHeader": f"{instrument.name} - {listing}",
        "companyName": instrument.name,
        "symbol": instrument.symbol,
        "description": instrument.listing_exchange or instrument.exchange,
        "restricted": None,
        "fop": None,
        "opt": ";".join(expiries) if expiries else None,
        "war": None,
        "sections": sections,
        "secType": instrument.sec_type.value,
    }


def info_row(instrument: Instrument) -> dict[str, Any]:
    """One `/iserver/secdef/info` result."""
    return {
        "conid": instrument.conid,
        "symbol": instrument.symbol,
        "secType": instrument.sec_type.value,
        "exchange": "SMART"
        if instrument.sec_type in (SecType.STK, SecType.OPT)
        else instrument.exchange,
        "listingExchange": instrument.listing_exchange or None,
        "right": instrument.right.value if instrument.right else None,
        "strike": _num(instrument.strike),
        "currency": instrument.currency,
        "cusip": None,
        "coupon": "No Coupon",
        "desc1": instrument.symbol,
        "desc2": describe(instrument),
        "maturityDate": instrument.expiry,
        "multiplier": str(instrument.multiplier),
        "tradingClass": instrument.trading_class or instrument.symbol,
        "validExchanges": instrument.exchange,
    }


def describe(instrument: Instrument) -> str:
    """Human contract description, e.g. `JAN 15 '27 195 Call` for an option."""
    if instrument.expiry is None:
        return instrument.name
    expiry = instrument.expiry  # YYYYMMDD, as the catalogue checked it
    year, month, day = expiry[2:4], MONTHS[int(expiry[4:6]) - 1], expiry[6:8]
    if instrument.sec_type is SecType.OPT and instrument.strike is not None and instrument.right:
        right = "Call" if instrument.right.value == "C" else "Put"
        return f"{month} {day} '{year} {instrument.strike.normalize():f} {right}"
    return f"{month} {day} '{year}"


def contract_name(instrument: Instrument) -> str:
    """The contract as order texts name it: the symbol, and for a dated contract its expiry
    (and an option's strike and right), e.g. `AAPL JAN 15 '27 195 Call`."""
    if instrument.expiry is None:
        return instrument.symbol
    return f"{instrument.symbol} {describe(instrument)}"


def future_row(instrument: Instrument) -> dict[str, Any]:
    """One `/trsrv/futures` entry."""
    expiry = int(instrument.expiry or 0)
    return {
        "symbol": instrument.symbol,
        "conid": instrument.conid,
        "underlyingConid": instrument.underlying_conid or 0,
        "expirationDate": expiry,
        "ltd": expiry,
        "shortFuturesCutOff": expiry,
        "longFuturesCutOff": expiry,
    }


def stock_entries(instruments: Sequence[Instrument]) -> list[dict[str, Any]]:
    """The `/trsrv/stocks` entries for one symbol: one per company (instruments of the same
    name), each with its listings as `contracts`, in the order the instruments come."""
    entries: dict[str, dict[str, Any]] = {}
    for instrument in instruments:
        entry = entries.setdefault(
            instrument.name,
            {
                "name": instrument.name,
                "chineseName": None,
                "assetClass": instrument.sec_type.value,
                "contracts": [],
            },
        )
        entry["contracts"].append(
            {
                "conid": instrument.conid,
                "exchange": instrument.listing_exchange or instrument.exchange,
                "isUS": instrument.is_us,
            }
        )
    return list(entries.values())


def increment_rules(instrument: Instrument) -> list[dict[str, float]]:
    """IBKR's price-increment table: one tick size for every price (the engine's tick grid)."""
    return [{"lowerEdge": 0.0, "increment": number(instrument.min_tick)}]


def secdef_row(instrument: Instrument, *, has_options: bool = False) -> dict[str, Any]:
    """One `/trsrv/secdef` entry; `has_options` when the catalogue lists options on it."""
    decimals = instrument.price_decimals
    return {
        "conid": instrument.conid,
        "currency": instrument.currency,
        "name": instrument.name,
        "ticker": instrument.symbol,
        "fullName": describe(instrument) if instrument.expiry else instrument.symbol,
        "assetClass": instrument.sec_type.value,
        "listingExchange": instrument.listing_exchange or instrument.exchange,
        "allExchanges": instrument.exchange,
        "countryCode": "US" if instrument.is_us else "",
        "expiry": instrument.expiry,
        "lastTradingDay": instrument.expiry,
        "putOrCall": instrument.right.value if instrument.right else None,
        "strike": str(instrument.strike.normalize()) if instrument.strike is not None else "0",
        "undConid": instrument.underlying_conid or 0,
        "multiplier": float(instrument.multiplier),
        "type": "ETF"
        if instrument.is_etf
        else ("COMMON" if instrument.sec_type is SecType.STK else None),
        "hasOptions": has_options,
        "isUS": instrument.is_us,
        "sector": instrument.sector,
        "incrementRules": increment_rules(instrument),
        "displayRule": {
            "magnification": 0,
            "displayRuleStep": [{"decimalDigits": decimals, "lowerEdge": 0.0, "wholeDigits": 4}],
        },
        "isEventContract": False,
        "pageSize": 100,
    }
