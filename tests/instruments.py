"""Instruments for tests, built in one place.

`instrument` is the one builder; `stock`, `option` and `future` are its usual shapes (USD, a
SMART listing for stocks and options). Any other `Instrument` field goes through `extra`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tickgate.model.instruments import Instrument, Right, SecType


def instrument(
    conid: int,
    symbol: str,
    sec_type: SecType,
    *,
    name: str | None = None,
    exchange: str = "SMART",
    tick: str = "0.01",
    price: str,
    volatility: float,
    **extra: Any,
) -> Instrument:
    """An instrument in USD on `exchange` with a `tick` price step, named after its symbol
    unless `name` says otherwise."""
    return Instrument(
        conid=conid,
        symbol=symbol,
        name=symbol if name is None else name,
        sec_type=sec_type,
        exchange=exchange,
        currency="USD",
        min_tick=Decimal(tick),
        reference_price=Decimal(price),
        volatility=volatility,
        **extra,
    )


def stock(
    conid: int = 265598,
    symbol: str = "AAPL",
    name: str = "APPLE INC",
    *,
    price: str = "189.50",
    volatility: float = 0.25,
    exchange: str = "SMART",
    **extra: Any,
) -> Instrument:
    """A US stock (SMART unless `exchange` says otherwise) with a one-cent tick."""
    return instrument(
        conid,
        symbol,
        SecType.STK,
        name=name,
        exchange=exchange,
        price=price,
        volatility=volatility,
        **extra,
    )


def option(
    underlying: Instrument,
    *,
    conid: int,
    expiry: str,
    strike: int,
    right: Right = Right.CALL,
    price: str,
    volatility: float = 0.3,
    name: str | None = None,
    **extra: Any,
) -> Instrument:
    """An equity option on SMART of `underlying` (its symbol, and its name unless `name` is
    given), 100 shares a contract, with a one-cent tick."""
    return instrument(
        conid,
        underlying.symbol,
        SecType.OPT,
        name=underlying.name if name is None else name,
        price=price,
        volatility=volatility,
        multiplier=100,
        underlying_conid=underlying.conid,
        expiry=expiry,
        strike=Decimal(strike),
        right=right,
        **extra,
    )


def future(conid: int = 495512, symbol: str = "ES", name: str = "E-mini") -> Instrument:
    """An index future on CME shaped like the E-mini: a quarter-point tick, 50 a point, at 5000."""
    return instrument(
        conid,
        symbol,
        SecType.FUT,
        name=name,
        exchange="CME",
        tick="0.25",
        price="5000",
        volatility=0.2,
        multiplier=50,
    )


AAPL = stock()

#: The trading tests' AAPL: listed on NASDAQ at a round reference price of 100.
TRADED_AAPL = stock(exchange="NASDAQ", price="100", volatility=0.2)

EURUSD = instrument(
    12087792,
    "EUR",
    SecType.CASH,
    name="EUR.USD",
    exchange="IDEALPRO",
    tick="0.00005",
    price="1.08500",
    volatility=0.07,
)
