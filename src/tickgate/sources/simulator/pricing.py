"""Option and futures pricing for the simulator: Black–Scholes with greeks, and carry.

Pure float maths (the simulator's model values are floats; only the wire strings and ledgers
are exact). No dividends; one flat interest rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from tickgate.clock import NS_PER_DAY, NS_PER_S

#: Flat risk-free rate used for options and futures carry.
RATE = 0.04
#: Futures carry over the index (rate minus a typical dividend yield): a small positive basis.
CARRY = 0.025
NS_PER_YEAR = 365 * NS_PER_DAY
_SQRT_2PI = math.sqrt(2.0 * math.pi)
#: Contracts expire at 21:00 UTC on their expiry date (the US close, near enough all year).
_EXPIRY_HOUR_UTC = 21


@dataclass(frozen=True, slots=True)
class OptionValue:
    """A theoretical option price and its greeks.

    `theta` is per calendar day, `vega` per one volatility point (0.01), as IBKR shows them.
    """

    price: float
    delta: float
    gamma: float
    theta: float
    vega: float


@lru_cache(maxsize=4096)
def expiry_ns(expiry: str) -> int:
    """Epoch ns of the close on an expiry date ``YYYYMMDD``. Raises ValueError if malformed."""
    day = datetime.strptime(expiry, "%Y%m%d").replace(hour=_EXPIRY_HOUR_UTC, tzinfo=UTC)
    return int(day.timestamp()) * NS_PER_S


def years_between(start_ns: int, end_ns: int) -> float:
    """Calendar years from `start_ns` to `end_ns`, never negative."""
    return max(0, end_ns - start_ns) / NS_PER_YEAR


def futures_price(spot: float, years: float) -> float:
    """Fair futures price of an index at `spot` with `years` to expiry."""
    return spot * math.exp(CARRY * years)


def black_scholes(
    spot: float, strike: float, years: float, vol: float, *, call: bool, rate: float = RATE
) -> OptionValue:
    """European option value and greeks. At or after expiry (or with no volatility) the value
    is intrinsic and delta is 0 or ±1. Requires `spot` and `strike` > 0."""
    if years <= 0.0 or vol <= 0.0:
        return _intrinsic(spot, strike, call=call)
    root_t = math.sqrt(years)
    vol_t = vol * root_t
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / vol_t
    d2 = d1 - vol_t
    discounted = strike * math.exp(-rate * years)
    pdf = math.exp(-0.5 * d1 * d1) / _SQRT_2PI
    decay = -spot * pdf * vol / (2.0 * root_t)
    if call:
        nd2 = _cdf(d2)
        price = spot * _cdf(d1) - discounted * nd2
        delta = _cdf(d1)
        theta = decay - rate * discounted * nd2
    else:
        nd2 = _cdf(-d2)
        price = discounted * nd2 - spot * _cdf(-d1)
        delta = _cdf(d1) - 1.0
        theta = decay + rate * discounted * nd2
    gamma = pdf / (spot * vol_t)
    return OptionValue(max(price, 0.0), delta, gamma, theta / 365.0, spot * pdf * root_t / 100.0)


def _intrinsic(spot: float, strike: float, *, call: bool) -> OptionValue:
    value = spot - strike if call else strike - spot
    in_the_money = value > 0.0
    delta = (1.0 if call else -1.0) if in_the_money else 0.0
    return OptionValue(max(value, 0.0), delta, 0.0, 0.0, 0.0)


def _cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))
