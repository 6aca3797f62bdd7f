"""Instruments for tests, built in one place."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tickgate.model.instruments import Instrument, SecType


def stock(
    conid: int = 265598,
    symbol: str = "AAPL",
    name: str = "APPLE INC",
    *,
    price: str = "189.50",
    volatility: float = 0.25,
    **extra: Any,
) -> Instrument:
    """A US stock on SMART with a one-cent tick; `extra` sets any other Instrument field."""
    return Instrument(
        conid=conid,
        symbol=symbol,
        name=name,
        sec_type=SecType.STK,
        exchange="SMART",
        currency="USD",
        min_tick=Decimal("0.01"),
        reference_price=Decimal(price),
        volatility=volatility,
        **extra,
    )


AAPL = stock()

EURUSD = Instrument(
    conid=12087792,
    symbol="EUR",
    name="EUR.USD",
    sec_type=SecType.CASH,
    exchange="IDEALPRO",
    currency="USD",
    min_tick=Decimal("0.00005"),
    reference_price=Decimal("1.08500"),
    volatility=0.07,
)
